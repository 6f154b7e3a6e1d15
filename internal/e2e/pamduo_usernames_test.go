//go:build linux

package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// TestPamDuoDomainUsername: pam_duo (pamtester) sends the PAM user as
// typed, EXAMPLE\<name> (a Unix user of that name, as winbind or SSSD
// would provide); with the integration's username normalization "simple"
// it reaches the Assent user <name> (a Duo Mobile HOTP passcode), and the
// auth log names <name>. With "none" the same login is an unknown user.
func TestPamDuoDomainUsername(t *testing.T) {
	t.Parallel()
	requireDuoUnix(t, pamDuoPath, pamtesterPath)
	e := newDuoUnixEnv(t)
	conf := e.writeConf(t, "pam_duo.conf")
	service := pamService(t, conf)
	ctx := testCtx(t)
	simple := "simple"
	if _, err := e.ts.App.Core.UpdateIntegration(ctx, e.ikey, auth.IntegrationUpdate{UsernameNormalization: &simple}); err != nil {
		t.Fatal(err)
	}

	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	name := "apd" + hex.EncodeToString(rnd[:])
	domainName := `EXAMPLE\` + name
	shadow(t, "useradd", "--badname", "-M", "-s", "/bin/false", domainName)
	t.Cleanup(func() { shadow(t, "userdel", domainName) })
	e.ts.user(t, name, 0)
	_, secret := e.phone(t, name, "test phone")

	r := runPiped(t, hotpPasscode(t, secret, 0)+"\n", pamtesterPath, "-I", "rhost="+pamRHost, service, domainName, "authenticate")
	if r.code != 0 || !strings.Contains(r.out, "successfully authenticated") {
		t.Errorf("pamtester as %s under simple: exit %d:\n%s", domainName, r.code, r.out)
	}
	u := e.ts.userRecord(t, name)
	rows, err := e.ts.App.Store.ListAuthLog(ctx, store.AuthLogFilter{UserID: u.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 || rows[0].Username != name || rows[0].Result != "allow" {
		t.Errorf("auth log for %s: %+v, want an allow naming %s", name, rows, name)
	}

	none := "none"
	if _, err := e.ts.App.Core.UpdateIntegration(ctx, e.ikey, auth.IntegrationUpdate{UsernameNormalization: &none}); err != nil {
		t.Fatal(err)
	}
	r = runPiped(t, hotpPasscode(t, secret, 1)+"\n", pamtesterPath, "-I", "rhost="+pamRHost, service, domainName, "authenticate")
	if r.code == 0 {
		t.Errorf("pamtester as %s under none: exit 0, want a failure (an unknown user):\n%s", domainName, r.out)
	}
}

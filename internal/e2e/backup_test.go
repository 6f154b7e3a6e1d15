package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	duoapi "github.com/duosecurity/duo_api_golang"
	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
)

// rfc4226Secret is RFC 4226's test key "12345678901234567890" in hex, and
// rfc4226Codes its HOTP values for counters 0 to 5 (appendix D).
const rfc4226Secret = "3132333435363738393031323334353637383930"

var rfc4226Codes = []string{"755224", "287082", "359152", "969429", "338314", "254676"}

// binClient is duo_api_golang's Auth API client for a server of the
// binary, trusting caFile.
func binClient(t *testing.T, caFile, host, ikey, skey string) *authapi.AuthApi {
	t.Helper()
	pool := testutil.CAPool(t, caFile)
	api := duoapi.NewDuoApi(ikey, skey, host, "assent-e2e",
		duoapi.SetTimeout(20*time.Second),
		duoapi.SetTransport(func(tr *http.Transport) {
			tr.TLSClientConfig = &tls.Config{RootCAs: pool}
			tr.ResponseHeaderTimeout = 20 * time.Second
		}))
	return authapi.NewAuthApi(*api)
}

// loginPasscode runs /auth/v2/auth factor=passcode and returns the result.
func loginPasscode(api *authapi.AuthApi, user, code string) (string, error) {
	res, err := api.Auth("passcode", authapi.AuthUsername(user), authapi.AuthPasscode(code))
	if err != nil {
		return "", err
	}
	if res.Stat != "OK" {
		return "", fmt.Errorf("stat %s", res.Stat)
	}
	return res.Response.Result, nil
}

func wantPasscode(t *testing.T, what string, api *authapi.AuthApi, user, code, want string) {
	t.Helper()
	got, err := loginPasscode(api, user, code)
	if err != nil || got != want {
		t.Errorf("%s: passcode for %s: %q, %v; want %q", what, user, got, err, want)
	}
}

// installation is what the tests put into a server through the CLI.
type installation struct {
	ikey, skey string
	phone      *device.Client
	codes      []string // alice's unused bypass codes
}

// populate creates an Auth API integration, alice with bypass codes, a
// hardware token (RFC 4226's key) and an activated phone for carol.
func populate(t *testing.T, bin string, srv *testutil.Serve, nCodes int) installation {
	t.Helper()
	dd := []string{"--data-dir", srv.DataDir}
	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "VPN", "--json"}, dd...)...).stdout), &in); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, bin, append([]string{"user", "create", "alice"}, dd...)...)
	var codes []string
	for len(codes) < nCodes {
		var bc struct {
			Codes []string `json:"codes"`
		}
		n := min(10, nCodes-len(codes))
		out := mustCLI(t, bin, append([]string{"user", "bypass-codes", "alice", "--count", fmt.Sprint(n), "--preserve-existing", "--json"}, dd...)...).stdout
		if err := json.Unmarshal([]byte(out), &bc); err != nil || len(bc.Codes) != n {
			t.Fatalf("bypass codes: %v\n%s", err, out)
		}
		codes = append(codes, bc.Codes...)
	}
	mustCLI(t, bin, append([]string{"token", "add", "--type", "h6", "--serial", "HW-1", "--secret", rfc4226Secret}, dd...)...)
	mustCLI(t, bin, append([]string{"token", "assign", "HW-1", "alice"}, dd...)...)
	var en struct {
		Code string `json:"activation_code"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, append([]string{"user", "enroll", "carol", "--json"}, dd...)...).stdout), &en); err != nil {
		t.Fatal(err)
	}
	phone, err := device.Activate(testCtx(t), en.Code, device.ActivateOptions{CAFile: srv.CAFile, Name: "Carol's phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	return installation{ikey: in.IKey, skey: in.SKey, phone: phone, codes: codes}
}

// approvedPush runs a synchronous push for carol and approves it on phone.
func approvedPush(t *testing.T, what string, api *authapi.AuthApi, phone *device.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := assenttest.AnswerNext(ctx, phone, true, 0)
	res, err := api.Auth("push", authapi.AuthUsername("carol"), authapi.AuthDevice("auto"))
	wantAuth(t, what, res, err, "allow", "allow", "Success. Logging you in...")
	assenttest.Received(t, ch)
}

// copyDir copies the regular files of src into dst (the TLS folder of a
// data directory).
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBackupRestoreBinary: assent backup of a running server while
// passcode logins go on, restored with assent restore into a new data
// directory: the integration, users, device, token and counters are there,
// used codes stay used and new logins work.
func TestBackupRestoreBinary(t *testing.T) {
	t.Parallel()
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{})
	mustCLI(t, bin, "user", "create", "bob", "--data-dir", srv.DataDir)
	inst := populate(t, bin, srv, 20)
	api := binClient(t, srv.CAFile, srv.Host, inst.ikey, inst.skey)

	// Before the backup: bypass codes, a hardware-token code and phone
	// HOTP codes are used.
	usedBefore := inst.codes[:5]
	for _, c := range usedBefore {
		wantPasscode(t, "before the backup", api, "alice", c, "allow")
	}
	wantPasscode(t, "token before the backup", api, "alice", rfc4226Codes[0], "allow")
	var phoneUsed []string
	for range 2 {
		code, err := inst.phone.Passcode()
		if err != nil {
			t.Fatal(err)
		}
		wantPasscode(t, "phone before the backup", api, "carol", code, "allow")
		phoneUsed = append(phoneUsed, code)
	}

	// A load of passcode logins while the backup is taken: bob's bypass
	// code has unlimited uses, so the load lasts as long as the backup.
	var bob struct {
		Codes []string `json:"codes"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, "user", "bypass-codes", "bob", "--count", "1", "--uses", "0", "--json", "--data-dir", srv.DataDir).stdout), &bob); err != nil {
		t.Fatal(err)
	}
	var (
		allowed atomic.Int64
		wg      sync.WaitGroup
		stop    atomic.Bool
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if r, err := loginPasscode(api, "bob", bob.Codes[0]); err != nil || r != "allow" {
					t.Errorf("load login: %q, %v", r, err)
					return
				}
				allowed.Add(1)
			}
		}()
	}
	for allowed.Load() < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	file := filepath.Join(t.TempDir(), "assent.backup")
	keyFile := filepath.Join(t.TempDir(), "backup.key")
	mustCLI(t, bin, "backup-keygen", keyFile)
	r := mustCLI(t, bin, "backup", file, "--key-file", keyFile, "--include-master-key", "--json", "--data-dir", srv.DataDir)
	during := allowed.Load()
	stop.Store(true)
	wg.Wait()
	var b struct {
		Tables []struct {
			Table string `json:"table"`
			Rows  int64  `json:"rows"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &b); err != nil {
		t.Fatalf("backup --json: %v\n%s", err, r.stdout)
	}
	rows := map[string]int64{}
	for _, c := range b.Tables {
		rows[c.Table] = c.Rows
	}
	if rows["integrations"] != 1 || rows["users"] != 3 || rows["devices"] != 1 || rows["tokens"] != 1 || rows["bypass_codes"] < 16 || rows["auth_log"] < 28 {
		t.Errorf("backup rows %v", rows)
	}
	t.Logf("%d load logins were done when the backup finished; backup rows %v", during, rows)
	srv.Stop()

	// Restore into a new data directory: a wrong key is refused clearly,
	// the right one restores (the master key comes from the backup).
	newDir := filepath.Join(t.TempDir(), "restored")
	otherKey := filepath.Join(t.TempDir(), "other.key")
	mustCLI(t, bin, "backup-keygen", otherKey)
	if r := runCLI(t, bin, "restore", file, "--key-file", otherKey, "--data-dir", newDir); r.code == 0 || !strings.Contains(r.stderr, "cannot decrypt the backup") {
		t.Errorf("restore with another key: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, bin, "restore", file, "--data-dir", newDir); r.code == 0 || !strings.Contains(r.stderr, "encrypted") {
		t.Errorf("restore without the key: exit %d, stderr %q", r.code, r.stderr)
	}
	mustCLI(t, bin, "restore", file, "--key-file", keyFile, "--data-dir", newDir)
	if r := runCLI(t, bin, "restore", file, "--key-file", keyFile, "--data-dir", newDir); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("restore into a non-empty directory: exit %d, stderr %q", r.code, r.stderr)
	}
	// The phone trusts the old server's CA: the TLS folder moves too
	// (docs/backup.md).
	copyDir(t, filepath.Join(srv.DataDir, "tls"), filepath.Join(newDir, "tls"))
	srv2 := testutil.StartServe(t, bin, testutil.ServeOptions{DataDir: newDir, Port: srv.Port})
	api = binClient(t, srv2.CAFile, srv2.Host, inst.ikey, inst.skey)

	dd := []string{"--data-dir", newDir}
	if out := mustCLI(t, bin, append([]string{"user", "devices", "carol", "--json"}, dd...)...).stdout; !strings.Contains(out, inst.phone.PKey) {
		t.Errorf("carol's devices after restore: %s", out)
	}
	if out := mustCLI(t, bin, append([]string{"token", "list"}, dd...)...).stdout; !strings.Contains(out, "HW-1") || !strings.Contains(out, "alice") {
		t.Errorf("tokens after restore:\n%s", out)
	}
	// Used codes stay used; counters are where they were.
	for _, c := range usedBefore {
		wantPasscode(t, "a bypass code used before the backup", api, "alice", c, "deny")
	}
	wantPasscode(t, "a token code used before the backup", api, "alice", rfc4226Codes[0], "deny")
	for _, c := range phoneUsed {
		wantPasscode(t, "a phone code used before the backup", api, "carol", c, "deny")
	}
	// New logins work: an unused bypass code, the token's next code, the
	// phone's next code and a push to the phone.
	wantPasscode(t, "an unused bypass code", api, "alice", inst.codes[len(inst.codes)-1], "allow")
	wantPasscode(t, "the token's next code", api, "alice", rfc4226Codes[1], "allow")
	code, err := inst.phone.Passcode()
	if err != nil {
		t.Fatal(err)
	}
	wantPasscode(t, "the phone's next code", api, "carol", code, "allow")
	approvedPush(t, "push after restore", api, inst.phone)
}

// TestMigrateDataBinary: an installation moved from SQLite to PostgreSQL
// with assent migrate-data, served from PostgreSQL, and moved back: the
// phone activated before the move approves pushes after each, HOTP
// counters and used codes are carried over, the integration keeps its keys.
func TestMigrateDataBinary(t *testing.T) {
	t.Parallel()
	dsn := createPostgresDB(t)
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{})
	inst := populate(t, bin, srv, 10)
	api := binClient(t, srv.CAFile, srv.Host, inst.ikey, inst.skey)
	approvedPush(t, "push before the move", api, inst.phone)
	wantPasscode(t, "bypass code before the move", api, "alice", inst.codes[0], "allow")
	wantPasscode(t, "token before the move", api, "alice", rfc4226Codes[0], "allow")
	phoneCode, err := inst.phone.Passcode()
	if err != nil {
		t.Fatal(err)
	}
	wantPasscode(t, "phone code before the move", api, "carol", phoneCode, "allow")
	srv.Stop()

	sqlitePath := filepath.Join(srv.DataDir, "assent.db")
	mustCLI(t, bin, "migrate-data", "--from", "sqlite:"+sqlitePath, "--to", dsn)
	if r := runCLI(t, bin, "migrate-data", "--from", "sqlite:"+sqlitePath, "--to", dsn); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("migrate-data into a full database: exit %d, stderr %q", r.code, r.stderr)
	}

	// Served from PostgreSQL, with the same data directory (master key,
	// CA) and address.
	pg := testutil.StartServe(t, bin, testutil.ServeOptions{DataDir: srv.DataDir, Port: srv.Port, Args: []string{"--database-url", dsn}})
	check := func(what string, step int) {
		t.Helper()
		approvedPush(t, "push "+what, api, inst.phone)
		wantPasscode(t, "used bypass code "+what, api, "alice", inst.codes[step-1], "deny")
		wantPasscode(t, "new bypass code "+what, api, "alice", inst.codes[step], "allow")
		wantPasscode(t, "used token code "+what, api, "alice", rfc4226Codes[step-1], "deny")
		wantPasscode(t, "next token code "+what, api, "alice", rfc4226Codes[step], "allow")
		wantPasscode(t, "used phone code "+what, api, "carol", phoneCode, "deny")
		code, err := inst.phone.Passcode()
		if err != nil {
			t.Fatal(err)
		}
		wantPasscode(t, "next phone code "+what, api, "carol", code, "allow")
		phoneCode = code
	}
	check("on PostgreSQL", 1)
	// The administrator log goes on after the copied rows (the identity
	// sequence was moved past them).
	mustCLI(t, bin, "user", "create", "dave", "--data-dir", srv.DataDir, "--database-url", dsn)
	pg.Stop()

	// And back to SQLite, in a new data directory.
	back := filepath.Join(t.TempDir(), "back")
	mustCLI(t, bin, "migrate-data", "--from", dsn, "--to", "sqlite:"+filepath.Join(back, "assent.db"))
	key, err := os.ReadFile(filepath.Join(srv.DataDir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(back, "master.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	copyDir(t, filepath.Join(srv.DataDir, "tls"), filepath.Join(back, "tls"))
	testutil.StartServe(t, bin, testutil.ServeOptions{DataDir: back, Port: srv.Port})
	check("back on SQLite", 2)
	if out := mustCLI(t, bin, "user", "list", "--data-dir", back).stdout; !strings.Contains(out, "dave") {
		t.Errorf("user list back on SQLite:\n%s", out)
	}
}

// TestBackupRestorePostgresBinary: assent backup of a server running on
// PostgreSQL (the Assent-level export) restored into another, empty
// PostgreSQL database, which then serves the same phone and codes.
func TestBackupRestorePostgresBinary(t *testing.T) {
	t.Parallel()
	dsn, dsn2 := createPostgresDB(t), createPostgresDB(t)
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	srv := testutil.StartServe(t, bin, testutil.ServeOptions{Args: []string{"--database-url", dsn}})
	dbFlags := func(d string) []string { return []string{"--data-dir", srv.DataDir, "--database-url", d} }
	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "VPN", "--json"}, dbFlags(dsn)...)...).stdout), &in); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, bin, append([]string{"user", "create", "alice"}, dbFlags(dsn)...)...)
	var bc struct {
		Codes []string `json:"codes"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, append([]string{"user", "bypass-codes", "alice", "--count", "3", "--json"}, dbFlags(dsn)...)...).stdout), &bc); err != nil {
		t.Fatal(err)
	}
	var en struct {
		Code string `json:"activation_code"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, bin, append([]string{"user", "enroll", "carol", "--json"}, dbFlags(dsn)...)...).stdout), &en); err != nil {
		t.Fatal(err)
	}
	phone, err := device.Activate(testCtx(t), en.Code, device.ActivateOptions{CAFile: srv.CAFile, Name: "Carol's phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	api := binClient(t, srv.CAFile, srv.Host, in.IKey, in.SKey)
	wantPasscode(t, "before the backup", api, "alice", bc.Codes[0], "allow")
	approvedPush(t, "push before the backup", api, phone)

	keyFile := filepath.Join(t.TempDir(), "backup.key")
	mustCLI(t, bin, "backup-keygen", keyFile)
	file := filepath.Join(t.TempDir(), "pg.backup")
	if out := mustCLI(t, bin, append([]string{"backup", file, "--key-file", keyFile}, dbFlags(dsn)...)...).stdout; !strings.Contains(out, "postgres database") {
		t.Errorf("backup of PostgreSQL: %s", out)
	}
	srv.Stop()

	mustCLI(t, bin, append([]string{"restore", file, "--key-file", keyFile}, dbFlags(dsn2)...)...)
	if r := runCLI(t, bin, append([]string{"restore", file, "--key-file", keyFile}, dbFlags(dsn2)...)...); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("restore into a full database: exit %d, stderr %q", r.code, r.stderr)
	}
	testutil.StartServe(t, bin, testutil.ServeOptions{DataDir: srv.DataDir, Port: srv.Port, Args: []string{"--database-url", dsn2}})
	wantPasscode(t, "a code used before the backup", api, "alice", bc.Codes[0], "deny")
	wantPasscode(t, "an unused code", api, "alice", bc.Codes[1], "allow")
	approvedPush(t, "push after restore", api, phone)
}

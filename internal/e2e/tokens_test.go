package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duosecurity/duo_api_golang/authapi"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/yubiotp"
)

// Authenticator apps and hardware tokens, with codes computed by Debian's
// oathtool from the same secrets (test-partners: oathtool).

// oathtool runs Debian's oathtool and returns the code it prints.
func oathtool(t *testing.T, args ...string) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	testutil.Require(t, "oathtool (Debian package oathtool)", err == nil)
	out, err := exec.Command(path, args...).Output()
	if err != nil {
		t.Fatalf("oathtool %s: %v", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out))
}

// otherCode is a code of the same length that is not code.
func otherCode(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%0*d", len(code), (n+500001)%1000000)
}

// tokenSource is an app or token of a user, and oathtool's codes for it.
type tokenSource struct {
	name   string
	factor string // the auth log's factor for its codes
	// add gives user the app or token and returns its hex secret.
	add func(t *testing.T, ts *testServer, user string) string
	// codes returns a current code and an old one (spent or out of the window).
	codes func(t *testing.T, hexSecret string) (current, old string)
}

var tokenSources = []tokenSource{
	{
		name: "totp_app", factor: "totp_app",
		add: func(t *testing.T, ts *testServer, user string) string {
			enr, err := ts.App.Core.AddTOTPApp(testCtx(t), user, auth.NewTOTPApp{Confirmed: true})
			if err != nil {
				t.Fatal(err)
			}
			return hex.EncodeToString(enr.Secret)
		},
		codes: func(t *testing.T, secret string) (string, string) {
			twoStepsAgo := time.Now().Add(-60 * time.Second).UTC().Format(time.RFC3339)
			return oathtool(t, "--totp", "-s", "30", "-d", "6", secret),
				oathtool(t, "--totp", "-s", "30", "-d", "6", "-N", twoStepsAgo, secret)
		},
	},
	{
		name: "h6", factor: "hardware_token",
		add: func(t *testing.T, ts *testServer, user string) string {
			secret := make([]byte, 20)
			_, _ = rand.Read(secret)
			serial := "E2E-" + user
			_, err := ts.App.Core.AddTokens(testCtx(t), []auth.NewToken{{Kind: store.TokenH6, Serial: serial, Secret: secret}})
			if err == nil {
				_, err = ts.App.Core.AssignToken(testCtx(t), serial, user)
			}
			if err != nil {
				t.Fatal(err)
			}
			return hex.EncodeToString(secret)
		},
		codes: func(t *testing.T, secret string) (string, string) {
			// Code 2 (inside the look-ahead window) spends codes 0 and 1.
			return oathtool(t, "-c", "2", secret), oathtool(t, "-c", "0", secret)
		},
	},
	{
		// A YubiKey's OTPs, generated with its AES key as the key would
		// type them ("secret" is public ID:private ID:AES key, hex).
		name: "yk", factor: "yubikey_code",
		add: func(t *testing.T, ts *testServer, user string) string {
			private, key := make([]byte, 6), make([]byte, 16)
			_, _ = rand.Read(private)
			_, _ = rand.Read(key)
			public := yubiotp.ModhexEncode([]byte{0xff, 0, 0, 0, byte(len(user)), 1})
			serial := "YK-" + user
			_, err := ts.App.Core.AddTokens(testCtx(t), []auth.NewToken{{Kind: store.TokenYubiKey, Serial: serial,
				PublicID: public, PrivateID: private, AESKey: key}})
			if err == nil {
				_, err = ts.App.Core.AssignToken(testCtx(t), serial, user)
			}
			if err != nil {
				t.Fatal(err)
			}
			return public + ":" + hex.EncodeToString(private) + ":" + hex.EncodeToString(key)
		},
		codes: func(t *testing.T, secret string) (string, string) {
			parts := strings.Split(secret, ":")
			private, _ := hex.DecodeString(parts[1])
			key, _ := hex.DecodeString(parts[2])
			gen := func(use uint16, session uint8) string {
				tok := yubiotp.Token{UseCounter: use, SessionCounter: session, Timestamp: 0x123456}
				copy(tok.PrivateID[:], private)
				otp, err := yubiotp.Generate(parts[0], key, tok)
				if err != nil {
					t.Fatal(err)
				}
				return otp
			}
			// The second OTP of the 7th power-up; then one of the 6th.
			return gen(7, 1), gen(6, 20)
		},
	},
}

// TestTokenPasscodes: the Auth API, signed by duo_api_golang (on SQLite
// and PostgreSQL) and by Debian's python3-duo-client, accepts a current
// code of an authenticator app, of an HOTP token (codes from oathtool) and
// of a YubiKey (OTPs generated with its AES key), and refuses the same code
// twice, an old one and a wrong one.
func TestTokenPasscodes(t *testing.T) {
	t.Parallel()
	want := []string{"allow", "deny", "deny", "deny"} // current, again, old, wrong
	type client struct {
		name   string
		engine Engine
		// try sends the passcodes in order and returns each result, after
		// checking preauth lists the token.
		try func(t *testing.T, ts *testServer, ikey, skey, user string, codes []string) []string
	}
	clients := []client{
		{"duo_api_golang", SQLite, tryGo},
		{"duo_api_golang", Postgres, tryGo},
		{"python3-duo-client", SQLite, tryPython},
	}
	for _, c := range clients {
		t.Run(c.name+"/"+string(c.engine), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, serverOptions{engine: c.engine})
			ikey, skey := ts.authAPI(t)
			for _, src := range tokenSources {
				t.Run(src.name, func(t *testing.T) {
					user := "tok-" + src.name
					ts.user(t, user, 0)
					secret := src.add(t, ts, user)
					current, old := src.codes(t, secret)
					got := c.try(t, ts, ikey, skey, user, []string{current, current, old, otherCode(current)})
					if strings.Join(got, " ") != strings.Join(want, " ") {
						t.Errorf("current, again, old, wrong: %v, want %v", got, want)
					}
					logs, err := ts.App.Store.ListAuthLog(testCtx(t), store.AuthLogFilter{UserID: ts.userRecord(t, user).ID})
					if err != nil || len(logs) != 4 {
						t.Fatalf("auth log: %d rows, %v", len(logs), err)
					}
					if l := logs[3]; l.Factor != src.factor || !strings.HasPrefix(l.Device, "DH") || l.Reason != "valid_passcode" {
						t.Errorf("auth log of the accepted code: factor %q device %q reason %q", l.Factor, l.Device, l.Reason)
					}
				})
			}
		})
	}
}

func tryGo(t *testing.T, ts *testServer, ikey, skey, user string, codes []string) []string {
	api := goClient(t, ts, ikey, skey, ts.Host)
	pre, err := api.Preauth(authapi.PreauthUsername(user))
	wantPreauth(t, "preauth", pre, err, "auth")
	if d := pre.Response.Devices; len(d) != 1 || d[0].Type != "token" || !strings.HasPrefix(d[0].Device, "DH") {
		t.Errorf("preauth devices: %+v, want one token", d)
	}
	var out []string
	for _, code := range codes {
		res, err := api.Auth("passcode", authapi.AuthUsername(user), authapi.AuthPasscode(code))
		if res == nil {
			t.Fatalf("auth: %v", err)
		}
		wantOK(t, "auth", res.StatResult, err)
		out = append(out, res.Response.Result)
	}
	return out
}

func tryPython(t *testing.T, ts *testServer, ikey, skey, user string, codes []string) []string {
	py := testutil.Python3(t)
	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_passcodes.py"))
	if err != nil {
		t.Fatal(err)
	}
	var calls []pyCall
	runJSON(t, 60*time.Second, &calls, py, append([]string{script}, codes...), []string{
		"DUO_IKEY=" + ikey, "DUO_SKEY=" + skey, "DUO_HOST=localhost", "DUO_PORT=" + strconv.Itoa(ts.Port),
		"DUO_CA=" + ts.CAFile, "DUO_USERNAME=" + user,
	}, "")
	if len(calls) != len(codes)+1 {
		t.Fatalf("python printed %d answers, want %d", len(calls), len(codes)+1)
	}
	var pre struct {
		Result  string `json:"result"`
		Devices []struct {
			Device string `json:"device"`
			Type   string `json:"type"`
		} `json:"devices"`
	}
	calls[0].decode(t, "preauth", &pre)
	if pre.Result != "auth" || len(pre.Devices) != 1 || pre.Devices[0].Type != "token" {
		t.Errorf("preauth: %+v", pre)
	}
	var out []string
	for i, c := range calls[1:] {
		var a pyAuth
		c.decode(t, fmt.Sprintf("auth %d", i+1), &a)
		out = append(out, a.Result)
	}
	return out
}

// TestPamDuoTOTP: pam_duo (Debian's libpam-duo, the legacy v1 API) through
// pamtester accepts a current oathtool code of an authenticator app once;
// the same code again is refused.
func TestPamDuoTOTP(t *testing.T) {
	t.Parallel()
	requireDuoUnix(t, pamDuoPath, pamtesterPath)
	e := newDuoUnixEnv(t)
	service := pamService(t, e.writeConf(t, "pam_duo.conf"))
	name := unixUser(t)
	e.ts.user(t, name, 0)
	secret := tokenSources[0].add(t, e.ts, name)
	code := oathtool(t, "--totp", "-s", "30", "-d", "6", secret)
	for i, ok := range []bool{true, false} {
		// One line: a refused code's retry then ends at end of input.
		r := runPiped(t, code+"\n", pamtesterPath, "-I", "rhost="+pamRHost, service, name, "authenticate")
		if ok != (r.code == 0 && strings.Contains(r.out, "successfully authenticated")) {
			t.Errorf("attempt %d: pamtester exit %d, want success %v:\n%s", i+1, r.code, ok, r.out)
		}
	}
	if rows, err := e.ts.App.Store.ListAuthLog(testCtx(t), store.AuthLogFilter{UserID: e.ts.userRecord(t, name).ID}); err != nil ||
		len(rows) != 2 || rows[1].Factor != "totp_app" || rows[0].Reason != "invalid_passcode" {
		t.Errorf("auth log: %+v, %v", rows, err)
	}
}

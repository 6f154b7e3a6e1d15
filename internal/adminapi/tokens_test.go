package adminapi_test

import (
	"encoding/hex"
	"encoding/json"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil/assenttest"
	"github.com/assent-auth/assent/internal/yubiotp"
)

// rfc4226 are the HOTP codes of RFC 4226 appendix D for counters 0 to 9
// (secret "12345678901234567890").
var rfc4226 = []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}

const rfc4226Secret = "3132333435363738393031323334353637383930"

type tokenResp struct {
	TokenID  string `json:"token_id"`
	Type     string `json:"type"`
	Serial   string `json:"serial"`
	TotpStep *int   `json:"totp_step"`
	Admins   []any  `json:"admins"`
	Users    []struct {
		UserID   string `json:"user_id"`
		Username string `json:"username"`
	} `json:"users"`
}

func decode[T any](t *testing.T, raw json.RawMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return v
}

// adminActions lists the administrator log's actions, oldest first.
func adminActions(t *testing.T, s *assenttest.Server) []string {
	t.Helper()
	rows, err := s.App.Store.ListAdminLog(t.Context(), time.Time{}, time.Now().Add(time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows {
		out = append(out, r.Action)
	}
	return out
}

// TestHardwareTokens drives Duo's token endpoints: an HOTP token created,
// found, assigned, used through the Auth API with RFC 4226 codes,
// resynchronized with three codes, unassigned and deleted, each write in
// the administrator log.
func TestHardwareTokens(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource, store.GrantWriteResource)
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	u, err := s.App.Core.CreateUser(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	adm := func(method, path string, p url.Values) (int, envelope) {
		t.Helper()
		return call(t, s, ikey, skey, 2, method, path, p)
	}
	login := func(code string) string {
		t.Helper()
		st, e := call(t, s, aikey, askey, 2, "POST", "/auth/v2/auth", url.Values{"username": {"alice"}, "factor": {"passcode"}, "passcode": {code}})
		if st != 200 {
			t.Fatalf("auth: %d %+v", st, e)
		}
		return decode[struct {
			Result string `json:"result"`
		}](t, e.Response).Result
	}

	// Refusals of creation.
	for _, tc := range []struct {
		name string
		p    url.Values
	}{
		{"no type", url.Values{"serial": {"x"}, "secret": {rfc4226Secret}}},
		{"bad type", url.Values{"type": {"d1"}, "serial": {"x"}, "secret": {rfc4226Secret}}},
		{"no serial", url.Values{"type": {"h6"}, "secret": {rfc4226Secret}}},
		{"secret not hex", url.Values{"type": {"h6"}, "serial": {"x"}, "secret": {"zz"}}},
		{"short secret", url.Values{"type": {"h6"}, "serial": {"x"}, "secret": {"3132"}}},
		{"counter on totp", url.Values{"type": {"t6"}, "serial": {"x"}, "secret": {rfc4226Secret}, "counter": {"1"}}},
		{"totp_step on hotp", url.Values{"type": {"h6"}, "serial": {"x"}, "secret": {rfc4226Secret}, "totp_step": {"30"}}},
		{"yk without keys", url.Values{"type": {"yk"}, "serial": {"cccccccccccb"}}},
	} {
		if st, e := adm("POST", "/admin/v1/tokens", tc.p); st != 400 || e.Code != 40002 {
			t.Errorf("%s: %d %+v, want 400/40002", tc.name, st, e)
		}
	}

	st, e := adm("POST", "/admin/v1/tokens", url.Values{"type": {"h6"}, "serial": {"H-1"}, "secret": {rfc4226Secret}})
	if st != 200 {
		t.Fatalf("create: %d %+v", st, e)
	}
	tok := decode[tokenResp](t, e.Response)
	if tok.Type != "h6" || tok.Serial != "H-1" || tok.TotpStep != nil || len(tok.Users) != 0 || tok.Admins == nil || len(tok.TokenID) != 20 {
		t.Fatalf("created %+v", tok)
	}
	if st, e := adm("POST", "/admin/v1/tokens", url.Values{"type": {"h6"}, "serial": {"H-1"}, "secret": {rfc4226Secret}}); st == 200 {
		t.Fatalf("duplicate serial accepted: %+v", e)
	}
	st, e = adm("POST", "/admin/v1/tokens", url.Values{"type": {"t8"}, "serial": {"T-1"}, "secret": {rfc4226Secret}, "totp_step": {"60"}})
	if totp := decode[tokenResp](t, e.Response); st != 200 || totp.TotpStep == nil || *totp.TotpStep != 60 {
		t.Fatalf("create t8: %d %s", st, e.Response)
	}

	// Found by ID, in the list, and by type and serial.
	if st, e := adm("GET", "/admin/v1/tokens/"+tok.TokenID, nil); st != 200 || decode[tokenResp](t, e.Response).Serial != "H-1" {
		t.Fatalf("get: %d %+v", st, e)
	}
	if st, _ := adm("GET", "/admin/v1/tokens/DHXXXXXXXXXXXXXXXXXX", nil); st != 404 {
		t.Fatalf("get unknown: %d", st)
	}
	_, e = adm("GET", "/admin/v1/tokens", nil)
	if list := decode[[]tokenResp](t, e.Response); len(list) != 2 || list[0].Serial != "H-1" || list[1].Serial != "T-1" {
		t.Fatalf("list %s", e.Response)
	}
	_, e = adm("GET", "/admin/v1/tokens", url.Values{"limit": {"1"}, "offset": {"1"}})
	if list := decode[[]tokenResp](t, e.Response); len(list) != 1 || list[0].Serial != "T-1" {
		t.Fatalf("page %s", e.Response)
	}
	for _, tc := range []struct {
		typ  string
		want int
	}{{"h6", 1}, {"h8", 0}} {
		_, e = adm("GET", "/admin/v1/tokens", url.Values{"type": {tc.typ}, "serial": {"H-1"}})
		if list := decode[[]tokenResp](t, e.Response); len(list) != tc.want {
			t.Fatalf("by %s serial: %s", tc.typ, e.Response)
		}
	}

	// Unassigned, the token's codes do not log alice in.
	if got := login(rfc4226[0]); got != "deny" {
		t.Fatalf("unassigned token: %s", got)
	}
	if st, e := adm("POST", "/admin/v1/users/"+u.ID+"/tokens", url.Values{"token_id": {tok.TokenID}}); st != 200 {
		t.Fatalf("assign: %d %+v", st, e)
	}
	_, e = adm("GET", "/admin/v1/users/"+u.ID+"/tokens", nil)
	if list := decode[[]tokenResp](t, e.Response); len(list) != 1 || list[0].TokenID != tok.TokenID || list[0].Users[0].Username != "alice" {
		t.Fatalf("user tokens %s", e.Response)
	}
	_, e = adm("GET", "/admin/v1/users/"+u.ID, nil)
	if got := decode[struct {
		Tokens     []tokenResp `json:"tokens"`
		IsEnrolled bool        `json:"is_enrolled"`
	}](t, e.Response); len(got.Tokens) != 1 || got.Tokens[0].Serial != "H-1" || !got.IsEnrolled {
		t.Fatalf("user %s", e.Response)
	}
	if got := login(rfc4226[1]); got != "allow" {
		t.Fatalf("code 1: %s", got)
	}
	if got := login(rfc4226[1]); got != "deny" {
		t.Fatal("a spent code logged in again")
	}

	// Resync: three consecutive codes move the counter past them.
	if st, e := adm("POST", "/admin/v1/tokens/"+tok.TokenID+"/resync", url.Values{"code1": {rfc4226[5]}, "code2": {rfc4226[6]}, "code3": {rfc4226[8]}}); st != 400 {
		t.Fatalf("resync with a gap: %d %+v", st, e)
	}
	if st, _ := adm("POST", "/admin/v1/tokens/"+tok.TokenID+"/resync", url.Values{"code1": {rfc4226[5]}, "code2": {rfc4226[6]}}); st != 400 {
		t.Fatalf("resync without code3: %d", st)
	}
	if st, e := adm("POST", "/admin/v1/tokens/"+tok.TokenID+"/resync", url.Values{"code1": {rfc4226[5]}, "code2": {rfc4226[6]}, "code3": {rfc4226[7]}}); st != 200 {
		t.Fatalf("resync: %d %+v", st, e)
	}
	if got := login(rfc4226[7]); got != "deny" {
		t.Fatal("a resync code logged in")
	}
	if got := login(rfc4226[8]); got != "allow" {
		t.Fatalf("code after resync: %s", got)
	}

	// Unassign (only through its user), then delete (twice: "" both times).
	if st, _ := adm("DELETE", "/admin/v1/users/"+u.ID+"/tokens/DHXXXXXXXXXXXXXXXXXX", nil); st != 404 {
		t.Fatalf("unassign unknown: %d", st)
	}
	if st, e := adm("DELETE", "/admin/v1/users/"+u.ID+"/tokens/"+tok.TokenID, nil); st != 200 {
		t.Fatalf("unassign: %d %+v", st, e)
	}
	if got := login(rfc4226[9]); got != "deny" {
		t.Fatal("an unassigned token's code logged in")
	}
	for range 2 {
		if st, e := adm("DELETE", "/admin/v1/tokens/"+tok.TokenID, nil); st != 200 || string(e.Response) != `""` {
			t.Fatalf("delete: %d %+v", st, e)
		}
	}
	if st, _ := adm("GET", "/admin/v1/tokens/"+tok.TokenID, nil); st != 404 {
		t.Fatalf("deleted token found: %d", st)
	}

	want := []string{"hardtoken_create", "hardtoken_create", "hardtoken_update", "hardtoken_resync", "hardtoken_update", "hardtoken_delete"}
	var got []string
	for _, a := range adminActions(t, s) {
		if a != "integration_create" && a != "user_create" {
			got = append(got, a)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("administrator log %v, want %v", got, want)
	}
}

// TestWebAuthnCredentials lists, reads and deletes a user's security keys
// in Duo's shape.
func TestWebAuthnCredentials(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource, store.GrantWriteResource)
	u, err := s.App.Core.CreateUser(t.Context(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Unix(1_800_000_000, 0)
	for i, c := range []store.WebAuthnCredential{
		{ID: "DWAAAAAAAAAAAAAAAAA1", Name: "YubiKey 5", CredentialID: []byte{1}},
		{ID: "DWAAAAAAAAAAAAAAAAA2", Name: "Phone", CredentialID: []byte{2}, BackupEligible: true},
	} {
		c.UserID, c.PublicKey, c.Created = u.ID, []byte{0xa0}, created.Add(time.Duration(i)*time.Second)
		if err := s.App.Store.CreateWebAuthnCredential(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	type cred struct {
		Name  string `json:"credential_name"`
		Added int64  `json:"date_added"`
		Label string `json:"label"`
		Key   string `json:"webauthnkey"`
		User  *struct {
			Username string `json:"username"`
		} `json:"user"`
	}
	adm := func(method, path string) (int, envelope) {
		t.Helper()
		return call(t, s, ikey, skey, 2, method, path, nil)
	}
	_, e := adm("GET", "/admin/v1/users/"+u.ID+"/webauthncredentials")
	if l := decode[[]cred](t, e.Response); len(l) != 2 || l[0].Name != "YubiKey 5" || l[0].Label != "Security Key" || l[1].Label != "Passkey" || l[0].Added != 1_800_000_000 {
		t.Fatalf("user list %s", e.Response)
	}
	_, e = adm("GET", "/admin/v1/webauthncredentials")
	if l := decode[[]cred](t, e.Response); len(l) != 2 || l[1].User == nil || l[1].User.Username != "bob" {
		t.Fatalf("list %s", e.Response)
	}
	_, e = adm("GET", "/admin/v1/users/"+u.ID)
	if got := decode[struct {
		Creds      []cred `json:"webauthncredentials"`
		IsEnrolled bool   `json:"is_enrolled"`
	}](t, e.Response); len(got.Creds) != 2 || !got.IsEnrolled {
		t.Fatalf("user %s", e.Response)
	}
	if st, e := adm("GET", "/admin/v1/webauthncredentials/DWAAAAAAAAAAAAAAAAA1"); st != 200 || decode[cred](t, e.Response).Key != "DWAAAAAAAAAAAAAAAAA1" {
		t.Fatalf("get: %d %+v", st, e)
	}
	for range 2 {
		if st, e := adm("DELETE", "/admin/v1/webauthncredentials/DWAAAAAAAAAAAAAAAAA1"); st != 200 || string(e.Response) != `""` {
			t.Fatalf("delete: %d %+v", st, e)
		}
	}
	if st, _ := adm("GET", "/admin/v1/webauthncredentials/DWAAAAAAAAAAAAAAAAA1"); st != 404 {
		t.Fatalf("deleted credential: %d", st)
	}
	_, e = adm("GET", "/admin/v1/webauthncredentials")
	if l := decode[[]cred](t, e.Response); len(l) != 1 {
		t.Fatalf("after delete %s", e.Response)
	}
	if !slices.Contains(adminActions(t, s), "webauthncredential_delete") {
		t.Fatalf("no administrator-log row: %v", adminActions(t, s))
	}
}

// TestYubiKeyToken: a YubiKey added through the Admin API (its modhex
// serial as the public ID, as Duo's add_yubikey_token sends it), assigned,
// logs in once with an OTP made with its AES key.
func TestYubiKeyToken(t *testing.T) {
	s := assenttest.Start(t, assenttest.Options{})
	ikey, skey := integration(t, s, store.TypeAdminAPI, store.GrantReadResource, store.GrantWriteResource)
	aikey, askey := integration(t, s, store.TypeAuthAPI)
	u, err := s.App.Core.CreateUser(t.Context(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	const public, private, key = "vvccccfiluij", "010203040506", "000102030405060708090a0b0c0d0e0f"
	st, e := call(t, s, ikey, skey, 2, "POST", "/admin/v1/tokens", url.Values{"type": {"yk"}, "serial": {public},
		"private_id": {private}, "aes_key": {key}})
	tok := decode[tokenResp](t, e.Response)
	if st != 200 || tok.Type != "yk" || tok.Serial != public || tok.TotpStep != nil {
		t.Fatalf("create yk: %d %s", st, e.Response)
	}
	if st, e := call(t, s, ikey, skey, 2, "POST", "/admin/v1/tokens", url.Values{"type": {"yk"}, "serial": {"5551234"},
		"private_id": {private}, "aes_key": {key}}); st != 400 || e.Code != 40002 {
		t.Fatalf("yk with a serial that is not modhex and no public_id: %d %+v", st, e)
	}
	if st, e := call(t, s, ikey, skey, 2, "POST", "/admin/v1/users/"+u.ID+"/tokens", url.Values{"token_id": {tok.TokenID}}); st != 200 {
		t.Fatalf("assign: %d %+v", st, e)
	}
	privateID, _ := hex.DecodeString(private)
	aesKey, _ := hex.DecodeString(key)
	yt := yubiotp.Token{UseCounter: 3, SessionCounter: 1, Timestamp: 0x10203}
	copy(yt.PrivateID[:], privateID)
	code, err := yubiotp.Generate(public, aesKey, yt)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"allow", "deny"} {
		_, e := call(t, s, aikey, askey, 2, "POST", "/auth/v2/auth", url.Values{"username": {"carol"}, "factor": {"passcode"}, "passcode": {code}})
		if got := decode[struct {
			Result string `json:"result"`
		}](t, e.Response).Result; got != want {
			t.Fatalf("YubiKey OTP, try %d: %s, want %s", i+1, got, want)
		}
	}
}

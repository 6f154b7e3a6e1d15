package duoweb

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

type vectors struct {
	IKey      string `json:"ikey"`
	WrongIKey string `json:"wrong_ikey"`
	SKey      string `json:"skey"`
	AKey      string `json:"akey"`
	User      string `json:"user"`
	Published struct {
		Invalid        string `json:"invalid_response"`
		Expired        string `json:"expired_response"`
		Future2021     string `json:"future_response_2021"`
		Future         string `json:"future_response"`
		WrongParams    string `json:"wrong_params_response"`
		WrongParamsApp string `json:"wrong_params_app"`
	} `json:"published"`
	Derived struct {
		Now           int64  `json:"now"`
		TX            string `json:"tx"`
		App           string `json:"app"`
		EnrollRequest string `json:"enroll_request"`
		Enroll        string `json:"enroll"`
		Auth          string `json:"auth"`
		UTF8User      string `json:"utf8_user"`
		UTF8Auth      string `json:"utf8_auth"`
		UTF8App       string `json:"utf8_app"`
		OtherAuth     string `json:"other_user_auth"`
	} `json:"derived"`
}

func loadVectors(t testing.TB) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("testdata/vectors.json: %v", err)
	}
	return v
}

func at(unix int64) SDK { return SDK{Now: func() time.Time { return time.Unix(unix, 0) }} }

// TestPublishedVectors replays the checks of Duo's own SDK test suites
// (duo_python, duo_java, duo_php, duo_nodejs) with their constants.
func TestPublishedVectors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	// A clock before 2021-03-14 makes the older suites' FUTURE response
	// valid again; the nodejs one (2041) is valid at both times.
	for _, now := range []int64{1600000000, v.Derived.Now - 1000000} {
		sdk := at(now)
		req, err := sdk.SignRequest(v.IKey, v.SKey, v.AKey, v.User)
		if err != nil {
			t.Fatal(err)
		}
		_, validApp, _ := strings.Cut(req, ":")
		req, err = sdk.SignRequest(v.IKey, v.SKey, strings.Repeat("invalid", 6), v.User)
		if err != nil {
			t.Fatal(err)
		}
		_, invalidApp, _ := strings.Cut(req, ":")

		cases := []struct {
			name, ikey, resp string
			user             string // "" = must fail
			err              error
		}{
			{"invalid response", v.IKey, v.Published.Invalid + ":" + validApp, "", ErrInvalid},
			{"expired", v.IKey, v.Published.Expired + ":" + validApp, "", ErrExpired},
			{"future, invalid app sig", v.IKey, v.Published.Future + ":" + invalidApp, "", ErrInvalid},
			{"future", v.IKey, v.Published.Future + ":" + validApp, v.User, nil},
			{"wrong params response", v.IKey, v.Published.WrongParams + ":" + validApp, "", ErrInvalid},
			{"wrong params app", v.IKey, v.Published.Future + ":" + v.Published.WrongParamsApp, "", ErrInvalid},
			{"wrong ikey", v.WrongIKey, v.Published.Future + ":" + validApp, "", ErrInvalid},
		}
		if now < 1615727243 {
			cases = append(cases, struct {
				name, ikey, resp string
				user             string
				err              error
			}{"future 2021", v.IKey, v.Published.Future2021 + ":" + validApp, v.User, nil})
		} else {
			cases = append(cases, struct {
				name, ikey, resp string
				user             string
				err              error
			}{"future 2021 now past", v.IKey, v.Published.Future2021 + ":" + validApp, "", ErrExpired})
		}
		for _, c := range cases {
			user, err := sdk.VerifyResponse(c.ikey, v.SKey, v.AKey, c.resp)
			if c.user != "" {
				if err != nil || user != c.user {
					t.Errorf("now=%d %s: got %q, %v; want %q", now, c.name, user, err, c.user)
				}
				continue
			}
			if user != "" || !errors.Is(err, c.err) {
				t.Errorf("now=%d %s: got %q, %v; want error %v", now, c.name, user, err, c.err)
			}
		}
	}
}

func TestSignRequestExactBytes(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	sdk := at(v.Derived.Now)
	got, err := sdk.SignRequest(v.IKey, v.SKey, v.AKey, v.User)
	if err != nil {
		t.Fatal(err)
	}
	if want := v.Derived.TX + ":" + v.Derived.App; got != want {
		t.Errorf("SignRequest\n got %s\nwant %s", got, want)
	}
	got, err = sdk.SignEnrollRequest(v.IKey, v.SKey, v.AKey, v.User)
	if err != nil {
		t.Fatal(err)
	}
	if want := v.Derived.EnrollRequest + ":" + v.Derived.App; got != want {
		t.Errorf("SignEnrollRequest\n got %s\nwant %s", got, want)
	}
	// The prompt's answer, built with Value.Sign, equals the published one.
	auth := Value{Prefix: PrefixAuth, Username: v.User, IKey: v.IKey, Expires: time.Unix(v.Derived.Now, 0).Add(DuoExpire)}
	if got := auth.Sign(v.SKey); got != v.Published.Future {
		t.Errorf("AUTH value\n got %s\nwant %s", got, v.Published.Future)
	}
}

func TestSignRequestErrors(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	cases := []struct {
		name                   string
		ikey, skey, akey, user string
		err                    error
		text                   string
	}{
		{"empty user", v.IKey, v.SKey, v.AKey, "", ErrUser, "ERR|The username passed to sign_request() is invalid."},
		{"bar in user", v.IKey, v.SKey, v.AKey, "in|valid", ErrUser, "ERR|The username passed to sign_request() is invalid."},
		{"invalid UTF-8 user", v.IKey, v.SKey, v.AKey, "bad\xffuser", ErrUserEncoding, "ERR|The username passed to sign_request() could not be encoded."},
		{"short ikey", "invalid", v.SKey, v.AKey, v.User, ErrIKey, "ERR|The Duo integration key passed to sign_request() is invalid."},
		{"long ikey", v.IKey + "X", v.SKey, v.AKey, v.User, ErrIKey, "ERR|The Duo integration key passed to sign_request() is invalid."},
		{"short skey", v.IKey, "invalid", v.AKey, v.User, ErrSKey, "ERR|The Duo secret key passed to sign_request() is invalid."},
		{"short akey", v.IKey, v.SKey, "invalid", v.User, ErrAKey, "ERR|The application secret key passed to sign_request() must be at least 40 characters."},
		// The SDKs check the user first, then ikey, skey, akey.
		{"all bad", "x", "y", "z", "", ErrUser, "ERR|The username passed to sign_request() is invalid."},
		{"keys bad", "x", "y", "z", v.User, ErrIKey, "ERR|The Duo integration key passed to sign_request() is invalid."},
	}
	for _, c := range cases {
		for _, sign := range []func(string, string, string, string) (string, error){SignRequest, SignEnrollRequest} {
			got, err := sign(c.ikey, c.skey, c.akey, c.user)
			if got != "" || !errors.Is(err, c.err) || err.Error() != c.text {
				t.Errorf("%s: got %q, %v; want %q", c.name, got, err, c.text)
			}
		}
	}
	// A long application key is fine, as in the SDKs.
	if _, err := SignRequest(v.IKey, v.SKey, strings.Repeat("a", 64), v.User); err != nil {
		t.Errorf("64-character akey: %v", err)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	d := v.Derived
	cases := []struct {
		name   string
		now    int64
		enroll bool
		resp   string
		user   string
		err    error
	}{
		{"auth", d.Now, false, d.Auth + ":" + d.App, v.User, nil},
		{"enroll", d.Now, true, d.Enroll + ":" + d.App, v.User, nil},
		{"utf-8 user", d.Now, false, d.UTF8Auth + ":" + d.UTF8App, d.UTF8User, nil},
		{"last valid second", d.Now + 299, false, d.Auth + ":" + d.App, v.User, nil},
		{"expires at its second", d.Now + 300, false, d.Auth + ":" + d.App, "", ErrExpired},
		{"app half expired", d.Now + 3600, false, d.Auth + ":" + d.App, "", ErrExpired},
		{"enroll answer for auth", d.Now, false, d.Enroll + ":" + d.App, "", ErrInvalid},
		{"auth answer for enroll", d.Now, true, d.Auth + ":" + d.App, "", ErrInvalid},
		{"request half as answer", d.Now, false, d.TX + ":" + d.App, "", ErrInvalid},
		{"other user", d.Now, false, d.OtherAuth + ":" + d.App, "", ErrUserMismatch},
		{"halves swapped", d.Now, false, d.App + ":" + d.Auth, "", ErrInvalid},
		{"one half", d.Now, false, d.Auth, "", ErrInvalid},
		{"three halves", d.Now, false, d.Auth + ":" + d.App + ":" + d.App, "", ErrInvalid},
		{"empty", d.Now, false, "", "", ErrInvalid},
		{"upper-case hex", d.Now, false, upperSig(d.Auth) + ":" + d.App, "", ErrInvalid},
		{"truncated sig", d.Now, false, d.Auth[:len(d.Auth)-1] + ":" + d.App, "", ErrInvalid},
		{"app signed with skey", d.Now, false, d.Auth + ":" + Value{PrefixApp, v.User, v.IKey, time.Unix(d.Now+3600, 0)}.Sign(v.SKey), "", ErrInvalid},
	}
	for _, c := range cases {
		verify := at(c.now).VerifyResponse
		if c.enroll {
			verify = at(c.now).VerifyEnrollResponse
		}
		user, err := verify(v.IKey, v.SKey, v.AKey, c.resp)
		if c.err == nil {
			if err != nil || user != c.user {
				t.Errorf("%s: got %q, %v; want %q", c.name, user, err, c.user)
			}
			continue
		}
		if user != "" || !errors.Is(err, c.err) {
			t.Errorf("%s: got %q, %v; want %v", c.name, user, err, c.err)
		}
	}
}

func upperSig(s string) string {
	i := strings.LastIndexByte(s, '|')
	return s[:i] + strings.ToUpper(s[i:])
}

func TestVerifyValue(t *testing.T) {
	t.Parallel()
	const key = "0123456789012345678901234567890123456789"
	const ikey = "DIABCDEFGHIJKLMNOPQR"
	now := time.Unix(1800000000, 0)
	good := Value{Prefix: PrefixTX, Username: "alice", IKey: ikey, Expires: now.Add(DuoExpire)}
	signed := good.Sign(key)
	// A value signed with the key but built by hand (not by Sign).
	hand := func(prefix, payload string) string {
		cookie := prefix + "|" + payload
		return cookie + "|" + signature(key, cookie)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	cases := []struct {
		name, signed string
		want         error
	}{
		{"good", signed, nil},
		{"unpadded base64", hand(PrefixTX, strings.TrimRight(b64("alice|"+ikey+"|1800000300"), "=")), nil},
		{"four fields", hand(PrefixTX, b64("alice|"+ikey+"|1800000300|x")), ErrInvalid},
		{"two fields", hand(PrefixTX, b64("alice|1800000300")), ErrInvalid},
		{"empty user", hand(PrefixTX, b64("|"+ikey+"|1800000300")), ErrInvalid},
		{"expiry not a number", hand(PrefixTX, b64("alice|"+ikey+"|soon")), ErrInvalid},
		{"expiry with junk", hand(PrefixTX, b64("alice|"+ikey+"|1800000300x")), ErrInvalid},
		{"not base64", hand(PrefixTX, "!!!"), ErrInvalid},
		{"not UTF-8", hand(PrefixTX, b64("al\xffice|"+ikey+"|1800000300")), ErrInvalid},
		{"wrong prefix", hand(PrefixApp, b64("alice|"+ikey+"|1800000300")), ErrInvalid},
		{"other ikey", hand(PrefixTX, b64("alice|DIXXXXXXXXXXXXXXXXXX|1800000300")), ErrInvalid},
		{"expired", hand(PrefixTX, b64("alice|"+ikey+"|1800000000")), ErrExpired},
		{"other key", good.Sign(strings.Repeat("k", 40)), ErrInvalid},
		{"too long", hand(PrefixTX, b64(strings.Repeat("a", maxValueLen)+"|"+ikey+"|1800000300")), ErrInvalid},
	}
	for _, c := range cases {
		got, err := VerifyValue(key, c.signed, PrefixTX, ikey, now)
		if c.want == nil {
			if err != nil || got.Username != "alice" || got.IKey != ikey || !got.Expires.Equal(now.Add(DuoExpire)) {
				t.Errorf("%s: got %+v, %v", c.name, got, err)
			}
			continue
		}
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %+v, %v; want %v", c.name, got, err, c.want)
		}
	}
	peek, err := PeekValue(good.Sign("whatever"))
	if err != nil || peek.IKey != ikey || peek.Username != "alice" || peek.Prefix != PrefixTX {
		t.Errorf("PeekValue: %+v, %v", peek, err)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	const ikey, skey = "DIABCDEFGHIJKLMNOPQR", "abcdefghijabcdefghijabcdefghijabcdefghij"
	akey := strings.Repeat("Z", 48)
	sdk := at(1900000000)
	for _, user := range []string{"a", "alice@example.com", "DOMAIN\\bob", "名前", "with space", "colon:user", strings.Repeat("u", 300)} {
		req, err := sdk.SignRequest(ikey, skey, akey, user)
		if err != nil {
			t.Fatalf("%q: %v", user, err)
		}
		tx, app, _ := strings.Cut(req, ":")
		// The prompt's side: read the ikey unverified, verify, answer.
		peek, err := PeekValue(tx)
		if err != nil || peek.IKey != ikey {
			t.Fatalf("%q: peek %+v, %v", user, peek, err)
		}
		val, err := VerifyValue(skey, tx, PrefixTX, peek.IKey, sdk.Now())
		if err != nil {
			t.Fatalf("%q: verify TX: %v", user, err)
		}
		val.Prefix, val.Expires = PrefixAuth, sdk.Now().Add(DuoExpire)
		got, err := sdk.VerifyResponse(ikey, skey, akey, val.Sign(skey)+":"+app)
		if err != nil || got != user {
			t.Errorf("%q: got %q, %v", user, got, err)
		}
	}
}

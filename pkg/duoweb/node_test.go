package duoweb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// nodeScript drives the real npm @duosecurity/duo_web 1.0.6: it reads a
// list of calls as JSON on stdin and prints their results as JSON.
const nodeScript = `
const duo = require('@duosecurity/duo_web');
let input = '';
process.stdin.on('data', d => input += d);
process.stdin.on('end', () => {
  const out = JSON.parse(input).map(c => c.fn === 'sign'
    ? duo.sign_request(c.ikey, c.skey, c.akey, c.user)
    : duo.verify_response(c.ikey, c.skey, c.akey, c.resp));
  process.stdout.write(JSON.stringify(out));
});
`

type nodeCall struct {
	Fn   string `json:"fn"` // "sign" or "verify"
	IKey string `json:"ikey"`
	SKey string `json:"skey"`
	AKey string `json:"akey"`
	User string `json:"user,omitempty"`
	Resp string `json:"resp,omitempty"`
}

func runNode(t *testing.T, calls []nodeCall) []*string {
	t.Helper()
	node, err := exec.LookPath("node")
	testutil.Require(t, "node (apt nodejs)", err == nil)
	dir, err := filepath.Abs(filepath.Join("..", "..", "tests", "partners", "node"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(filepath.Join(dir, "node_modules", "@duosecurity", "duo_web", "package.json"))
	testutil.Require(t, "tests/partners/node/node_modules (npm ci in tests/partners/node)", err == nil)

	in, err := json.Marshal(calls)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "-e", nodeScript)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v: %s", err, stderr.Bytes())
	}
	var res []*string
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(calls) {
		t.Fatalf("node output %q: %v", out, err)
	}
	return res
}

// TestNodeCrossCheck signs with each side and verifies with the other: the
// npm package verifies Go's AUTH answers with Go's APP halves, Go verifies
// the npm package's request halves and answers completed with its APP half,
// and both refuse the same bad inputs.
func TestNodeCrossCheck(t *testing.T) {
	t.Parallel()
	v := loadVectors(t)
	users := []string{v.User, "alice@example.com", "jösé", "DOMAIN\\bob", "名前", "colon:user"}

	// Round 1: node signs requests.
	var calls []nodeCall
	for _, u := range users {
		calls = append(calls, nodeCall{Fn: "sign", IKey: v.IKey, SKey: v.SKey, AKey: v.AKey, User: u})
	}
	// Error strings for bad input (compared below).
	bad := []struct {
		ikey, skey, akey, user string
		err                    error
	}{
		{v.IKey, v.SKey, v.AKey, "", ErrUser},
		{v.IKey, v.SKey, v.AKey, "in|valid", ErrUser},
		{"invalid", v.SKey, v.AKey, v.User, ErrIKey},
		{v.IKey, "invalid", v.AKey, v.User, ErrSKey},
		{v.IKey, v.SKey, "invalid", v.User, ErrAKey},
	}
	for _, b := range bad {
		calls = append(calls, nodeCall{Fn: "sign", IKey: b.ikey, SKey: b.skey, AKey: b.akey, User: b.user})
	}
	res := runNode(t, calls)

	now := time.Now()
	var verify []nodeCall
	var wantUser []string
	for i, u := range users {
		req := *res[i]
		tx, app, ok := strings.Cut(req, ":")
		if !ok {
			t.Fatalf("node sign_request(%q) = %q", u, req)
		}
		// Go verifies both of node's halves, as the prompt (TX) and the
		// application (APP) would.
		txv, err := VerifyValue(v.SKey, tx, PrefixTX, v.IKey, now)
		if err != nil || txv.Username != u {
			t.Errorf("%q: Go verifying node's TX half: %+v, %v", u, txv, err)
		}
		if d := txv.Expires.Sub(now); d < DuoExpire-5*time.Second || d > DuoExpire+5*time.Second {
			t.Errorf("%q: node's TX half lives %v", u, d)
		}
		appv, err := VerifyValue(v.AKey, app, PrefixApp, v.IKey, now)
		if err != nil || appv.Username != u {
			t.Errorf("%q: Go verifying node's APP half: %+v, %v", u, appv, err)
		}
		// The prompt answers; the application (Go) verifies.
		auth := Value{Prefix: PrefixAuth, Username: u, IKey: v.IKey, Expires: now.Add(DuoExpire)}.Sign(v.SKey)
		if got, err := VerifyResponse(v.IKey, v.SKey, v.AKey, auth+":"+app); err != nil || got != u {
			t.Errorf("%q: Go verifying a response with node's APP half: %q, %v", u, got, err)
		}
		// Go signs; node verifies (the answer completed with Go's APP half).
		goReq, err := SignRequest(v.IKey, v.SKey, v.AKey, u)
		if err != nil {
			t.Fatal(err)
		}
		_, goApp, _ := strings.Cut(goReq, ":")
		verify = append(verify, nodeCall{Fn: "verify", IKey: v.IKey, SKey: v.SKey, AKey: v.AKey, Resp: auth + ":" + goApp})
		wantUser = append(wantUser, u)
	}
	for i, b := range bad {
		got := res[len(users)+i]
		// duo_nodejs drops the final period of two of the texts.
		want := strings.TrimSuffix(b.err.Error(), ".")
		if got == nil || strings.TrimSuffix(*got, ".") != want {
			t.Errorf("node error for %+v = %v, Go's is %q", b, got, b.err)
		}
		if _, err := SignRequest(b.ikey, b.skey, b.akey, b.user); err != b.err {
			t.Errorf("Go error for %+v = %v, want %v", b, err, b.err)
		}
	}

	// Round 2: node verifies Go's answers, and refuses what Go refuses.
	goReq, err := SignRequest(v.IKey, v.SKey, v.AKey, v.User)
	if err != nil {
		t.Fatal(err)
	}
	_, goApp, _ := strings.Cut(goReq, ":")
	refused := []string{
		v.Published.Expired + ":" + goApp,
		v.Published.WrongParams + ":" + goApp,
		v.Derived.OtherAuth + ":" + goApp,
		Value{Prefix: PrefixAuth, Username: v.User, IKey: v.IKey, Expires: now.Add(-time.Second)}.Sign(v.SKey) + ":" + goApp,
		Value{Prefix: PrefixEnroll, Username: v.User, IKey: v.IKey, Expires: now.Add(DuoExpire)}.Sign(v.SKey) + ":" + goApp,
		Value{Prefix: PrefixAuth, Username: v.User, IKey: v.WrongIKey, Expires: now.Add(DuoExpire)}.Sign(v.SKey) + ":" + goApp,
	}
	for _, r := range refused {
		verify = append(verify, nodeCall{Fn: "verify", IKey: v.IKey, SKey: v.SKey, AKey: v.AKey, Resp: r})
		wantUser = append(wantUser, "")
	}
	res = runNode(t, verify)
	for i, c := range verify {
		got := res[i]
		goUser, goErr := VerifyResponse(c.IKey, c.SKey, c.AKey, c.Resp)
		if wantUser[i] == "" {
			if got != nil {
				t.Errorf("node accepted %q as %q", c.Resp, *got)
			}
			if goErr == nil {
				t.Errorf("Go accepted %q as %q", c.Resp, goUser)
			}
			continue
		}
		if got == nil || *got != wantUser[i] {
			t.Errorf("node verify_response(%q) = %v, want %q", c.Resp, got, wantUser[i])
		}
		if goErr != nil || goUser != wantUser[i] {
			t.Errorf("Go VerifyResponse(%q) = %q, %v", c.Resp, goUser, goErr)
		}
	}
}

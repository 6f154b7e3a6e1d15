package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/duosig"
	"github.com/assent-auth/assent/internal/testutil"
)

// The crash-durability test: `assent serve` (the real binary) answers
// concurrent passcode authentications and is killed with SIGKILL at a
// random moment, then started again on the same data, a few rounds in a
// row. Afterwards the store must hold everything a client was told:
//
//   - every answered allow and deny has its auth-log row;
//   - no single-use bypass code and no HOTP counter was accepted twice, and
//     no HOTP code at or below an accepted one was accepted later;
//   - the stored state agrees with the log: the bypass codes left are those
//     issued minus the accepted ones, a device's HOTP counter is past every
//     accepted code, and each user's failure counter and lockout equal the
//     failed attempts the log shows since the last success.
//
// A kill without a machine crash loses only what the server had not yet
// handed to the operating system, so what this catches is an answer sent
// before its transaction committed (and any lost or doubled write on
// restart and recovery).

const (
	// crashRoundsEnv sets the number of kill -9 rounds (a longer soak:
	// ASSENT_TEST_CRASH_ROUNDS=50 go test -run TestCrashDurability ./internal/e2e/).
	crashRoundsEnv     = "ASSENT_TEST_CRASH_ROUNDS"
	crashDefaultRounds = 4
	crashUsers         = 8  // users with a device and bypass codes
	crashBypassCodes   = 10 // per user, single-use
	crashLockout       = 10 // lockout_threshold of the server
	// crashDupPercent of the passcodes are sent by two clients at once.
	crashDupPercent = 20
)

func TestCrashDurability(t *testing.T) {
	t.Parallel()
	rounds := crashDefaultRounds
	if v := os.Getenv(crashRoundsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number of rounds", crashRoundsEnv, v)
		}
		rounds = n
	}
	bin := testutil.GoBuild(t, "./cmd/assent", t.TempDir(), "assent")
	for _, engine := range engines {
		t.Run(string(engine), func(t *testing.T) {
			t.Parallel()
			dbURL := ""
			if engine == Postgres {
				dbURL = createPostgresDB(t)
			}
			srv := newProcServer(t, bin, dbURL, "ASSENT_LOCKOUT_THRESHOLD="+strconv.Itoa(crashLockout))
			runCrashRounds(t, srv, rounds)
		})
	}
}

// codeKind is what a sent passcode is.
type codeKind string

const (
	kindHOTP   codeKind = "hotp"   // a device's HOTP code
	kindBypass codeKind = "bypass" // an issued bypass code
	kindWrong  codeKind = "wrong"  // eight digits: never any valid code
)

// passcode is one code a worker sends.
type passcode struct {
	kind    codeKind
	code    string
	counter int64 // HOTP counter
}

// crashUser is a user and what its worker knows. Only its worker touches
// the fields below name.
type crashUser struct {
	name   string
	lockme bool         // sends wrong codes, and bypass codes once locked out
	secret string       // HOTP secret of its device; empty for none
	issued int          // bypass codes issued
	denied atomic.Int64 // deny answers received

	next   int64      // next HOTP counter to use
	bypass []string   // issued bypass codes not sent yet
	sent   []passcode // codes sent before, for replays
}

// crashAnswer is one passcode request and what came back.
type crashAnswer struct {
	user   string
	pc     passcode
	round  int
	result string // allow or deny; empty when no answer came (the server died)
	fail   int    // Duo code of a FAIL answer
	// maxAllowed is the highest HOTP counter answered allow for this user
	// before this request was sent; -1 for none.
	maxAllowed int64
}

// crashLoad drives the passcode load and records every answer.
type crashLoad struct {
	t       *testing.T
	srv     *procServer
	signer  duosig.Signer
	clients [2]*http.Client

	mu         sync.Mutex
	answers    []crashAnswer
	maxAllowed map[string]int64 // user → highest HOTP counter answered allow
}

func runCrashRounds(t *testing.T, srv *procServer, rounds int) {
	srv.MustStart()
	users, ikey, skey := setupCrashUsers(t, srv)
	load := &crashLoad{t: t, srv: srv, maxAllowed: map[string]int64{},
		signer: duosig.Signer{IKey: ikey, SKey: skey, Host: srv.Host}}
	pool := testutil.CAPool(t, srv.CAFile)

	// Rounds 0..rounds-1 end with SIGKILL at a random moment; the last
	// one, after the final restart, ends with a graceful stop.
	for round := 0; round <= rounds; round++ {
		if round > 0 {
			srv.MustStart()
		}
		for i := range load.clients {
			load.clients[i] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 64}}
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, u := range users {
			wg.Add(1)
			go func() { defer wg.Done(); load.worker(round, u, stop) }()
		}
		last := round == rounds
		if last {
			time.Sleep(time.Second)
			close(stop)
			wg.Wait()
			srv.Stop()
		} else {
			time.Sleep(time.Duration(300+mrand.IntN(1200)) * time.Millisecond)
			srv.Kill()
			close(stop)
			wg.Wait()
		}
		for _, c := range load.clients {
			c.CloseIdleConnections()
		}
	}
	checkCrashDurability(t, srv, users, load.answers)
}

// setupCrashUsers creates, with the CLI, an Auth API integration, users
// with bypass codes and an activated device each, and one user who will
// only send wrong codes.
func setupCrashUsers(t *testing.T, srv *procServer) (users []*crashUser, ikey, skey string) {
	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	mustJSON(t, srv.cli("integration", "create", "--type", "authapi", "--name", "crash", "--json"), &in)

	for i := range crashUsers {
		users = append(users, &crashUser{name: fmt.Sprintf("crash%d", i)})
	}
	users = append(users, &crashUser{name: "lockme", lockme: true})

	key, err := rsa.GenerateKey(rand.Reader, 2048) // one key for every device: keygen is slow under -race
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	var wg sync.WaitGroup
	for _, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			srv.cli("user", "create", u.name, "--json")
			var bc struct {
				Codes []string `json:"codes"`
			}
			mustJSON(t, srv.cli("user", "bypass-codes", u.name, "--count", strconv.Itoa(crashBypassCodes), "--uses", "1", "--json"), &bc)
			u.bypass, u.issued = bc.Codes, len(bc.Codes)
			if u.lockme {
				return
			}
			var en struct {
				Code string `json:"activation_code"`
			}
			mustJSON(t, srv.cli("user", "enroll", u.name, "--json"), &en)
			phone, err := device.Activate(ctx, en.Code, device.ActivateOptions{CAFile: srv.CAFile, Key: key})
			if err != nil {
				t.Errorf("activate a device for %s: %v", u.name, err)
				return
			}
			u.secret = phone.HOTPSecret
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return users, in.IKey, in.SKey
}

func mustJSON(t *testing.T, r cliResult, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("CLI printed no JSON: %v\n%s", err, r.stdout)
	}
}

// worker sends one user's passcodes until stop: mostly the device's next
// HOTP code, sometimes a fresh bypass code, a replay of a code sent before
// (also before a crash) or a wrong code. Some go out twice at once through
// the two clients. A user's requests are otherwise sequential, as one
// person's logins are.
func (l *crashLoad) worker(round int, u *crashUser, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		pc := l.pick(u)
		if pc.kind != kindWrong {
			u.sent = append(u.sent, pc)
		}
		if mrand.IntN(100) < crashDupPercent {
			var wg sync.WaitGroup
			wg.Add(2)
			for _, c := range l.clients {
				go func() { defer wg.Done(); l.send(round, c, u, pc) }()
			}
			wg.Wait()
		} else {
			l.send(round, l.clients[mrand.IntN(2)], u, pc)
		}
	}
}

func (l *crashLoad) pick(u *crashUser) passcode {
	wrong := passcode{kind: kindWrong, code: fmt.Sprintf("%08d", mrand.IntN(100_000_000))}
	if u.lockme {
		// Its bypass codes only once enough failures were answered to
		// lock it out: they must be refused.
		if u.denied.Load() >= crashLockout && len(u.bypass) > 0 && mrand.IntN(4) == 0 {
			return u.popBypass()
		}
		return wrong
	}
	switch r := mrand.IntN(100); {
	case r < 12 && len(u.bypass) > 0:
		return u.popBypass()
	case r < 22 && len(u.sent) > 0:
		if pc := u.sent[mrand.IntN(len(u.sent))]; pc.kind == kindBypass || !u.hotpCollides(pc) {
			return pc
		}
	case r < 25:
		return wrong
	}
	code, err := device.HOTP(u.secret, u.next)
	if err != nil {
		l.t.Errorf("HOTP: %v", err)
	}
	u.next++
	return passcode{kind: kindHOTP, code: code, counter: u.next - 1}
}

func (u *crashUser) popBypass() passcode {
	c := u.bypass[len(u.bypass)-1]
	u.bypass = u.bypass[:len(u.bypass)-1]
	return passcode{kind: kindBypass, code: c}
}

// hotpCollides reports whether a replayed HOTP code equals a code the
// server may still legitimately accept (six digits repeat now and then).
func (u *crashUser) hotpCollides(pc passcode) bool {
	for c := pc.counter + 1; c < u.next+20; c++ {
		if code, _ := device.HOTP(u.secret, c); code == pc.code {
			return true
		}
	}
	return false
}

// send makes one passcode authentication and records the answer.
func (l *crashLoad) send(round int, c *http.Client, u *crashUser, pc passcode) {
	l.mu.Lock()
	maxAllowed, ok := l.maxAllowed[u.name]
	l.mu.Unlock()
	if !ok {
		maxAllowed = -1
	}
	a := crashAnswer{user: u.name, pc: pc, round: round, maxAllowed: maxAllowed}
	req, err := l.signer.NewRequest(context.Background(), http.MethodPost, "/auth/v2/auth",
		url.Values{"username": {u.name}, "factor": {"passcode"}, "passcode": {pc.code}})
	if err != nil {
		l.t.Errorf("sign: %v", err)
		return
	}
	if resp, err := c.Do(req); err == nil {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		var env struct {
			Stat     string `json:"stat"`
			Code     int    `json:"code"`
			Response struct {
				Result string `json:"result"`
			} `json:"response"`
		}
		switch {
		case rerr != nil:
			// Cut off by the kill: no answer.
		case json.Unmarshal(body, &env) != nil:
			l.t.Errorf("answer is not a Duo envelope (HTTP %d): %q", resp.StatusCode, body)
		case env.Stat == "OK" && (env.Response.Result == "allow" || env.Response.Result == "deny"):
			a.result = env.Response.Result
		case env.Stat == "FAIL" && env.Code/100 == 429:
			a.fail = env.Code // rate limited: no decision was made
		default:
			l.t.Errorf("unexpected answer (HTTP %d): %s", resp.StatusCode, body)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers = append(l.answers, a)
	if a.result == "deny" {
		u.denied.Add(1)
	}
	if m, ok := l.maxAllowed[u.name]; a.result == "allow" && pc.kind == kindHOTP && (!ok || pc.counter > m) {
		l.maxAllowed[u.name] = pc.counter
	}
}

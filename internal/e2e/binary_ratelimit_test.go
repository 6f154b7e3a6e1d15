package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/testutil"
)

// serveBinary starts `assent serve` on a free loopback port with a fresh
// data directory and the default configuration, waits until it answers,
// and kills it when the test ends. It returns the data directory, the
// host (localhost:port), the local CA file and the server's output.
func serveBinary(t *testing.T, bin string) (dataDir, host, caFile string, out *lockedBuffer) {
	t.Helper()
	dataDir = t.TempDir()
	port := testutil.FreePort(t)
	host = fmt.Sprintf("localhost:%d", port)
	caFile = filepath.Join(dataDir, "tls", "ca.pem")
	srv := exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", port))
	srv.Env = testutil.HermeticEnv()
	out = &lockedBuffer{}
	srv.Stdout, srv.Stderr = out, out
	if err := srv.Start(); err != nil {
		t.Fatalf("start assent serve: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("assent serve output:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("assent serve exited early: %v\n%s", waitErr, out.String())
		default:
		}
		if _, err := os.Stat(caFile); err == nil {
			c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: caPool(t, caFile)}}}
			resp, err := c.Get("https://" + host + "/auth/v2/ping")
			c.CloseIdleConnections()
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return dataDir, host, caFile, out
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("assent serve did not answer ping within 20s\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// testBinaryRateLimits floods one user with pushes through Debian's
// python3-duo-client against the assent binary with its default limits
// (5 pushes, then one a minute): the client receives 429/42901.
func testBinaryRateLimits(t *testing.T, bin string) {
	py := testutil.Python3(t)
	dataDir, host, caFile, out := serveBinary(t, bin)
	dd := []string{"--data-dir", dataDir}

	var in struct {
		IKey string `json:"integration_key"`
		SKey string `json:"secret_key"`
	}
	r := mustCLI(t, bin, append([]string{"integration", "create", "--type", "authapi", "--name", "Flooded", "--json"}, dd...)...)
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || in.IKey == "" {
		t.Fatalf("integration create --json: %v\n%s", err, r.stdout)
	}
	var en struct {
		ActivationCode string `json:"activation_code"`
	}
	r = mustCLI(t, bin, append([]string{"user", "enroll", "pushy", "--json"}, dd...)...)
	if err := json.Unmarshal([]byte(r.stdout), &en); err != nil || en.ActivationCode == "" {
		t.Fatalf("user enroll --json: %v\n%s", err, r.stdout)
	}
	phone, err := device.Activate(testCtx(t), en.ActivationCode, device.ActivateOptions{CAFile: caFile, Name: "flooded phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}

	script, err := filepath.Abs(filepath.Join("testdata", "duo_client_ratelimit.py"))
	if err != nil {
		t.Fatal(err)
	}
	hostname, port, _ := strings.Cut(host, ":")
	var calls []struct {
		OK     *struct{ TxID string } `json:"ok"`
		Error  string                 `json:"error"`
		Status int                    `json:"status"`
		Data   *duoEnvelope           `json:"data"`
	}
	runJSON(t, 60*time.Second, &calls, py, []string{script}, []string{
		"DUO_IKEY=" + in.IKey, "DUO_SKEY=" + in.SKey, "DUO_HOST=" + hostname, "DUO_PORT=" + port,
		"DUO_CA=" + caFile, "DUO_USERNAME=pushy", "DUO_PUSHES=" + strconv.Itoa(8),
	}, "")
	if len(calls) != 8 {
		t.Fatalf("%d calls reported, want 8", len(calls))
	}
	for i, c := range calls {
		if i < 5 {
			if c.OK == nil || c.Error != "" {
				t.Errorf("push %d: %+v, want a txid", i+1, c)
			}
			continue
		}
		if c.Status != http.StatusTooManyRequests || c.Data == nil || c.Data.Code != 42901 ||
			!strings.Contains(c.Error, "Received 429 Too many requests (too many pushes") {
			t.Errorf("push %d: %+v, want duo_client's error for 429/42901", i+1, c)
		}
	}
	if list, err := phone.Pending(testCtx(t)); err != nil || len(list) != 5 {
		t.Errorf("the phone has %d pushes (%v), want the 5 allowed", len(list), err)
	}
	if log := out.String(); !strings.Contains(log, `msg="rate limit reached"`) || !strings.Contains(log, "limit=rate_limit_pushes_per_user") {
		t.Errorf("the server did not warn about the flood:\n%s", log)
	}
}

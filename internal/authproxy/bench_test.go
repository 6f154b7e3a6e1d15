//go:build unix

package authproxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

// The proxy benchmark runs the proxy alone in the test process; a child
// process (this test binary again, see TestMain) plays both the Auth API
// (a canned HTTPS server) and the NASes (a RADIUS load client). So the
// process's CPU time and allocations are the proxy's only, whatever else
// the machine does: the figures that stay meaningful on a shared box.
//
//	go test -run '^$' -bench ProxyDuoOnly -benchmem -cpuprofile cpu.out ./internal/authproxy/
//
// Metrics: proxy-cpu-µs/op (user + system CPU of the proxy per login),
// handshakes/op (TLS handshakes the stub saw per login) and api-calls/op
// (Auth API calls per login: duo_only makes preauth + auth).

const (
	benchChildEnv = "ASSENT_AUTHPROXY_BENCH_CHILD"
	benchDelayEnv = "ASSENT_AUTHPROXY_BENCH_DELAY" // how long the stub takes per call
)

// radLoadEnv makes this test binary a RADIUS load generator for
// scripts/bench-radius.sh (built with go test -c): "ADDR REQUESTS
// PARALLEL USER", with the shared secret and the password in
// ASSENT_RADLOAD_SECRET and ASSENT_RADLOAD_PASSWORD. PARALLEL NASes, each
// a socket sending one Access-Request (with Message-Authenticator) at a
// time and blocking until the answer — unlike radclient, which polls its
// socket in a loop while answers are outstanding and so takes a CPU from
// a server that answers in milliseconds. It prints "accepted A of N in S
// s" and fails unless every request got a valid Access-Accept.
const radLoadEnv = "ASSENT_RADLOAD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(benchChildEnv); dir != "" {
		if err := benchChild(dir, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if spec := os.Getenv(radLoadEnv); spec != "" {
		os.Exit(radLoad(spec, os.Getenv("ASSENT_RADLOAD_SECRET"), os.Getenv("ASSENT_RADLOAD_PASSWORD"), os.Stdout))
	}
	os.Exit(m.Run())
}

func radLoad(spec, secret, password string, out io.Writer) int {
	var addr, user string
	var n, p int
	if k, err := fmt.Sscan(spec, &addr, &n, &p, &user); k != 4 || err != nil || n < 1 || p < 1 || secret == "" {
		fmt.Fprintf(out, "radload: want %s=\"ADDR REQUESTS PARALLEL USER\" and ASSENT_RADLOAD_SECRET: %v\n", radLoadEnv, err)
		return 2
	}
	start := time.Now()
	errs := benchLoad(n, p, addr, []byte(secret), user, password)
	fmt.Fprintf(out, "accepted %d of %d in %.3f s\n", int64(n)-errs, n, time.Since(start).Seconds())
	if errs != 0 {
		return 1
	}
	return 0
}

// Canned Auth API answers, shaped like Assent's for a user with one phone;
// the prompt only when text_prompt asks for it.
const (
	benchPreauthHead = `{"stat":"OK","response":{"result":"auth","status_msg":"Account is active",` +
		`"devices":[{"device":"DPFZRS9FB0D46QFTM891","type":"phone","number":"XXX-XXX-0100","name":"",` +
		`"display_name":"iOS (XXX-XXX-0100)","capabilities":["auto","push","sms","phone","mobile_otp"],"sms_nextcode":"1"}]`
	benchPrompt = `,"prompt":{"text":"Duo two-factor login for bench\n\nEnter a passcode or select one of the following options:\n\n` +
		` 1. Duo Push to XXX-XXX-0100\n 2. Phone call to XXX-XXX-0100\n 3. SMS passcodes to XXX-XXX-0100 (next code starts with: 1)\n\n` +
		`Passcode or option (1-3): ","factors":{"default":"push1","1":"push1","2":"phone1","3":"sms1"}}`
	benchPreauthJSON     = benchPreauthHead + "}}"
	benchPreauthMenuJSON = benchPreauthHead + benchPrompt + "}}"
	benchAuthJSON        = `{"stat":"OK","response":{"result":"allow","status":"allow","status_msg":"Success. Logging you in..."}}`
)

// benchChild serves the stub Auth API and prints "addr HOST:PORT", then
// obeys commands on in:
//
//	load N P RADIUSADDR SECRET USER PASSWORD  → "done ERRORS"
//	stats                                     → "stats HANDSHAKES PREAUTHS AUTHS OTHERS CPU_µs"
func benchChild(dir string, in io.Reader, out io.Writer) error {
	stubDelay, _ := time.ParseDuration(os.Getenv(benchDelayEnv))
	cert, err := benchCert(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return err
	}
	var handshakes, preauths, auths, others atomic.Int64
	tcfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			handshakes.Add(1)
			return nil, nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{TLSConfig: tcfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("username") == "" || r.Header.Get("Authorization") == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		time.Sleep(stubDelay)
		switch r.URL.Path {
		case "/auth/v2/preauth":
			preauths.Add(1)
			if r.PostForm.Get("text_prompt") == "1" {
				io.WriteString(w, benchPreauthMenuJSON)
			} else {
				io.WriteString(w, benchPreauthJSON)
			}
		case "/auth/v2/auth":
			auths.Add(1)
			io.WriteString(w, benchAuthJSON)
		default:
			others.Add(1)
			http.NotFound(w, r)
		}
	})}
	go hs.ServeTLS(ln, "", "")
	defer hs.Close()
	fmt.Fprintf(out, "addr %s\n", ln.Addr())

	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "stats":
			fmt.Fprintf(out, "stats %d %d %d %d %d\n", handshakes.Load(), preauths.Load(), auths.Load(), others.Load(), cpuTime().Microseconds())
		case len(f) == 7 && f[0] == "load":
			var n, p int
			fmt.Sscan(f[1], &n)
			fmt.Sscan(f[2], &p)
			errs := benchLoad(n, p, f[3], []byte(f[4]), f[5], f[6])
			fmt.Fprintf(out, "done %d\n", errs)
		default:
			return fmt.Errorf("unknown command %q", sc.Text())
		}
	}
	return sc.Err()
}

// benchLoad sends n Access-Requests (with Message-Authenticator) from p
// NASes, one request at a time each, and returns how many were not
// answered with a valid Access-Accept.
func benchLoad(n, p int, addr string, secret []byte, user, pass string) int64 {
	var next, errs atomic.Int64
	var wg sync.WaitGroup
	raddr, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return int64(n)
	}
	for range p {
		wg.Go(func() {
			conn, err := net.DialUDP("udp", nil, raddr)
			if err != nil {
				errs.Add(1)
				return
			}
			defer conn.Close()
			buf := make([]byte, radius.MaxPacketLength)
			var id byte
			for next.Add(1) <= int64(n) {
				id++
				req := radius.New(radius.CodeAccessRequest, secret)
				req.Identifier = id
				rfc2865.UserName_SetString(req, user)
				_ = rfc2865.UserPassword_SetString(req, pass)
				b, err := radiusmsg.EncodeRequest(req)
				if err == nil {
					_, err = conn.Write(b)
				}
				if err == nil {
					_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
					var k int
					k, err = conn.Read(buf)
					if err == nil && (k < 20 || radius.Code(buf[0]) != radius.CodeAccessAccept || !radius.IsAuthenticResponse(buf[:k], b, secret)) {
						err = fmt.Errorf("not a valid Access-Accept")
					}
				}
				if err != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return errs.Load()
}

// benchCert makes a self-signed certificate for 127.0.0.1 and localhost
// and writes it to caFile, for the proxy to trust.
func benchCert(caFile string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stub auth api"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// benchStub is the child process seen from the benchmark.
type benchStub struct {
	addr string
	ca   string
	in   io.WriteCloser
	out  *bufio.Scanner
}

// startBenchStub starts the child; it answers every call after delay.
func startBenchStub(b *testing.B, delay time.Duration) *benchStub {
	b.Helper()
	dir := b.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchChildEnv+"="+dir, benchDelayEnv+"="+delay.String())
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
	})
	s := &benchStub{ca: filepath.Join(dir, "ca.pem"), in: in, out: bufio.NewScanner(outR)}
	f := s.expect(b, "addr", 1)
	s.addr = f[0]
	return s
}

func (s *benchStub) expect(b *testing.B, word string, n int) []string {
	b.Helper()
	if !s.out.Scan() {
		b.Fatalf("bench child exited: %v", s.out.Err())
	}
	f := strings.Fields(s.out.Text())
	if len(f) != n+1 || f[0] != word {
		b.Fatalf("bench child said %q, want %s and %d fields", s.out.Text(), word, n)
	}
	return f[1:]
}

// benchStats are the stub's counters: TLS handshakes, calls, and its own
// CPU time (the Auth API's and the NASes' share of the work).
type benchStats struct {
	handshakes, preauths, auths, others int64
	cpu                                 time.Duration
}

func (s *benchStub) stats(b *testing.B) benchStats {
	b.Helper()
	fmt.Fprintln(s.in, "stats")
	f := s.expect(b, "stats", 5)
	var st benchStats
	var cpu int64
	for i, p := range []*int64{&st.handshakes, &st.preauths, &st.auths, &st.others, &cpu} {
		if _, err := fmt.Sscan(f[i], p); err != nil {
			b.Fatalf("stats %q: %v", f, err)
		}
	}
	st.cpu = time.Duration(cpu) * time.Microsecond
	return st
}

func (s *benchStub) load(b *testing.B, n, parallel int, radiusAddr string) {
	b.Helper()
	fmt.Fprintf(s.in, "load %d %d %s s3cret bench 123456\n", n, parallel, radiusAddr)
	var errs int
	fmt.Sscan(s.expect(b, "done", 1)[0], &errs)
	if errs != 0 {
		b.Fatalf("%d of %d logins were not accepted", errs, n)
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProxyDuoOnly is radius_server_duo_only with passcodes, as in
// scripts/bench-radius.sh: each login a preauth and an auth over
// keep-alive HTTPS, default logging to a file, metrics on. With nas=1 one
// request is in flight at a time, so every request pays the full wake-up
// path; with nas=64 (the script's load) requests batch up the more the
// CPUs are shared, and the figure drops as the machine gets busier. With
// api=10ms the stub answers each call after 10 ms, about what Assent takes
// under the script's load: every call then waits, and its goroutine is
// parked and woken, as against the real Auth API.
func BenchmarkProxyDuoOnly(b *testing.B) {
	for _, bc := range []struct {
		parallel int
		delay    time.Duration
	}{{1, 0}, {64, 0}, {64, 10 * time.Millisecond}} {
		name := fmt.Sprintf("nas=%d", bc.parallel)
		if bc.delay > 0 {
			name += fmt.Sprintf(",api=%v", bc.delay)
		}
		b.Run(name, func(b *testing.B) { benchProxy(b, bc.parallel, bc.delay) })
	}
}

func benchProxy(b *testing.B, parallel int, delay time.Duration) {
	if _, set := os.LookupEnv("GOGC"); !set {
		// As Run does for `assent authproxy`.
		defer debug.SetGCPercent(debug.SetGCPercent(gcPercent))
	}
	stub := startBenchStub(b, delay)
	dir := b.TempDir()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := conn.LocalAddr().(*net.UDPAddr).Port
	c, _, err := cfg.Parse(filepath.Join(dir, "authproxy.cfg"), strings.NewReader(
		duoOnly(stub.addr, stub.ca, port, "log_dir = "+filepath.Join(dir, "log"))))
	if err != nil {
		b.Fatal(err)
	}
	p, err := New(c, Options{Stderr: io.Discard, PacketConns: map[string]net.PacketConn{c.Sockets()[0].Addr: conn}})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
		conn.Close()
	}()

	addr := conn.LocalAddr().String()
	stub.load(b, 1000, parallel, addr) // warm-up: connections, stacks, caches
	st0 := stub.stats(b)
	cpu0 := cpuTime()
	b.ReportAllocs()
	b.ResetTimer()
	stub.load(b, b.N, parallel, addr)
	b.StopTimer()
	cpu := cpuTime() - cpu0
	st := stub.stats(b)
	n := float64(b.N)
	b.ReportMetric(float64(cpu.Microseconds())/n, "proxy-cpu-µs/op")
	b.ReportMetric(float64((st.cpu-st0.cpu).Microseconds())/n, "stub-cpu-µs/op")
	b.ReportMetric(float64(st.handshakes-st0.handshakes)/n, "handshakes/op")
	b.ReportMetric(float64(st.preauths-st0.preauths+st.auths-st0.auths+st.others-st0.others)/n, "api-calls/op")
}

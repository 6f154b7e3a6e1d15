package connflood

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// holderEnv makes the test binary a connection holder (see TestMain): its
// value is a holderSpec in JSON.
const holderEnv = "ASSENT_TEST_CONNHOLDER"

// holderSpec says what one holder process opens. The machine's hard
// open-files limit (20,000 on the CI machine) cannot hold 25,000
// connections in one process, hence several holders.
type holderSpec struct {
	Target string   // the server, 127.0.0.1:port
	Host   string   // the Host header of the keep-alive requests
	From   []string // source addresses, each opening TLS then Bare
	// TLS connections per source: a completed handshake and one
	// keep-alive request, then idle. They are opened first.
	TLS int
	// Bare TCP connections per source that never send anything.
	Bare int
	// Parallel connects per source at once.
	Parallel int
}

// holderReport is what a holder tells the test once it has connected
// everything; it then holds every connection until its stdin closes.
type holderReport struct {
	TLSHeld    int64  `json:"tls_held"`    // handshake and request answered; held idle
	TLSRefused int64  `json:"tls_refused"` // connected, then closed by the server
	BareOpen   int64  `json:"bare_open"`   // connected (the server may have closed it since)
	Reset      int64  `json:"reset"`       // reset while connecting: refused by the server
	DialFailed int64  `json:"dial_failed"` // never reached the server (timeouts …)
	FirstError string `json:"first_error,omitempty"`
}

// reached is how many connections reached the server's accept queue.
func (r holderReport) reached() int64 { return r.TLSHeld + r.TLSRefused + r.BareOpen + r.Reset }

// runHolder is the holder process: open, report, hold until stdin closes.
func runHolder(specJSON string) int {
	var spec holderSpec
	if err := json.Unmarshal([]byte(specJSON), &spec); err != nil {
		fmt.Fprintln(os.Stderr, "holder:", err)
		return 2
	}
	var (
		rep      holderReport
		counts   [5]atomic.Int64
		mu       sync.Mutex
		held     []net.Conn
		firstErr string
	)
	keep := func(c net.Conn) { mu.Lock(); held = append(held, c); mu.Unlock() }
	note := func(err error) {
		mu.Lock()
		if firstErr == "" {
			firstErr = err.Error()
		}
		mu.Unlock()
	}
	const (
		tlsHeld = iota
		tlsRefused
		bareOpen
		reset
		dialFailed
	)
	tlsCfg := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}} // an attacker checks nothing
	request := []byte("GET /auth/v2/ping HTTP/1.1\r\nHost: " + spec.Host + "\r\n\r\n")

	var all sync.WaitGroup
	for _, from := range spec.From {
		all.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second, Control: bindNoPort}
			dial := func() net.Conn {
				c, err := d.Dial("tcp", spec.Target)
				switch {
				case err == nil:
					return c
				case errors.Is(err, syscall.ECONNRESET):
					counts[reset].Add(1)
				default:
					counts[dialFailed].Add(1)
					note(err)
				}
				return nil
			}
			sem := make(chan struct{}, spec.Parallel)
			var wg sync.WaitGroup
			run := func(n int, one func()) {
				for range n {
					sem <- struct{}{}
					wg.Go(func() { defer func() { <-sem }(); one() })
				}
				wg.Wait()
			}
			// TLS first, so they take the places the server gives this
			// address; then bare connections.
			run(spec.TLS, func() {
				c := dial()
				if c == nil {
					return
				}
				tc := tls.Client(c, tlsCfg)
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				err := tc.Handshake()
				if err == nil {
					_, err = tc.Write(request)
				}
				var resp *http.Response
				if err == nil {
					resp, err = http.ReadResponse(bufio.NewReader(tc), nil)
				}
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err == nil && (resp.StatusCode != http.StatusOK || resp.Close) {
					err = fmt.Errorf("keep-alive request: %s, close=%v", resp.Status, resp.Close)
				}
				if err != nil {
					counts[tlsRefused].Add(1)
					_ = tc.Close()
					return
				}
				_ = tc.SetDeadline(time.Time{})
				counts[tlsHeld].Add(1)
				keep(tc)
			})
			run(spec.Bare, func() {
				if c := dial(); c != nil {
					counts[bareOpen].Add(1)
					keep(c)
				}
			})
		})
	}
	all.Wait()
	rep.TLSHeld, rep.TLSRefused, rep.BareOpen = counts[tlsHeld].Load(), counts[tlsRefused].Load(), counts[bareOpen].Load()
	rep.Reset, rep.DialFailed, rep.FirstError = counts[reset].Load(), counts[dialFailed].Load(), firstErr
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 2
	}
	// Hold until the test closes stdin (or dies).
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range held {
		_ = c.Close()
	}
	return 0
}

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (not in syscall).
const ipBindAddressNoPort = 24

// bindNoPort lets the kernel choose the source port at connect, by the
// whole address 4-tuple, instead of reserving a port at bind: 25,000
// bound ports would leave the machine's other tests (they run in
// parallel) no ephemeral port to connect from.
func bindNoPort(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
	}); cerr != nil {
		return cerr
	}
	return err
}

package sipcall

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Debian's SIPp is built without OpenSSL (`sipp -t l1` answers "To use a
// TLS transport you must compile SIPp with OpenSSL"), so the peer over TLS
// is sipgo's own server, on a loopback port, with certificates made here:
// what is tested is Assent's side (transport, verification of the peer,
// its own certificate and TLS listener), not sipgo against itself.

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	file string // PEM
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Assent test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ca := &testCA{cert: cert, key: key, pool: x509.NewCertPool(), file: filepath.Join(t.TempDir(), "ca.pem")}
	ca.pool.AddCert(cert)
	if err := os.WriteFile(ca.file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue makes a certificate for hosts (names or IPs), usable by a server
// and a client, and writes it and its key as PEM files.
func (ca *testCA) issue(t *testing.T, hosts ...string) (pair tls.Certificate, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	for _, h := range hosts {
		if ip, err := netip.ParseAddr(h); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pair, err = tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certFile, keyFile
}

// tlsPeer is a trunk over TLS (sipgo's server) that answers one call:
// it sends key 1 (RFC 4733) once the call is answered, or, with hangUp,
// sends BYE to Assent's Contact, which takes a new TLS connection to
// Assent's listener.
type tlsPeer struct {
	addr string

	mu        sync.Mutex
	invites   int
	registers []string // each REGISTER's Expires
	errs      []error
	dlg       *sipgo.DialogServerSession
	offer     answer
}

func (p *tlsPeer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err)
}

func startTLSPeer(t *testing.T, ca *testCA, cert tls.Certificate, requireClientCert, hangUp bool) *tlsPeer {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("peer"), sipgo.WithUserAgenTLSConfig(&tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClientCert {
		conf.ClientAuth, conf.ClientCAs = tls.RequireAndVerifyClientCert, ca.pool
	}
	l, err := tls.Listen("tcp4", "127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	p := &tlsPeer{addr: l.Addr().String()}
	contact := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: port, UriParams: sip.NewParams()}
	contact.UriParams.Add("transport", "tls")
	dialogs := sipgo.NewDialogServerCache(client, sip.ContactHeader{Address: contact})
	media := udp(t, "127.0.0.1:0")
	mediaPort := media.LocalAddr().(*net.UDPAddr).Port

	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		p.mu.Lock()
		p.invites++
		p.mu.Unlock()
		offer, err := parseAnswer(req.Body())
		if err != nil {
			p.fail(fmt.Errorf("peer: the offer: %w", err))
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad SDP", nil))
			return
		}
		dlg, err := dialogs.ReadInvite(req, tx)
		if err != nil {
			p.fail(fmt.Errorf("peer: %w", err))
			return
		}
		p.mu.Lock()
		p.dlg, p.offer = dlg, offer
		p.mu.Unlock()
		_ = dlg.Respond(sip.StatusRinging, "Ringing", nil)
		sdp := fmt.Sprintf("v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
			"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n", mediaPort)
		if err := dlg.RespondSDP([]byte(sdp)); err != nil {
			p.fail(fmt.Errorf("peer: 200 OK: %w", err))
		}
	})
	srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := dialogs.ReadAck(req, tx); err != nil {
			p.fail(fmt.Errorf("peer: ACK: %w", err))
			return
		}
		p.mu.Lock()
		dlg, offer := p.dlg, p.offer
		p.mu.Unlock()
		if hangUp {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := dlg.Bye(ctx); err != nil {
					p.fail(fmt.Errorf("peer: BYE to Assent: %w", err))
				}
			}()
			return
		}
		// Key 1 once the prompt plays (keys before it do not count): start
		// and three end packets of one event.
		go func() {
			_ = media.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := media.ReadFromUDP(make([]byte, 1500)); err != nil {
				p.fail(fmt.Errorf("peer: no prompt: %w", err))
				return
			}
			to := net.UDPAddrFromAddrPort(offer.Remote)
			for i, end := range []bool{false, true, true, true} {
				pkt := AppendRTP(nil, RTPPacket{PayloadType: uint8(offer.EventType), Marker: i == 0, SequenceNumber: uint16(i), Timestamp: 8000, SSRC: 7,
					Payload: AppendDTMFEvent(nil, DTMFEvent{Event: 1, End: end, Volume: 10, Duration: 800})})
				if _, err := media.WriteToUDP(pkt, to); err != nil {
					p.fail(fmt.Errorf("peer: RTP: %w", err))
				}
			}
		}()
	})
	srv.OnRegister(func(req *sip.Request, tx sip.ServerTransaction) {
		expires := ""
		if h := req.GetHeader("Expires"); h != nil {
			expires = h.Value()
		}
		p.mu.Lock()
		p.registers = append(p.registers, expires)
		p.mu.Unlock()
		res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
		if v := req.Via(); v == nil || v.Transport != "TLS" {
			p.fail(fmt.Errorf("peer: REGISTER's Via %v, want SIP/2.0/TLS", v))
		}
		if ct := req.Contact(); ct == nil || !strings.Contains(ct.Address.String(), "transport=tls") {
			p.fail(fmt.Errorf("peer: REGISTER's Contact %v lacks transport=tls", ct))
		}
		_ = tx.Respond(res)
	})
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := dialogs.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "No Dialog", nil))
		}
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(l)
	}()
	t.Cleanup(func() {
		ua.Close()
		l.Close()
		<-done
	})
	return p
}

// TestCallOverTLS: with sip_transport tls, the peer's certificate is
// verified against sip_tls_ca_file (or the system's roots) for the
// proxy's host; a certificate that does not verify fails the call before
// any INVITE is sent, saying why. With a certificate of its own, Assent
// shows it to a peer that requires one and listens for TLS, where the
// peer's BYE arrives.
func TestCallOverTLS(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t) // a CA Assent does not trust
	tests := []struct {
		name          string
		peerCA        *testCA  // issuer of the peer's certificate
		peerHosts     []string // names in the peer's certificate
		proxyHost     string   // the outbound proxy's host; default 127.0.0.1
		trustCA       bool     // sip_tls_ca_file is the test CA (else the system's roots)
		ownCert       bool     // sip_tls_cert_file/key_file
		requireClient bool     // the peer requires a client certificate
		hangUp        bool
		want          Outcome
		wantErr       string
		invites       int
	}{
		{name: "verified peer, key 1 approves", peerCA: ca, peerHosts: []string{"127.0.0.1"}, trustCA: true, want: Approved, invites: 1},
		{name: "peer's CA not trusted", peerCA: ca, peerHosts: []string{"127.0.0.1"}, want: Failed, wantErr: "certificate signed by unknown authority"},
		{name: "peer's CA not the configured one", peerCA: other, peerHosts: []string{"127.0.0.1"}, trustCA: true, want: Failed, wantErr: "certificate signed by unknown authority"},
		{name: "verified by the proxy's host name", peerCA: ca, peerHosts: []string{"localhost"}, proxyHost: "localhost", trustCA: true, want: Approved, invites: 1},
		{name: "certificate for another address", peerCA: ca, peerHosts: []string{"127.0.0.2"}, trustCA: true, want: Failed, wantErr: "valid for 127.0.0.2, not 127.0.0.1"},
		{name: "certificate for another name", peerCA: ca, peerHosts: []string{"pbx.example.org", "127.0.0.1"}, proxyHost: "localhost", trustCA: true, want: Failed,
			wantErr: "valid for pbx.example.org, not localhost"},
		{name: "client certificate; the peer's BYE reaches Assent's TLS listener", peerCA: ca, peerHosts: []string{"127.0.0.1"}, trustCA: true,
			ownCert: true, requireClient: true, hangUp: true, want: HungUp, invites: 1},
		// "connection closed", or "use of closed network connection" when
		// the INVITE is written after the peer closed.
		{name: "the peer requires a client certificate Assent lacks", peerCA: ca, peerHosts: []string{"127.0.0.1"}, trustCA: true,
			requireClient: true, want: Failed, wantErr: "closed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			peerCert, _, _ := tc.peerCA.issue(t, tc.peerHosts...)
			peer := startTLSPeer(t, ca, peerCert, tc.requireClient, tc.hangUp)
			proxy := peer.addr
			if tc.proxyHost != "" {
				_, port, _ := net.SplitHostPort(peer.addr)
				proxy = net.JoinHostPort(tc.proxyHost, port)
			}
			cfg := Config{ListenAddr: "127.0.0.1:0", Transport: "tls", OutboundProxy: proxy,
				RingTimeout: 5 * time.Second, AnswerTimeout: 5 * time.Second, MaxDuration: 15 * time.Second}
			if tc.trustCA {
				cfg.TLSCAFile = ca.file
			}
			if tc.ownCert {
				_, cfg.TLSCertFile, cfg.TLSKeyFile = ca.issue(t, "127.0.0.1")
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			got, err := c.Call(t.Context(), "+1 555 0100", DefaultPrompt(), nil)
			if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				peer.mu.Lock()
				t.Logf("the peer's errors: %v", peer.errs)
				peer.mu.Unlock()
				t.Fatalf("Call = %s, %v; want %s, error with %q", got, err, tc.want, tc.wantErr)
			}
			if err != nil {
				t.Logf("the error: %v", err)
			}
			peer.mu.Lock()
			defer peer.mu.Unlock()
			if peer.invites != tc.invites {
				t.Errorf("the peer received %d INVITEs, want %d", peer.invites, tc.invites)
			}
			for _, err := range peer.errs {
				t.Error(err)
			}
		})
	}
}

// TestRegisterOverTLS: REGISTER goes over TLS to a registrar whose
// certificate verifies (Via SIP/2.0/TLS, Contact ;transport=tls), and the
// binding is removed on Close; a registrar whose certificate does not
// verify stops Start with the reason.
func TestRegisterOverTLS(t *testing.T) {
	ca := newTestCA(t)
	for _, tc := range []struct {
		name    string
		trustCA bool
		wantErr string
		want    []string // the Expires of the REGISTERs received
	}{
		{name: "verified", trustCA: true, want: []string{"600", "0"}},
		{name: "not verified", wantErr: "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cert, _, _ := ca.issue(t, "127.0.0.1")
			peer := startTLSPeer(t, ca, cert, false, false)
			cfg := Config{ListenAddr: "127.0.0.1:0", Transport: "tls", Registrar: peer.addr, Username: "alice", Password: "s3cret"}
			if tc.trustCA {
				cfg.TLSCAFile = ca.file
			}
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Start(t.Context())
			if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Start = %v, want an error with %q", err, tc.wantErr)
			}
			if err == nil {
				if err := c.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
			peer.mu.Lock()
			defer peer.mu.Unlock()
			if got := strings.Join(peer.registers, ","); got != strings.Join(tc.want, ",") {
				t.Errorf("the registrar received REGISTERs with Expires %q, want %q", got, strings.Join(tc.want, ","))
			}
			for _, err := range peer.errs {
				t.Error(err)
			}
		})
	}
}

// Package sipcall places phone-callback authentication calls over SIP: it
// dials a SIP URI or a number through a trunk, plays a prompt (G.711 over
// RTP) and waits for the callee's key press, received as RFC 4733
// telephone-events or SIP INFO. Key 1 approves; any other key or hanging up
// denies; no answer, busy and failures are reported as such.
//
// The engine knows nothing of users or devices: internal/auth decides whom
// to call and what an outcome means. See docs/telephony-sip.md.
package sipcall

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Outcome is how a call ended.
type Outcome string

const (
	Approved Outcome = "approved"  // the callee pressed 1
	Denied   Outcome = "denied"    // the callee pressed another key
	HungUp   Outcome = "hung_up"   // the callee answered and hung up without a key
	Timeout  Outcome = "timeout"   // answered, no key within AnswerTimeout (or MaxDuration)
	NoAnswer Outcome = "no_answer" // not answered within RingTimeout (CANCEL sent), or 408/480/487
	Busy     Outcome = "busy"      // 486 Busy Here, 600 Busy Everywhere, 603 Decline
	Failed   Outcome = "failed"    // any other failure; the error says why
)

// Progress is an intermediate state of a call, as Duo's auth_status reports
// them for phone callbacks.
type Progress string

const (
	Calling  Progress = "calling"  // INVITE sent
	Ringing  Progress = "ringing"  // 180/183 received
	Answered Progress = "answered" // 200 OK received, prompt playing
)

// Config is the engine's configuration. Zero durations take the defaults.
type Config struct {
	// ListenAddr is the local address for SIP ("127.0.0.1:5070"; port 0
	// picks one), a UDP socket or a TCP listener as Transport says. Its
	// IP, unless unspecified, is also the address put in Via, Contact and
	// SDP, unless AdvertiseIP is set.
	ListenAddr string
	// Transport carries SIP: "udp" (the default), "tcp" or "tls". It is
	// used for REGISTER, INVITE and every request of the call, and put in
	// Via and in the Contact and Route URIs (;transport=tcp|tls). The
	// audio (RTP) is UDP whatever it is.
	Transport string
	// TLSCAFile (PEM) holds the certificates of the CAs a TLS peer's
	// certificate must chain to; default the system's roots. The name
	// checked is the host of the request's destination: the outbound
	// proxy's, the registrar's, or a SIP URI target's. Verification is
	// never skipped.
	TLSCAFile string
	// TLSCertFile and TLSKeyFile (PEM; both or neither) are Assent's
	// certificate over TLS: shown to peers that ask for a client
	// certificate, and served on ListenAddr, where Assent then listens
	// for TLS (without them it does not listen: peers must send their
	// requests over the connections Assent opened).
	TLSCertFile, TLSKeyFile string
	// AdvertiseIP is the address the peer should reach us on (NAT).
	AdvertiseIP string
	// OutboundProxy ("host:port") receives every request (trunk or PBX).
	// A target that is not a SIP URI (a number) becomes sip:NUMBER@host of
	// the proxy, or of the registrar when there is no proxy.
	OutboundProxy string
	// Registrar ("host:port"), when set, is kept registered with
	// REGISTER every RegisterExpiry (refreshed at 80 %).
	Registrar      string
	RegisterExpiry time.Duration
	// Username and Password answer digest challenges (401/407) on INVITE
	// and REGISTER. Password comes from password_file; never logged.
	Username string
	Password string
	// From is our identity (sip:assent@example.org); default
	// sip:USERNAME@REGISTRAR-or-proxy host.
	From string
	// RTPPortMin/Max bound the local RTP ports (inclusive; default
	// 10000–20000).
	RTPPortMin, RTPPortMax int
	RingTimeout            time.Duration // default 30 s
	AnswerTimeout          time.Duration // after answer, for the key; default 20 s
	MaxDuration            time.Duration // whole call; default 90 s
	Logger                 *slog.Logger
}

func (c *Config) defaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:0"
	}
	if c.RTPPortMin == 0 && c.RTPPortMax == 0 {
		c.RTPPortMin, c.RTPPortMax = 10000, 20000
	}
	if c.RingTimeout == 0 {
		c.RingTimeout = 30 * time.Second
	}
	if c.AnswerTimeout == 0 {
		c.AnswerTimeout = 20 * time.Second
	}
	if c.MaxDuration == 0 {
		c.MaxDuration = 90 * time.Second
	}
	if c.RegisterExpiry == 0 {
		c.RegisterExpiry = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate lists every problem of the configuration.
func (c Config) Validate() error {
	var errs []error
	if _, err := netip.ParseAddrPort(c.ListenAddr); c.ListenAddr != "" && err != nil {
		errs = append(errs, fmt.Errorf("sip listen address %q: %w", c.ListenAddr, err))
	}
	if c.AdvertiseIP != "" {
		if _, err := netip.ParseAddr(c.AdvertiseIP); err != nil {
			errs = append(errs, fmt.Errorf("sip advertise IP %q: %w", c.AdvertiseIP, err))
		}
	}
	for name, hp := range map[string]string{"outbound proxy": c.OutboundProxy, "registrar": c.Registrar} {
		if hp == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(hp); err != nil {
			errs = append(errs, fmt.Errorf("sip %s %q: want host:port: %w", name, hp, err))
		}
	}
	if c.Registrar != "" && c.Username == "" {
		errs = append(errs, errors.New("sip registrar needs a username"))
	}
	switch c.Transport {
	case "", "udp", "tcp", "tls":
	default:
		errs = append(errs, fmt.Errorf("sip transport %q: want udp, tcp or tls", c.Transport))
	}
	if c.Transport == "tls" {
		if c.OutboundProxy == "" && c.Registrar == "" {
			errs = append(errs, errors.New("sip transport tls needs an outbound proxy or registrar: the host name the peer's certificate is verified against"))
		}
		if _, err := c.tlsConfig(); err != nil {
			errs = append(errs, err)
		}
	} else if c.TLSCAFile != "" || c.TLSCertFile != "" || c.TLSKeyFile != "" {
		errs = append(errs, fmt.Errorf("sip TLS certificate files are set but the transport is %s, not tls", c.transport()))
	}
	if c.RTPPortMin != 0 || c.RTPPortMax != 0 {
		if c.RTPPortMin < 1024 || c.RTPPortMax > 65535 || c.RTPPortMin > c.RTPPortMax {
			errs = append(errs, fmt.Errorf("rtp port range %d–%d: want 1024 ≤ min ≤ max ≤ 65535", c.RTPPortMin, c.RTPPortMax))
		}
	}
	for name, d := range map[string]time.Duration{"ring timeout": c.RingTimeout, "answer timeout": c.AnswerTimeout, "max call duration": c.MaxDuration, "register expiry": c.RegisterExpiry} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("sip %s %s is negative", name, d))
		}
	}
	return errors.Join(errs...)
}

// transport is Config.Transport with its default.
func (c Config) transport() string {
	if c.Transport == "" {
		return "udp"
	}
	return c.Transport
}

// tlsConfig builds the client side of TLS from the configured files,
// listing every problem with them. ServerName stays empty: sipgo sets it to
// each destination's host.
func (c Config) tlsConfig() (*tls.Config, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	var errs []error
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("sip TLS CA file: %w", err))
		default:
			conf.RootCAs = x509.NewCertPool()
			if !conf.RootCAs.AppendCertsFromPEM(pem) {
				errs = append(errs, fmt.Errorf("sip TLS CA file %s holds no PEM certificate", c.TLSCAFile))
			}
		}
	}
	switch {
	case (c.TLSCertFile == "") != (c.TLSKeyFile == ""):
		errs = append(errs, errors.New("sip TLS certificate and key files go together: set both or neither"))
	case c.TLSCertFile != "":
		pair, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("sip TLS certificate %s and key %s: %w", c.TLSCertFile, c.TLSKeyFile, err))
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return conf, nil
}

// Caller places calls. Start it once, Call concurrently, Close at the end.
type Caller struct {
	cfg    Config
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	conn   io.Closer      // the UDP socket or TCP/TLS listener; nil for TLS without a certificate
	bindIP netip.Addr     // ListenAddr's IP, RTP's too
	local  netip.AddrPort // advertised SIP address
	tls    *tls.Config    // with transport tls
	dlgUA  sipgo.DialogUA

	mu    sync.Mutex
	calls map[string]*activeCall // by Call-ID

	cancel    context.CancelFunc
	wg        sync.WaitGroup // the SIP server
	regWG     sync.WaitGroup // the registration loop
	regErr    chan error
	regCallID string
}

// New checks the configuration and prepares a Caller.
func New(cfg Config) (*Caller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	var id [12]byte
	_, _ = rand.Read(id[:])
	c := &Caller{cfg: cfg, calls: map[string]*activeCall{}, regErr: make(chan error, 1), regCallID: fmt.Sprintf("%x@assent-register", id)}
	if cfg.transport() == "tls" {
		var err error
		if c.tls, err = cfg.tlsConfig(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Start opens the SIP socket and, with a registrar, registers and keeps the
// registration fresh until Close. It returns the first registration's error
// (having closed everything it opened).
func (c *Caller) Start(ctx context.Context) error {
	bound, err := c.listen()
	if err != nil {
		return err
	}
	c.bindIP = bound.Addr()
	adv := bound.Addr()
	if c.cfg.AdvertiseIP != "" {
		adv = netip.MustParseAddr(c.cfg.AdvertiseIP)
	}
	c.local = netip.AddrPortFrom(adv, bound.Port())

	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent("Assent"), sipgo.WithUserAgentHostname(adv.String()),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(c.cfg.Logger))}
	txOpts := []sip.TransactionLayerOption{sip.WithTransactionLayerLogger(c.cfg.Logger)}
	if c.cfg.transport() != "udp" {
		// A connection that breaks (the trunk closed it, or refused our
		// certificate after the handshake) ends its transactions at once
		// rather than after timer B (32 s).
		txOpts = append(txOpts, sip.WithTransactionLayerTerminateOnConnClose())
	}
	uaOpts = append(uaOpts, sipgo.WithUserAgentTransactionLayerOptions(txOpts...))
	if c.tls != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(c.tls))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		c.closeListener()
		return fmt.Errorf("sip: user agent: %w", err)
	}
	c.ua = ua
	clientOpts := []sipgo.ClientOption{sipgo.WithClientLogger(c.cfg.Logger), sipgo.WithClientHostname(adv.String())}
	switch {
	case c.cfg.transport() == "udp":
		// Requests leave from the listening socket, so that the answers
		// and the peer's requests come back to it.
		clientOpts = append(clientOpts, sipgo.WithClientConnectionAddr(c.conn.(net.PacketConn).LocalAddr().String()),
			sipgo.WithClientPort(int(bound.Port())))
	case c.conn != nil:
		// TCP and TLS connections leave from ephemeral ports (the listener
		// holds ours); Via's sent-by names the listener (RFC 3261 §18.1.1).
		// Without a listener, sipgo puts the connection's own port there.
		clientOpts = append(clientOpts, sipgo.WithClientPort(int(bound.Port())))
	}
	c.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(c.cfg.Logger))
	if err == nil {
		c.client, err = sipgo.NewClient(ua, clientOpts...)
	}
	if err != nil {
		ua.Close()
		c.closeListener()
		return fmt.Errorf("sip: %w", err)
	}
	contact := sip.Uri{Scheme: "sip", User: "assent", Host: adv.String(), Port: int(bound.Port())}
	c.withTransport(&contact)
	c.dlgUA = sipgo.DialogUA{Client: c.client, ContactHDR: sip.ContactHeader{Address: contact}}
	c.srv.OnBye(c.onBye)
	c.srv.OnInfo(c.onInfo)
	c.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	switch l := c.conn.(type) {
	case net.PacketConn:
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			_ = c.srv.ServeUDP(l) // returns when conn is closed
		}()
		// Requests reuse the listening socket only once the transport layer
		// knows it; ServeUDP adds it from its goroutine.
		for i := 0; ; i++ {
			if cn, _ := ua.TransportLayer().GetConnection("udp", l.LocalAddr().String()); cn != nil {
				break
			}
			if i == 1000 {
				c.Close()
				return errors.New("sip: the SIP socket did not become ready")
			}
			time.Sleep(time.Millisecond)
		}
	case net.Listener:
		serve := c.srv.ServeTCP
		if c.cfg.transport() == "tls" {
			serve = c.srv.ServeTLS
		}
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			_ = serve(l) // returns when the listener is closed
		}()
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	if c.cfg.Registrar != "" {
		c.regWG.Add(1)
		go func() {
			defer c.regWG.Done()
			c.registerLoop(runCtx)
		}()
		var err error
		select {
		case err = <-c.regErr:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			c.Close()
			return err
		}
	}
	return nil
}

// listen opens ListenAddr for the transport: a UDP socket, a TCP listener,
// or with TLS a TLS listener serving Assent's certificate (none without
// one). It returns the bound address.
func (c *Caller) listen() (netip.AddrPort, error) {
	lp := netip.MustParseAddrPort(c.cfg.ListenAddr)
	family := "4"
	if lp.Addr().Is6() {
		family = "6"
	}
	switch {
	case c.cfg.transport() == "udp":
		conn, err := net.ListenPacket("udp"+family, lp.String())
		if err != nil {
			return lp, fmt.Errorf("sip: listen: %w", err)
		}
		c.conn = conn
		return netip.MustParseAddrPort(conn.LocalAddr().String()), nil
	case c.cfg.transport() == "tls" && len(c.tls.Certificates) == 0:
		return lp, nil
	}
	l, err := net.Listen("tcp"+family, lp.String())
	if err != nil {
		return lp, fmt.Errorf("sip: listen: %w", err)
	}
	bound := netip.MustParseAddrPort(l.Addr().String())
	if c.cfg.transport() == "tls" {
		l = tls.NewListener(l, &tls.Config{MinVersion: tls.VersionTLS12, Certificates: c.tls.Certificates})
	}
	c.conn = l
	return bound, nil
}

func (c *Caller) closeListener() {
	if c.conn != nil {
		c.conn.Close()
	}
}

// withTransport marks a URI of ours or of the trunk with the transport
// (;transport=tcp|tls); UDP, the default, is left unmarked.
func (c *Caller) withTransport(u *sip.Uri) {
	if t := c.cfg.transport(); t != "udp" {
		if u.UriParams == nil {
			u.UriParams = sip.NewParams()
		}
		u.UriParams.Add("transport", t)
	}
}

// sendOver makes req, and the requests sipgo derives from it (ACK, CANCEL,
// BYE, the digest retry), use the configured transport.
func (c *Caller) sendOver(req *sip.Request) {
	req.SetTransport(sip.NetworkToUpper(c.cfg.transport()))
}

// LocalAddr is the advertised SIP address (for tests and logs).
func (c *Caller) LocalAddr() netip.AddrPort { return c.local }

// Close unregisters, stops the SIP socket and waits for the engine's
// goroutines. Calls in progress end with Failed.
func (c *Caller) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.regWG.Wait() // the unregistration needs the SIP socket still open
	var err error
	if c.ua != nil {
		err = c.ua.Close()
	}
	c.closeListener()
	c.wg.Wait()
	return err
}

// host returns the host part of a host:port.
func host(hp string) string {
	h, _, err := net.SplitHostPort(hp)
	if err != nil {
		return hp
	}
	return h
}

// domain is the host numbers are dialled at and our From domain.
func (c *Caller) domain() string {
	switch {
	case c.cfg.OutboundProxy != "":
		return host(c.cfg.OutboundProxy)
	case c.cfg.Registrar != "":
		return host(c.cfg.Registrar)
	}
	return c.local.Addr().String()
}

// targetURI turns a SIP URI or a phone number into the request URI and
// the address to send it to ("" for the URI's own host).
func (c *Caller) targetURI(target string) (sip.Uri, string, error) {
	var u sip.Uri
	t := strings.TrimSpace(target)
	if lt := strings.ToLower(t); strings.HasPrefix(lt, "sip:") || strings.HasPrefix(lt, "sips:") {
		if strings.HasPrefix(lt, "sips:") && c.cfg.transport() != "tls" {
			return u, "", fmt.Errorf("sip: target %q is a SIPS URI: it needs transport tls", target)
		}
		if err := sip.ParseUri(t, &u); err != nil {
			return u, "", fmt.Errorf("sip: target %q: %w", target, err)
		}
		return u, c.cfg.OutboundProxy, nil
	}
	num := strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '(' || r == ')' || r == '.' {
			return -1
		}
		return r
	}, t)
	if num == "" || strings.Trim(num, "+0123456789") != "" || strings.LastIndex(num, "+") > 0 {
		return u, "", fmt.Errorf("sip: target %q is neither a SIP URI nor a phone number", target)
	}
	trunk := c.cfg.OutboundProxy
	if trunk == "" {
		trunk = c.cfg.Registrar
	}
	if trunk == "" {
		return u, "", fmt.Errorf("sip: calling number %q needs an outbound proxy or registrar", target)
	}
	u = sip.Uri{Scheme: "sip", User: num, Host: c.domain()}
	u.UriParams = sip.NewParams()
	u.UriParams.Add("user", "phone")
	return u, trunk, nil
}

func (c *Caller) fromHeader() (*sip.FromHeader, error) {
	var u sip.Uri
	if c.cfg.From != "" {
		if err := sip.ParseUri(c.cfg.From, &u); err != nil {
			return nil, fmt.Errorf("sip: from %q: %w", c.cfg.From, err)
		}
	} else {
		user := c.cfg.Username
		if user == "" {
			user = "assent"
		}
		u = sip.Uri{Scheme: "sip", User: user, Host: c.domain()}
	}
	f := &sip.FromHeader{DisplayName: "Assent", Address: u, Params: sip.NewParams()}
	f.Params.Add("tag", sip.GenerateTagN(16))
	return f, nil
}

// lookup finds the call an in-dialog request belongs to: its Call-ID and
// its To tag (our From tag) must match, so a request needs both random
// values of the dialog, not only the Call-ID.
func (c *Caller) lookup(req *sip.Request) *activeCall {
	id, to := req.CallID(), req.To()
	if id == nil || to == nil {
		return nil
	}
	c.mu.Lock()
	ac := c.calls[id.Value()]
	c.mu.Unlock()
	if ac == nil {
		return nil
	}
	if tag, _ := to.Params.Get("tag"); tag == "" || tag != ac.localTag {
		return nil
	}
	return ac
}

func (c *Caller) onBye(req *sip.Request, tx sip.ServerTransaction) {
	ac := c.lookup(req)
	if ac == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	ac.hangup()
}

func (c *Caller) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	ac := c.lookup(req)
	if ac == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
		return
	}
	ct := ""
	if h := req.ContentType(); h != nil {
		ct = h.Value()
	}
	d, err := ParseInfoDTMF(ct, req.Body())
	if err != nil {
		// RFC 6086 §4.2.2: an INFO package we do not understand.
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusUnsupportedMediaType, "Unsupported Media Type", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	ac.key(d)
}

// activeCall is the state the SIP handlers share with Call.
type activeCall struct {
	localTag string // our From tag
	keys     chan byte
	byeCh    chan struct{}
	byeOne   sync.Once
	armed    atomic.Bool
}

func newActiveCall(localTag string) *activeCall {
	return &activeCall{localTag: localTag, keys: make(chan byte, 8), byeCh: make(chan struct{})}
}

// arm starts taking keys: the prompt is playing.
func (a *activeCall) arm() { a.armed.Store(true) }

func (a *activeCall) key(d byte) {
	if !a.armed.Load() {
		return // before the prompt: an attendant's echo or our own extension digits
	}
	select {
	case a.keys <- d:
	default: // the first key decides; later ones are dropped
	}
}

func (a *activeCall) hangup() { a.byeOne.Do(func() { close(a.byeCh) }) }

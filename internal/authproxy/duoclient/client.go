package duoclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxParamLen is the longest parameter value sent to the API; longer ones
// are refused locally, as Duo's proxy does, so a NAS cannot make the proxy
// send arbitrarily large requests.
const maxParamLen = 2000

// maxBody bounds what is read from an answer; Duo's answers are a few KiB.
const maxBody = 1 << 20

// DefaultUserAgent is sent when Config.UserAgent is empty.
const DefaultUserAgent = "assent-authproxy/1"

// Client calls the Auth API. It is safe for concurrent use; all calls share
// one pool of keep-alive connections (conn.go).
type Client struct {
	signer  *signer
	pool    *connPool
	timeout time.Duration
}

// New checks cfg and builds a client. It does not contact the API.
func New(cfg Config) (*Client, error) {
	if cfg.IKey == "" || cfg.SKey == "" {
		return nil, errors.New("duoclient: ikey and skey are required")
	}
	host, err := apiHost(cfg.APIHost, cfg.APIPort)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("duoclient: negative api timeout %v", cfg.Timeout)
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	if !headerSafe(ua) || !headerSafe(cfg.IKey) {
		return nil, errors.New("duoclient: control characters in the user agent or ikey")
	}
	addr, serverName := host, host
	if h, _, err := net.SplitHostPort(host); err == nil {
		serverName = h
	} else {
		addr = net.JoinHostPort(host, "443")
	}
	tlsCfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		NextProtos: []string{"http/1.1"},
		// A connection opened again after idleTimeout resumes the session
		// instead of a full handshake.
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("duoclient: reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("duoclient: CA file %s holds no PEM certificate", cfg.CAFile)
		}
		tlsCfg.RootCAs = pool
	}
	d := &dialer{addr: addr, tls: tlsCfg, net: net.Dialer{KeepAlive: 30 * time.Second}}
	if cfg.HTTPProxy != "" {
		pu, err := url.Parse(cfg.HTTPProxy)
		if err != nil || pu.Host == "" || pu.Scheme != "http" || pu.User != nil || !headerSafe(pu.Host) {
			return nil, fmt.Errorf("duoclient: invalid HTTP proxy %q (want http://host:port)", cfg.HTTPProxy)
		}
		d.proxy = pu
	}
	maxConns := cfg.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	return &Client{
		signer:  newSigner(cfg.IKey, cfg.SKey, host, ua, time.Now),
		pool:    &connPool{dial: d.dial, max: maxConns, now: time.Now},
		timeout: cfg.Timeout,
	}, nil
}

// headerSafe reports whether s can go into an HTTP header as is.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

// apiHost is the host as dialled and signed: api_host, with the port
// unless it is 443. A port already in api_host wins (tests use
// "localhost:8443").
func apiHost(host string, port int) (string, error) {
	if host == "" {
		return "", errors.New("duoclient: api_host is required")
	}
	if strings.ContainsAny(host, "/?#@ ") || !headerSafe(host) {
		return "", fmt.Errorf("duoclient: api_host %q must be a host name, not a URL", host)
	}
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("duoclient: api_port %d out of range", port)
	}
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || h == "" {
			return "", fmt.Errorf("duoclient: invalid port in api_host %q", host)
		}
		if port != 0 && port != 443 && strconv.Itoa(port) != p {
			return "", fmt.Errorf("duoclient: api_host %q and api_port %d disagree", host, port)
		}
		return host, nil
	}
	if port == 0 || port == 443 {
		return host, nil
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// Host is the API host as dialled and signed (host or host:port).
func (c *Client) Host() string { return c.signer.host }

// Close closes the idle connections, and the busy ones when their call
// ends; calls made afterwards fail.
func (c *Client) Close() { c.pool.close() }

// Ping calls /auth/v2/ping and returns the server's clock, to measure drift.
func (c *Client) Ping(ctx context.Context) (time.Time, error) {
	return c.timeCall(ctx, CallPing, "/auth/v2/ping")
}

// Check calls /auth/v2/check, which proves the ikey and skey are accepted.
func (c *Client) Check(ctx context.Context) error {
	_, err := c.timeCall(ctx, CallCheck, "/auth/v2/check")
	return err
}

func (c *Client) timeCall(ctx context.Context, call Call, path string) (time.Time, error) {
	var raw json.RawMessage
	err := c.do(ctx, call, http.MethodGet, path, url.Values{}, func(status int, body []byte) (err error) {
		raw, err = classify(call, status, body)
		return err
	})
	if err != nil {
		return time.Time{}, err
	}
	var r struct {
		Time *int64 `json:"time"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || r.Time == nil {
		return time.Time{}, malformed(call, "response.time missing or not a number")
	}
	return time.Unix(*r.Time, 0), nil
}

// Preauth asks what r.Username may do (with the text_prompt menu when
// r.Menu).
func (c *Client) Preauth(ctx context.Context, r PreauthRequest) (Preauth, error) {
	p := url.Values{"username": {r.Username}}
	if r.Menu {
		p.Set("text_prompt", "1")
	}
	if r.VerifiedPush {
		p.Set("client_supports_verified_push", "1")
	}
	if validIP(r.IPAddr) {
		p.Set("ipaddr", r.IPAddr)
	}
	if r.Hostname != "" {
		p.Set("hostname", r.Hostname)
	}
	switch r.Failmode {
	case "safe":
		p.Set("failmode", "open")
	case "secure":
		p.Set("failmode", "closed")
	case "":
	default:
		return Preauth{}, &Error{Call: CallPreauth, Class: ClassClient, Message: fmt.Sprintf("unknown failmode %q", r.Failmode)}
	}
	if r.Username == "" {
		return Preauth{}, &Error{Call: CallPreauth, Class: ClassClient, Message: "empty username"}
	}
	var pre Preauth
	err := c.do(ctx, CallPreauth, http.MethodPost, "/auth/v2/preauth", p, func(status int, body []byte) (err error) {
		pre, err = decodePreauth(status, body, r.Menu)
		return err
	})
	return pre, err
}

// Auth authenticates r.Username with the user's choice from the prompt
// (a factor name or a passcode) and waits for the answer: a push or phone
// call blocks until the user responds or the server gives up.
func (c *Client) Auth(ctx context.Context, r AuthRequest) (AuthResult, error) {
	if r.Username == "" {
		return AuthResult{}, &Error{Call: CallAuth, Class: ClassClient, Message: "empty username"}
	}
	if r.Choice == "" {
		return AuthResult{}, &Error{Call: CallAuth, Class: ClassClient, Message: "empty factor or passcode"}
	}
	p := url.Values{
		"username": {r.Username},
		"factor":   {"prompt"},
		"prompt":   {r.Choice},
		"async":    {"0"},
	}
	if r.TxID != "" {
		p.Set("txid", r.TxID)
	}
	if validIP(r.IPAddr) {
		p.Set("ipaddr", r.IPAddr)
	}
	if r.Hostname != "" {
		p.Set("hostname", r.Hostname)
	}
	var res AuthResult
	err := c.do(ctx, CallAuth, http.MethodPost, "/auth/v2/auth", p, func(status int, body []byte) (err error) {
		res, err = decodeAuth(status, body)
		return err
	})
	return res, err
}

func validIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// envelope is Duo's JSON answer.
type envelope struct {
	Stat          *string         `json:"stat"`
	Response      json.RawMessage `json:"response"`
	Code          int             `json:"code"`
	Message       string          `json:"message"`
	MessageDetail string          `json:"message_detail"`
}

func (e envelope) text() string {
	if e.MessageDetail != "" {
		return e.Message + ": " + e.MessageDetail
	}
	return e.Message
}

// do sends one signed call and hands the answer to decode, which applies
// spec §3 (classify); every failure is an *Error classified for the
// failmode rules. The body is only valid during decode.
func (c *Client) do(ctx context.Context, call Call, method, path string, params url.Values, decode func(status int, body []byte) error) error {
	for k, vs := range params {
		for _, v := range vs {
			if len(v) > maxParamLen {
				return &Error{Call: call, Class: ClassClient, Message: fmt.Sprintf("parameter %s longer than %d characters", k, maxParamLen)}
			}
		}
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	bp := reqBufs.Get().(*[]byte)
	defer reqBufs.Put(bp)
	req, err := c.signer.appendRequest((*bp)[:0], method, path, params)
	*bp = req[:0]
	if err != nil {
		return &Error{Call: call, Class: ClassClient, Message: "signing the request", Err: err}
	}
	pc, _, err := c.pool.get(ctx)
	if err != nil {
		return &Error{Call: call, Class: ClassTransport, Err: err}
	}
	resp, stop, err := pc.roundTrip(ctx, req)
	if err != nil {
		c.pool.discard(pc)
		return &Error{Call: call, Class: ClassTransport, Err: err}
	}
	// The answer is read into a pooled buffer: decode copies what it
	// keeps (strings, json.RawMessage), so the buffer is free again when
	// it returns. Reading to the end lets the connection be reused.
	buf := bodyPool.Get().(*bytes.Buffer)
	defer putBody(buf)
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBody+1))
	if err == nil && buf.Len() > maxBody {
		stop()
		c.pool.discard(pc)
		return &Error{Call: call, Class: classForStatus(resp.StatusCode, ClassBadBody), HTTPStatus: resp.StatusCode, Message: "answer larger than 1 MiB"}
	}
	_ = resp.Body.Close()
	if stopped := stop(); err != nil || !pc.reusable(resp, stopped) {
		c.pool.discard(pc)
	} else {
		c.pool.put(pc)
	}
	if err != nil {
		return &Error{Call: call, Class: ClassTransport, HTTPStatus: resp.StatusCode, Message: "reading the answer", Err: ctxErr(ctx, err)}
	}
	return decode(resp.StatusCode, buf.Bytes())
}

// bodyPool holds buffers for reading answers.
var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putBody returns buf to the pool unless an unusually large answer made
// it big.
func putBody(buf *bytes.Buffer) {
	if buf.Cap() > 64<<10 {
		return
	}
	buf.Reset()
	bodyPool.Put(buf)
}

// classify applies spec §3 to one HTTP answer.
func classify(call Call, status int, body []byte) (json.RawMessage, error) {
	var env envelope
	jsonErr := json.Unmarshal(body, &env)
	switch {
	case status >= 500:
		e := &Error{Call: call, Class: ClassServer, HTTPStatus: status, Message: "server error"}
		if jsonErr == nil && env.Message != "" {
			e.Code, e.Message = env.Code, env.text()
		}
		return nil, e
	case status != http.StatusOK:
		// 4xx (bad ikey, signature, parameters), and anything else that is
		// not a plain 200 (a redirect means api_host is wrong): a
		// misconfiguration, never bypassed.
		e := &Error{Call: call, Class: ClassClient, HTTPStatus: status, Message: http.StatusText(status)}
		if jsonErr == nil && env.Message != "" {
			e.Code, e.Message = env.Code, env.text()
		}
		return nil, e
	}
	if jsonErr != nil {
		return nil, &Error{Call: call, Class: ClassBadBody, HTTPStatus: status, Message: "answer is not JSON", Err: jsonErr}
	}
	if env.Stat == nil {
		return nil, &Error{Call: call, Class: ClassBadBody, HTTPStatus: status, Message: "answer has no stat"}
	}
	switch *env.Stat {
	case "OK":
		r := env.Response
		if len(r) == 0 || string(r) == "null" {
			return nil, &Error{Call: call, Class: ClassMalformed, HTTPStatus: status, Message: "stat OK without a response"}
		}
		return r, nil
	case "FAIL":
		class := ClassClient
		if env.Code/1000 == 50 { // a 5xx-class Duo code inside a 200
			class = ClassServer
		}
		return nil, &Error{Call: call, Class: class, HTTPStatus: status, Code: env.Code, Message: env.text()}
	}
	return nil, &Error{Call: call, Class: ClassMalformed, HTTPStatus: status, Message: fmt.Sprintf("unknown stat %q", *env.Stat)}
}

func classForStatus(status int, ok Class) Class {
	switch {
	case status >= 500:
		return ClassServer
	case status != http.StatusOK:
		return ClassClient
	}
	return ok
}

func malformed(call Call, msg string) *Error {
	return &Error{Call: call, Class: ClassMalformed, HTTPStatus: http.StatusOK, Message: msg}
}

// Wire shapes of the answers; pointers tell a missing member from an empty one.

// preauthResultJSON is what every mode reads from a preauth answer.
type preauthResultJSON struct {
	Result          *string `json:"result"`
	StatusMsg       *string `json:"status_msg"`
	EnrollPortalURL string  `json:"enroll_portal_url"`
	// Groups is kept raw: a value of another shape must not fail the
	// call (see Preauth.Groups).
	Groups json.RawMessage `json:"groups"`
}

// preauthJSON adds what the modes with a menu read: the prompt and the
// devices (auto mode checks their capabilities).
type preauthJSON struct {
	preauthResultJSON
	Prompt *struct {
		Text    *string            `json:"text"`
		Factors *map[string]string `json:"factors"`
	} `json:"prompt"`
	TxID             string `json:"txid"`
	VerificationCode string `json:"verification_code"`
	Devices          []struct {
		Device       string   `json:"device"`
		Type         string   `json:"type"`
		Name         string   `json:"name"`
		DisplayName  string   `json:"display_name"`
		Capabilities []string `json:"capabilities"`
	} `json:"devices"`
}

// envelopeOf is a whole answer decoded in one pass, for the common case:
// HTTP 200, stat OK, a response of the expected shape. Code and the
// messages are decoded too, so that exactly the bodies the generic path
// (classify) refuses fail here as well.
type envelopeOf[T any] struct {
	Stat          *string `json:"stat"`
	Response      *T      `json:"response"`
	Code          int     `json:"code"`
	Message       string  `json:"message"`
	MessageDetail string  `json:"message_detail"`
}

// decodeOK decodes body in one pass into a T when it is a 200 stat OK
// answer of the right shape; otherwise ok is false and the caller takes
// the generic path, which classifies every failure.
func decodeOK[T any](status int, body []byte) (r *T, ok bool) {
	if status != http.StatusOK {
		return nil, false
	}
	var env envelopeOf[T]
	if json.Unmarshal(body, &env) != nil || env.Stat == nil || *env.Stat != "OK" || env.Response == nil {
		return nil, false
	}
	return env.Response, true
}

// decodePreauth turns a preauth answer into a Preauth or an *Error. With
// menu (the caller asked for text_prompt) the prompt and the devices are
// read too; without, only the result and its messages, so a member no one
// reads can neither cost time nor fail the call.
func decodePreauth(status int, body []byte, menu bool) (Preauth, error) {
	if menu {
		if j, ok := decodeOK[preauthJSON](status, body); ok {
			return checkPreauth(j, true)
		}
	} else if j, ok := decodeOK[preauthResultJSON](status, body); ok {
		return checkPreauth(&preauthJSON{preauthResultJSON: *j}, false)
	}
	raw, err := classify(CallPreauth, status, body)
	if err != nil {
		return Preauth{}, err
	}
	return parsePreauth(raw, menu)
}

// decodeAuth turns an auth answer into an AuthResult or an *Error.
func decodeAuth(status int, body []byte) (AuthResult, error) {
	if j, ok := decodeOK[authJSON](status, body); ok {
		return checkAuth(j)
	}
	raw, err := classify(CallAuth, status, body)
	if err != nil {
		return AuthResult{}, err
	}
	return parseAuth(raw)
}

// parsePreauth checks the fields each result needs (spec §2.1): "auth"
// must carry the prompt text and its factors map when menu (the caller
// asked for text_prompt); the others a status_msg. It reads what
// decodePreauth reads.
func parsePreauth(raw json.RawMessage, menu bool) (Preauth, error) {
	var j preauthJSON
	var err error
	if menu {
		err = json.Unmarshal(raw, &j)
	} else {
		err = json.Unmarshal(raw, &j.preauthResultJSON)
	}
	if err != nil {
		return Preauth{}, &Error{Call: CallPreauth, Class: ClassMalformed, HTTPStatus: http.StatusOK, Message: "response has the wrong shape", Err: err}
	}
	return checkPreauth(&j, menu)
}

func checkPreauth(j *preauthJSON, menu bool) (Preauth, error) {
	if j.Result == nil {
		return Preauth{}, malformed(CallPreauth, "response.result missing")
	}
	p := Preauth{Result: *j.Result, EnrollPortalURL: j.EnrollPortalURL}
	if j.StatusMsg != nil {
		p.StatusMsg = *j.StatusMsg
	}
	if len(j.Groups) > 0 {
		var gs []string
		if json.Unmarshal(j.Groups, &gs) == nil && len(gs) > 0 {
			p.Groups = gs
		}
	}
	switch p.Result {
	case "auth":
		hasMenu := j.Prompt != nil && j.Prompt.Text != nil && *j.Prompt.Text != "" && j.Prompt.Factors != nil
		if menu && !hasMenu {
			return Preauth{}, malformed(CallPreauth, "result auth without prompt text and factors")
		}
		if hasMenu {
			p.Prompt = *j.Prompt.Text
			p.Factors = *j.Prompt.Factors
		}
		p.TxID, p.VerifyCode = j.TxID, j.VerificationCode
		if len(j.Devices) > 0 {
			p.Devices = make([]Device, 0, len(j.Devices))
		}
		for _, d := range j.Devices {
			p.Devices = append(p.Devices, Device{
				ID: d.Device, Type: d.Type, Name: d.Name, DisplayName: d.DisplayName,
				Capabilities: d.Capabilities,
			})
		}
	case "allow", "deny", "enroll":
		if p.StatusMsg == "" {
			return Preauth{}, malformed(CallPreauth, "result "+p.Result+" without status_msg")
		}
		if j.Prompt != nil && j.Prompt.Text != nil {
			p.Prompt = *j.Prompt.Text
		}
	default:
		return Preauth{}, malformed(CallPreauth, fmt.Sprintf("unknown result %q", p.Result))
	}
	return p, nil
}

// authJSON is the wire shape of a synchronous auth answer.
type authJSON struct {
	Result    *string `json:"result"`
	Status    string  `json:"status"`
	StatusMsg *string `json:"status_msg"`
}

// parseAuth checks a synchronous auth answer: result allow or deny, and a
// status_msg to show the user.
func parseAuth(raw json.RawMessage) (AuthResult, error) {
	var j authJSON
	if err := json.Unmarshal(raw, &j); err != nil {
		return AuthResult{}, &Error{Call: CallAuth, Class: ClassMalformed, HTTPStatus: http.StatusOK, Message: "response has the wrong shape", Err: err}
	}
	return checkAuth(&j)
}

func checkAuth(j *authJSON) (AuthResult, error) {
	if j.Result == nil || j.StatusMsg == nil {
		return AuthResult{}, malformed(CallAuth, "response.result or response.status_msg missing")
	}
	switch *j.Result {
	case "allow", "deny":
	default:
		return AuthResult{}, malformed(CallAuth, fmt.Sprintf("unknown result %q", *j.Result))
	}
	return AuthResult{Result: *j.Result, Status: j.Status, StatusMsg: *j.StatusMsg}, nil
}

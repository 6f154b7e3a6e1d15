package bench

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
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/duosig"
)

// NewClient returns an HTTPS client whose transport keeps up to conns
// keep-alive connections to a host (MaxConnsPerHost = MaxIdleConnsPerHost
// = conns), so conns workers each sending one request at a time each keep
// their own connection. It speaks HTTP/1.1 only, as Duo's clients do; a
// zero timeout means none (callers bound requests with contexts).
func NewClient(conns int, tlsCfg *tls.Config, timeout time.Duration) *http.Client {
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: 30 * time.Second,
		MaxConnsPerHost:     conns,
		MaxIdleConnsPerHost: conns,
		MaxIdleConns:        conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// A non-nil empty map turns HTTP/2 off: one request per connection
		// at a time, as with Duo's clients.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// CloseClient closes the idle connections of a client from NewClient.
func CloseClient(c *http.Client) {
	if c != nil {
		c.CloseIdleConnections()
	}
}

// TLSConfig builds a client TLS configuration trusting the PEM CA file
// caFile (none: the system roots), or nothing with insecure.
func TLSConfig(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // explicit --insecure
	if caFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Duo sends requests signed like Duo's clients (signature v2, HMAC-SHA512,
// form bodies) to one API host.
type Duo struct {
	Host       string // host[:port], as signed and dialled
	IKey, SKey string
	Client     *http.Client
}

// Envelope is Duo's JSON answer.
type Envelope struct {
	Stat          string          `json:"stat"`
	Response      json.RawMessage `json:"response"`
	Code          int             `json:"code"`
	Message       string          `json:"message"`
	MessageDetail string          `json:"message_detail"`
}

// APIError is an answer other than HTTP 2xx with "stat": "OK".
type APIError struct {
	Status  int
	Code    int
	Message string
}

func (e *APIError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("HTTP %d, Duo code %d: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message)
}

// Call signs and sends one request and decodes the envelope's response
// into out (which may be nil).
func (d *Duo) Call(ctx context.Context, method, path string, params url.Values, out any) error {
	s := duosig.Signer{IKey: d.IKey, SKey: d.SKey, Host: d.Host, Version: 2, Digest: duosig.SHA512}
	req, err := s.NewRequest(ctx, method, path, params)
	if err != nil {
		return err
	}
	return do(d.Client, req, out)
}

func do(c *http.Client, req *http.Request, out any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &APIError{Status: resp.StatusCode, Message: "not a Duo JSON answer: " + msg}
	}
	if resp.StatusCode/100 != 2 || env.Stat != "OK" {
		msg := env.Message
		if env.MessageDetail != "" {
			msg += " (" + env.MessageDetail + ")"
		}
		return &APIError{Status: resp.StatusCode, Code: env.Code, Message: msg}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Response, out)
}

// answer is the part of preauth and auth answers the scenarios check.
type answer struct {
	Result string `json:"result"`
	Status string `json:"status"`
	TxID   string `json:"txid"`
}

// Preauth asks preauth about username and returns its result.
func (d *Duo) Preauth(ctx context.Context, username string) (string, error) {
	var r answer
	err := d.Call(ctx, http.MethodPost, "/auth/v2/preauth", url.Values{"username": {username}}, &r)
	return r.Result, err
}

// Passcode authenticates username with a passcode and returns the result.
func (d *Duo) Passcode(ctx context.Context, username, passcode string) (string, error) {
	var r answer
	err := d.Call(ctx, http.MethodPost, "/auth/v2/auth",
		url.Values{"username": {username}, "factor": {"passcode"}, "passcode": {passcode}}, &r)
	return r.Result, err
}

// pushParams are the auth parameters of a push to device ("" or "auto":
// the user's first device).
func pushParams(username, device string) url.Values {
	if device == "" {
		device = "auto"
	}
	return url.Values{"username": {username}, "factor": {"push"}, "device": {device}}
}

// PushAsync starts a push to a device of the user and returns its txid.
func (d *Duo) PushAsync(ctx context.Context, username, device string) (string, error) {
	var r answer
	p := pushParams(username, device)
	p.Set("async", "1")
	err := d.Call(ctx, http.MethodPost, "/auth/v2/auth", p, &r)
	if err == nil && r.TxID == "" {
		err = errors.New("async auth answered without a txid")
	}
	return r.TxID, err
}

// PushSync sends a push to a device of the user and waits for its
// decision (result, status).
func (d *Duo) PushSync(ctx context.Context, username, device string) (result, status string, err error) {
	var r answer
	err = d.Call(ctx, http.MethodPost, "/auth/v2/auth", pushParams(username, device), &r)
	return r.Result, r.Status, err
}

// Enroll asks /auth/v2/enroll for an activation code (duo://…) for username.
func (d *Duo) Enroll(ctx context.Context, username string) (string, error) {
	var r struct {
		ActivationCode string `json:"activation_code"`
	}
	err := d.Call(ctx, http.MethodPost, "/auth/v2/enroll", url.Values{"username": {username}}, &r)
	if err == nil && r.ActivationCode == "" {
		err = errors.New("enroll answered without an activation code")
	}
	return r.ActivationCode, err
}

// AuthScenario is Duo's usual login: preauth, then auth with a passcode
// (for a benchmark, an unlimited-use bypass code), each a request of its own.
func AuthScenario(d *Duo, username, passcode string) Scenario {
	return Scenario{
		Name:   "auth",
		Target: "https://" + d.Host,
		Steps: []Step{
			{Name: "preauth", Do: func(ctx context.Context) (bool, error) {
				r, err := d.Preauth(ctx, username)
				return r == "auth" || r == "allow", err
			}},
			{Name: "auth", Do: func(ctx context.Context) (bool, error) {
				r, err := d.Passcode(ctx, username, passcode)
				return r == "allow", err
			}},
		},
	}
}

// PasscodeScenario is auth with a passcode alone, one request per step.
func PasscodeScenario(d *Duo, username, passcode string) Scenario {
	sc := AuthScenario(d, username, passcode)
	sc.Name, sc.Steps = "passcode", sc.Steps[1:]
	return sc
}

// HelloScenario is GET url expecting 200 and the body "hello".
func HelloScenario(c *http.Client, url string) Scenario {
	want := []byte(helloBody)
	return Scenario{
		Name:   "hello",
		Target: url,
		Steps: []Step{{Name: "hello", Do: func(ctx context.Context) (bool, error) {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return false, err
			}
			resp, err := c.Do(req)
			if err != nil {
				return false, err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
			if err != nil {
				return false, err
			}
			if resp.StatusCode != http.StatusOK {
				return false, &APIError{Status: resp.StatusCode, Message: string(body)}
			}
			return bytes.Equal(body, want), nil
		}}},
	}
}

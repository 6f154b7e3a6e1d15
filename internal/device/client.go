package device

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/assent-auth/assent/internal/httpapi"
)

// Platform is what `assent device` reports when it activates.
const Platform = "Assent CLI"

// Client is an activated authenticator: what Duo Mobile keeps after
// activation, and the signed requests it makes. Its requests may run
// concurrently; Passcode and Save may not run concurrently with each other.
type Client struct {
	Host         string // API host[:port] from the activation code
	PKey         string // device ID
	AKey         string
	HOTPSecret   string
	HOTPCounter  int64 // the counter of the next passcode
	CustomerName string
	Key          *rsa.PrivateKey
	// CAFile is the PEM CA the server's certificate must chain to; empty
	// means the system roots. Used when HTTPClient is nil.
	CAFile string
	// HTTPClient sends the requests; nil means one trusting CAFile.
	HTTPClient *http.Client
	// Now is the clock requests are dated with; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex // guards the lazy creation of HTTPClient
}

// ActivateOptions tune Activate.
type ActivateOptions struct {
	Name     string // device_name; default "assent device"
	Platform string // default Platform
	CAFile   string
	// HTTPClient sends the activation (and later requests); nil means one
	// trusting CAFile.
	HTTPClient *http.Client
	// Key is the device key; nil generates a 2048-bit RSA key.
	Key *rsa.PrivateKey
}

// ParseCode splits an activation code — "duo://<code>-<base64 host>",
// "<code>-<base64 host>", optionally in <…> — into the code and the API
// host. The host is base64 with its padding stripped (spec §5.1).
func ParseCode(s string) (code, host string, err error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">")
	s = strings.TrimPrefix(s, "duo://")
	code, b64, ok := strings.Cut(s, "-")
	if !ok || code == "" || b64 == "" {
		// The input is (or may be) a bearer secret: not quoted in the error.
		return "", "", errors.New("the activation code is not duo://<code>-<base64 host>")
	}
	if n := len(b64) % 4; n != 0 {
		b64 += strings.Repeat("=", 4-n)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if raw, err = base64.URLEncoding.DecodeString(b64); err != nil {
			return "", "", fmt.Errorf("activation code: the host part is not base64: %w", err)
		}
	}
	host = string(raw)
	if host == "" || strings.ContainsAny(host, "/?#@ \t\r\n") {
		return "", "", fmt.Errorf("activation code: %q is not a hostname", host)
	}
	return code, host, nil
}

// Activate activates a new device with an activation code, as Duo Mobile
// does: it posts a fresh RSA public key and keeps the answer.
func Activate(ctx context.Context, activationCode string, opts ActivateOptions) (*Client, error) {
	code, host, err := ParseCode(activationCode)
	if err != nil {
		return nil, err
	}
	key := opts.Key
	if key == nil {
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("generate device key: %w", err)
		}
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encode device key: %w", err)
	}
	name, platform := opts.Name, opts.Platform
	if name == "" {
		name = "assent device"
	}
	if platform == "" {
		platform = Platform
	}
	c := &Client{Host: host, Key: key, CAFile: opts.CAFile, HTTPClient: opts.HTTPClient}
	params := url.Values{
		"pubkey":      {string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))},
		"pkpush":      {"rsa-sha512"},
		"platform":    {platform},
		"device_name": {name},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"https://"+host+"/push/v2/activation/"+url.PathEscape(code)+"?customer_protocol=1",
		strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var resp struct {
		AKey         string `json:"akey"`
		PKey         string `json:"pkey"`
		HOTPSecret   string `json:"hotp_secret"`
		CustomerName string `json:"customer_name"`
	}
	if err := c.send(req, &resp); err != nil {
		// A transport error names the URL, whose path holds the code.
		var ue *url.Error
		if errors.As(err, &ue) {
			ue.URL = "https://" + host + "/push/v2/activation/" + httpapi.Redacted
		}
		return nil, fmt.Errorf("activate: %w", err)
	}
	if resp.PKey == "" || resp.HOTPSecret == "" {
		return nil, errors.New("activate: the answer has no pkey or hotp_secret")
	}
	c.PKey, c.AKey, c.HOTPSecret, c.CustomerName = resp.PKey, resp.AKey, resp.HOTPSecret, resp.CustomerName
	return c, nil
}

// APIError is a Duo failure answer.
type APIError struct {
	Status  int // HTTP status
	Code    int
	Message string
	Detail  string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("HTTP %d: %d %s", e.Status, e.Code, e.Message)
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Pending lists the pushes waiting for this device.
func (c *Client) Pending(ctx context.Context) ([]Transaction, error) {
	var resp transactionsResponse
	if err := c.Do(ctx, http.MethodGet, "/push/v2/device/transactions", c.stdParams(), &resp); err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	return resp.Transactions, nil
}

// Answer approves or denies a push.
func (c *Client) Answer(ctx context.Context, txid string, approve bool) error {
	answer := AnswerDeny
	if approve {
		answer = AnswerApprove
	}
	_, err := c.AnswerWith(ctx, txid, answer, "")
	return err
}

// AnswerWith sends answer (AnswerApprove, AnswerDeny or AnswerFraud) to a
// push, with the Verified Push code when code is not empty, and returns
// the server's result: approve, deny (also for a wrong code) or fraud.
func (c *Client) AnswerWith(ctx context.Context, txid, answer, code string) (string, error) {
	p := c.stdParams()
	p.Set("answer", answer)
	if code != "" {
		p.Set("step_up_code", code)
	}
	var res answerResponse
	if err := c.Do(ctx, http.MethodPost, "/push/v2/device/transactions/"+url.PathEscape(txid), p, &res); err != nil {
		return "", fmt.Errorf("answer %s: %w", txid, err)
	}
	return res.Result, nil
}

// Info fetches what the server knows about this device.
func (c *Client) Info(ctx context.Context) (Info, error) {
	var info Info
	if err := c.Do(ctx, http.MethodGet, "/push/v2/device/info", c.stdParams(), &info); err != nil {
		return Info{}, fmt.Errorf("device info: %w", err)
	}
	return info, nil
}

// RegisterPushToken registers a push notification token (e.g. "GCM:…").
func (c *Client) RegisterPushToken(ctx context.Context, token string) error {
	p := c.stdParams()
	p.Set("token", token)
	if err := c.Do(ctx, http.MethodPost, "/push/v2/device/registration", p, nil); err != nil {
		return fmt.Errorf("register push token: %w", err)
	}
	return nil
}

// stdParams are the parameters Duo Mobile clients send with every request.
func (c *Client) stdParams() url.Values {
	return url.Values{"akey": {c.AKey}, "fips_status": {"1"}, "hsm_status": {"true"}, "pkpush": {"rsa-sha512"}}
}

// Passcode returns the HOTP passcode for the current counter and advances
// the counter; Save the client afterwards so no code is issued twice.
func (c *Client) Passcode() (string, error) {
	code, err := HOTP(c.HOTPSecret, c.HOTPCounter)
	if err != nil {
		return "", err
	}
	c.HOTPCounter++
	return code, nil
}

// HOTP is Duo Mobile's passcode: RFC 4226, SHA-1, 6 digits, keyed with the
// ASCII bytes of the hotp_secret string (spec §5.7).
func HOTP(secret string, counter int64) (string, error) {
	if secret == "" || counter < 0 {
		return "", errors.New("device: no HOTP secret or a negative counter")
	}
	key := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(secret))
	return hotp.GenerateCodeCustom(key, uint64(counter), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// dateFormat is RFC 2822 with "-0000", as the Python clients send it.
const dateFormat = "Mon, 02 Jan 2006 15:04:05 -0000"

// NewRequest builds a request signed as Duo Mobile signs (spec §5.3):
// parameters sorted and form-encoded in the query for GET and in the body
// otherwise, and the canonical string signed with RSA-SHA512.
func (c *Client) NewRequest(ctx context.Context, method, path string, params url.Values) (*http.Request, error) {
	if c.Key == nil || c.PKey == "" {
		return nil, errors.New("device: the client is not activated")
	}
	method = strings.ToUpper(method)
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	date := now().UTC().Format(dateFormat)
	enc := params.Encode()
	canon := date + "\n" + method + "\n" + strings.ToLower(c.Host) + "\n" + path + "\n" + enc
	h := sha512.Sum512([]byte(canon))
	sig, err := rsa.SignPKCS1v15(rand.Reader, c.Key, crypto.SHA512, h[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	u := "https://" + c.Host + path
	var body io.Reader
	if method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete {
		if enc != "" {
			u += "?" + enc
		}
	} else {
		body = strings.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString(
		[]byte(c.PKey+":"+base64.StdEncoding.EncodeToString(sig))))
	req.Header.Set("X-Duo-Date", date)
	return req, nil
}

// Do sends a signed request and decodes the "response" of an OK answer
// into out (if not nil). A failure answer is an *APIError.
func (c *Client) Do(ctx context.Context, method, path string, params url.Values, out any) error {
	req, err := c.NewRequest(ctx, method, path, params)
	if err != nil {
		return err
	}
	return c.send(req, out)
}

func (c *Client) send(req *http.Request, out any) error {
	hc, err := c.httpClient()
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "assent-device")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	var env struct {
		Stat          string          `json:"stat"`
		Response      json.RawMessage `json:"response"`
		Code          int             `json:"code"`
		Message       string          `json:"message"`
		MessageDetail string          `json:"message_detail"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("HTTP %s: not a Duo answer: %.200q", resp.Status, body)
	}
	if env.Stat != "OK" || resp.StatusCode/100 != 2 {
		return &APIError{Status: resp.StatusCode, Code: env.Code, Message: env.Message, Detail: env.MessageDetail}
	}
	if out != nil {
		if err := json.Unmarshal(env.Response, out); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
	}
	return nil
}

func (c *Client) httpClient() (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.HTTPClient != nil {
		return c.HTTPClient, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	c.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment,
	}}
	return c.HTTPClient, nil
}

// state is the saved form of a Client.
type state struct {
	Host         string `json:"host"`
	PKey         string `json:"pkey"`
	AKey         string `json:"akey"`
	HOTPSecret   string `json:"hotp_secret"`
	HOTPCounter  int64  `json:"hotp_counter"`
	CustomerName string `json:"customer_name,omitempty"`
	PrivateKey   string `json:"private_key"`
	CAFile       string `json:"ca_file,omitempty"`
}

// Save writes the client to path (mode 0600: it holds the device key and
// the HOTP secret), replacing the file atomically so an interrupted write
// never loses an activated device.
func (c *Client) Save(path string) error {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		return fmt.Errorf("encode device key: %w", err)
	}
	b, err := json.MarshalIndent(state{
		Host: c.Host, PKey: c.PKey, AKey: c.AKey, HOTPSecret: c.HOTPSecret, HOTPCounter: c.HOTPCounter,
		CustomerName: c.CustomerName, CAFile: c.CAFile,
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("save device: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("save device: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save device: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save device: %w", err)
	}
	return nil
}

// Load reads a client saved by Save.
func Load(path string) (*Client, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load device: %w", err)
	}
	var s state
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("load device %s: %w", path, err)
	}
	block, _ := pem.Decode([]byte(s.PrivateKey))
	if block == nil {
		return nil, fmt.Errorf("load device %s: no PEM private key", path)
	}
	var key any
	switch block.Type {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("load device %s: private key: %w", path, err)
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("load device %s: the private key is not RSA", path)
	}
	if s.Host == "" || s.PKey == "" {
		return nil, fmt.Errorf("load device %s: host or pkey missing", path)
	}
	return &Client{
		Host: s.Host, PKey: s.PKey, AKey: s.AKey, HOTPSecret: s.HOTPSecret, HOTPCounter: s.HOTPCounter,
		CustomerName: s.CustomerName, CAFile: s.CAFile, Key: rk,
	}, nil
}

// Package webpushtest is a Web Push service on loopback for tests (RFC
// 8030 §5): it checks the VAPID token (RFC 8292) as a real push service
// does and, playing the browser, decrypts each message (RFC 8291) with the
// subscription's private key, which the test holds.
package webpushtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Subscription is a subscription whose keys the test holds.
type Subscription struct {
	priv *ecdh.PrivateKey
	auth []byte
}

// NewSubscription makes a subscription's key pair and secret.
func NewSubscription(t testing.TB) Subscription {
	t.Helper()
	priv, err := ecdh.P256().GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	auth := make([]byte, 16)
	for i := range auth {
		auth[i] = byte(i * 7)
	}
	return Subscription{priv: priv, auth: auth}
}

// P256DH is the public key as a browser gives it.
func (b Subscription) P256DH() string {
	return base64.RawURLEncoding.EncodeToString(b.priv.PublicKey().Bytes())
}

// AuthKey is the authentication secret as a browser gives it.
func (b Subscription) AuthKey() string { return base64.RawURLEncoding.EncodeToString(b.auth) }

func hmacSHA256(key []byte, parts ...[]byte) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// Decrypt opens an aes128gcm body (RFC 8188 §2, keys from RFC 8291 §3.4)
// of one record.
func (b Subscription) Decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("short body")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || idlen != 65 {
		return nil, fmt.Errorf("keyid length %d, want 65 (the server's public key)", idlen)
	}
	asPublic, ct := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ct)) > rs {
		return nil, fmt.Errorf("%d bytes of ciphertext in a record of %d", len(ct), rs)
	}
	as, err := ecdh.P256().NewPublicKey(asPublic)
	if err != nil {
		return nil, err
	}
	shared, err := b.priv.ECDH(as)
	if err != nil {
		return nil, err
	}
	prkKey := hmacSHA256(b.auth, shared)
	keyInfo := append(append([]byte("WebPush: info\x00"), b.priv.PublicKey().Bytes()...), asPublic...)
	ikm := hmacSHA256(prkKey, keyInfo, []byte{1})
	prk := hmacSHA256(salt, ikm)
	cek := hmacSHA256(prk, []byte("Content-Encoding: aes128gcm\x00\x01"))[:16]
	nonce := hmacSHA256(prk, []byte("Content-Encoding: nonce\x00\x01"))[:12]
	blk, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(blk)
	if err != nil {
		return nil, err
	}
	pt, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, err
	}
	pt = bytes.TrimRight(pt, "\x00")
	if len(pt) == 0 || pt[len(pt)-1] != 2 {
		return nil, errors.New("no last-record delimiter")
	}
	return pt[:len(pt)-1], nil
}

// CheckVAPID verifies "vapid t=<JWT>, k=<key>" (RFC 8292 §3): an ES256
// JWT signed by k, aud the push service's origin, exp in the future and at
// most 24 hours away, sub a contact.
func CheckVAPID(h, wantAud, wantKey string, now time.Time) error {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return fmt.Errorf("the Authorization header %q is not vapid", h)
	}
	var tok, key string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			tok = v
		case "k":
			key = v
		}
	}
	if key != wantKey {
		return fmt.Errorf("k=%q, want the server's VAPID key %q", key, wantKey)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return fmt.Errorf("t is not a JWS")
	}
	var hdr struct{ Alg, Typ string }
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != "ES256" {
		return fmt.Errorf("JWT header %s: want alg ES256", hb)
	}
	kb, _ := base64.RawURLEncoding.DecodeString(key)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), kb)
	if err != nil {
		return errors.New("k is not a P-256 point")
	}
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if len(sig) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) { // JWS ES256: r || s
		return errors.New("the JWT signature does not verify with k")
	}
	var claims struct {
		Aud string
		Exp int64
		Sub string
	}
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(cb, &claims); err != nil {
		return err
	}
	if claims.Aud != wantAud {
		return fmt.Errorf("aud %q, want %q", claims.Aud, wantAud)
	}
	if exp := time.Unix(claims.Exp, 0); !exp.After(now) || exp.After(now.Add(24*time.Hour)) {
		return fmt.Errorf("exp %v is not within 24 h from now", exp)
	}
	if !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https:") {
		return fmt.Errorf("sub %q is no contact", claims.Sub)
	}
	return nil
}

// PushService is the loopback push service.
type PushService struct {
	*httptest.Server
	Sub Subscription
	// VAPIDKey is the key the server must sign with.
	VAPIDKey string

	mu       sync.Mutex
	status   int
	messages [][]byte
	errs     []error
}

// Received returns the messages decrypted so far and the requests refused.
func (ps *PushService) Received() (messages [][]byte, errs []error) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([][]byte(nil), ps.messages...), append([]error(nil), ps.errs...)
}

// StartPushService serves on loopback over TLS until the test ends.
func StartPushService(t testing.TB) *PushService {
	ps := &PushService{Sub: NewSubscription(t), status: http.StatusCreated}
	ps.Server = httptest.NewTLSServer(http.HandlerFunc(ps.serve))
	t.Cleanup(ps.Close)
	return ps
}

// Endpoint is the subscription's endpoint.
func (ps *PushService) Endpoint() string { return ps.URL + "/push/send/abcdef0123456789" }

// Answer makes the service answer code from now on.
func (ps *PushService) Answer(code int) {
	ps.mu.Lock()
	ps.status = code
	ps.mu.Unlock()
}

func (ps *PushService) serve(w http.ResponseWriter, r *http.Request) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	fail := func(err error) {
		ps.errs = append(ps.errs, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/push/send/abcdef0123456789" {
		fail(fmt.Errorf("%s %s", r.Method, r.URL.Path))
		return
	}
	if err := CheckVAPID(r.Header.Get("Authorization"), ps.URL, ps.VAPIDKey, time.Now()); err != nil {
		fail(err)
		return
	}
	if r.Header.Get("Content-Encoding") != "aes128gcm" || r.Header.Get("TTL") == "" {
		fail(fmt.Errorf("headers Content-Encoding %q TTL %q", r.Header.Get("Content-Encoding"), r.Header.Get("TTL")))
		return
	}
	body, _ := io.ReadAll(r.Body)
	pt, err := ps.Sub.Decrypt(body)
	if err != nil {
		fail(fmt.Errorf("decrypt: %w", err))
		return
	}
	ps.messages = append(ps.messages, pt)
	w.WriteHeader(ps.status)
}

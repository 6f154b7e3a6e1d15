package universal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWT rules shared by every Universal Prompt SDK (duo_universal_golang,
// _python, _nodejs, _java): HS512 keyed by the client secret, 60 s leeway.
const (
	algHS512 = "HS512"
	// Leeway is the clock skew tolerated on exp (and nbf), as in the SDKs.
	Leeway = 60 * time.Second
	// maxJWTLen bounds tokens before any parsing. SDK tokens are well under
	// 2 KiB; a request JWT carries a state of at most 1024 characters.
	maxJWTLen = 16 << 10
	// maxAssertionLife bounds how far in the future a client assertion may
	// expire. The SDKs use 300 s (Java 3600 s); the bound keeps the table of
	// seen assertion IDs small.
	maxAssertionLife = 24 * time.Hour
)

// parser accepts HS512 only (no alg confusion: "none", RS*, HS256 are all
// refused before the key is used), requires exp and checks it against now
// with the SDKs' leeway.
func parser(now func() time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{algHS512}),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(now),
		jwt.WithExpirationRequired(),
	)
}

// parseHS512 verifies token with secret into claims. It returns a short
// reason on failure, safe to show to the client that sent the token.
func parseHS512(token, secret string, now func() time.Time, claims jwt.Claims) error {
	if len(token) > maxJWTLen {
		return errors.New("the JWT is too long")
	}
	_, err := parser(now).ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// WithValidMethods already refused others; checked again here so
		// the key is never handed to another algorithm.
		if t.Method != jwt.SigningMethodHS512 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return []byte(secret), nil
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("the JWT is malformed")
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errors.New("the JWT signature is invalid or not HS512")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errors.New("the JWT has no exp claim")
	case errors.Is(err, jwt.ErrTokenExpired):
		return errors.New("the JWT has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return errors.New("the JWT is not valid yet")
	}
	return errors.New("the JWT is invalid")
}

// peekIssuer reads iss (or sub) from a token without verifying it, to find
// the client when a request names none (duo_universal_java sends no
// client_id to the token endpoint). The result only selects the key.
func peekIssuer(token string) string {
	if len(token) > maxJWTLen {
		return ""
	}
	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(token, &c); err != nil {
		return ""
	}
	if c.Issuer != "" {
		return c.Issuer
	}
	return c.Subject
}

// signHS512 returns a compact JWS of claims (marshalled as JSON as they
// are: a string aud stays a string, as duo_universal_java requires).
func signHS512(claims any, secret string) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("marshal claims: %w", err)
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS512","typ":"JWT"}`)) + "." + enc.EncodeToString(payload)
	sig, err := jwt.SigningMethodHS512.Sign(signing, []byte(secret))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return signing + "." + enc.EncodeToString(sig), nil
}

// hostVariants are the spellings of the public hostnames a client may have
// configured: "host" and "host:443" are the same HTTPS origin.
func hostVariants(hosts []string) []string {
	var out []string
	for _, h := range hosts {
		h = strings.ToLower(h)
		switch {
		case strings.HasSuffix(h, ":443"):
			out = append(out, h, strings.TrimSuffix(h, ":443"))
		case strings.Contains(h, ":") && !strings.HasSuffix(h, "]"):
			out = append(out, h)
		default:
			out = append(out, h, h+":443")
		}
	}
	return out
}

// matchURL returns the candidate among auds that equals https://<host><path>
// for one of the host variants (case-insensitively, as hosts are), or "".
func matchURL(auds []string, hosts []string, path string) string {
	for _, a := range auds {
		for _, h := range hosts {
			if strings.EqualFold(a, "https://"+h+path) {
				return a
			}
		}
	}
	return ""
}

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
	// Leeway is how long after exp a JWT is still accepted, as in the SDKs.
	Leeway = 60 * time.Second
	// DefaultMaxJWTLifetime bounds how far ahead of now (plus the clock
	// skew) a request JWT or client assertion may expire. The SDKs sign for
	// 300 s; releases of duo_universal_java before it moved to 300 s signed
	// for 3600 s and need API.MaxJWTLifetime raised to 1h.
	DefaultMaxJWTLifetime = 5 * time.Minute
	// maxJWTLen bounds tokens before any parsing. SDK tokens are well under
	// 2 KiB; a request JWT carries a state of at most 1024 characters.
	maxJWTLen = 16 << 10
)

// parser accepts HS512 only (no alg confusion: "none", RS*, HS256 are all
// refused before the key is used). The time claims are checked by
// checkTimes, with bounds of its own.
func parser() *jwt.Parser {
	return jwt.NewParser(jwt.WithValidMethods([]string{algHS512}), jwt.WithoutClaimsValidation())
}

// lifetime is what a JWT's time claims are checked against.
type lifetime struct {
	now time.Time
	// skew is how far ahead of now iat and nbf may be, and exp beyond max:
	// the clocks of the application and of Assent may differ this much.
	skew time.Duration
	max  time.Duration // how far ahead of now exp may be (plus skew)
}

func (a *API) lifetime() lifetime {
	lt := lifetime{now: a.now(), skew: a.ClockSkew, max: a.MaxJWTLifetime}
	if lt.skew <= 0 {
		lt.skew = Leeway
	}
	if lt.max <= 0 {
		lt.max = DefaultMaxJWTLifetime
	}
	return lt
}

// parseHS512 verifies token with secret into claims and checks its time
// claims against lt. It returns a short reason on failure, safe to show to
// the client that sent the token.
func parseHS512(token, secret string, lt lifetime, claims jwt.Claims) error {
	if len(token) > maxJWTLen {
		return errors.New("the JWT is too long")
	}
	_, err := parser().ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		// WithValidMethods already refused others; checked again here so
		// the key is never handed to another algorithm.
		if t.Method != jwt.SigningMethodHS512 {
			return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
		}
		return []byte(secret), nil
	})
	switch {
	case err == nil:
		return checkTimes(claims, lt)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errors.New("the JWT is malformed")
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errors.New("the JWT signature is invalid or not HS512")
	}
	return errors.New("the JWT is invalid")
}

// checkTimes requires exp, no more than lt.max (plus the skew) ahead and
// not more than Leeway behind; iat, when present, and nbf, when present,
// no more than the skew ahead. Without an upper bound on exp, a token
// captured once (from a browser history, a proxy log) would start prompts
// for years.
func checkTimes(c jwt.Claims, lt lifetime) error {
	exp, err := c.GetExpirationTime()
	if err != nil {
		return errors.New("the JWT's exp claim is not a number")
	}
	if exp == nil {
		return errors.New("the JWT has no exp claim")
	}
	if !lt.now.Before(exp.Add(Leeway)) {
		return errors.New("the JWT has expired")
	}
	if exp.After(lt.now.Add(lt.max + lt.skew)) {
		return fmt.Errorf("the JWT's exp is more than %s ahead", minutes(lt.max))
	}
	latest := lt.now.Add(lt.skew)
	iat, err := c.GetIssuedAt()
	if err != nil {
		return errors.New("the JWT's iat claim is not a number")
	}
	if iat != nil && iat.After(latest) {
		return errors.New("the JWT's iat is in the future")
	}
	nbf, err := c.GetNotBefore()
	if err != nil {
		return errors.New("the JWT's nbf claim is not a number")
	}
	if nbf != nil && nbf.After(latest) {
		return errors.New("the JWT is not valid yet")
	}
	return nil
}

// minutes writes d for people: "5 minutes", "90 seconds".
func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		if d == time.Minute {
			return "1 minute"
		}
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return fmt.Sprintf("%d seconds", d/time.Second)
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

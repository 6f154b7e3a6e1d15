package universal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// clientAssertionType is the only client authentication the SDKs use.
const clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// grant is what an authorization code stands for: who authenticated, how,
// for which client and redirect URI. It is the code's payload in the
// single-use token table.
type grant struct {
	ClientID    string `json:"client_id"`
	RedirectURI string `json:"redirect_uri"`
	Username    string `json:"username"` // duo_uname exactly as the application sent it
	UserKey     string `json:"user_key,omitempty"`
	Nonce       string `json:"nonce,omitempty"`
	AuthTime    int64  `json:"auth_time"`
	TxID        string `json:"txid"`
	Result      string `json:"result"` // "allow"
	Status      string `json:"status"` // "allow", "bypass"
	StatusMsg   string `json:"status_msg"`
	Factor      string `json:"factor"`
	Reason      string `json:"reason"`
	AppName     string `json:"app_name"`
	DeviceKey   string `json:"device_key,omitempty"`
	DeviceName  string `json:"device_name,omitempty"`
	IP          string `json:"ip,omitempty"` // the browser's address
	UserAgent   string `json:"user_agent,omitempty"`
	// Groups names the user's groups when the prompt finished, as Duo's
	// auth_context.user.groups.
	Groups []string `json:"groups,omitempty"`
}

// issueCode stores g under a fresh authorization code and returns the code.
func (a *API) issueCode(ctx context.Context, g grant) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	code := base64.RawURLEncoding.EncodeToString(b[:])
	payload, err := json.Marshal(g)
	if err != nil {
		return "", err
	}
	now := a.now()
	err = a.Tokens.PutOnetime(ctx, store.Onetime{
		Hash:    a.Hasher.KeyedHash(kindCode, code),
		Kind:    kindCode,
		Payload: payload,
		Expires: now.Add(a.codeTTL()),
		Created: now,
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// token answers POST /oauth/v1/token: the application exchanges the code
// for an id_token, authenticating with a client assertion.
func (a *API) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", desc: "Use POST."})
		return
	}
	resp, oe := a.exchange(w, r)
	if oe != nil {
		writeOAuthError(w, oe)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

type tokenResponse struct {
	IDToken     string `json:"id_token"`
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	TokenType   string `json:"token_type"`
}

func (a *API) exchange(w http.ResponseWriter, r *http.Request) (*tokenResponse, *oauthError) {
	ctx := r.Context()
	p, oe := readParams(w, r)
	if oe != nil {
		return nil, oe
	}
	if gt := p.Get("grant_type"); gt != "authorization_code" {
		return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "The grant_type must be authorization_code."}
	}
	if t := p.Get("client_assertion_type"); t != clientAssertionType {
		return nil, invalidClient("The client_assertion_type must be " + clientAssertionType + ".")
	}
	c, oe := a.authenticateClient(ctx, p.Get("client_id"), p.Get("client_assertion"), PathToken)
	if oe != nil {
		return nil, oe
	}
	httpapi.SetIKey(ctx, c.in.IKey)
	if oe := a.useAssertion(ctx, c); oe != nil {
		return nil, oe
	}
	code := p.Get("code")
	if code == "" || len(code) > 256 {
		return nil, invalidGrant("The code parameter is missing or malformed.")
	}
	const badGrant = "The provided authorization grant or refresh token is invalid, expired, revoked, does not match the redirection URI."
	// Taking the code uses it up even if a check below fails: a code is
	// tried once (RFC 6749 §4.1.2).
	tok, err := a.Tokens.TakeOnetime(ctx, kindCode, a.Hasher.KeyedHash(kindCode, code), a.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, invalidGrant(badGrant)
	}
	if err != nil {
		a.logger(ctx).Error("universal: take authorization code", "client_id", c.in.IKey, "err", err)
		return nil, errServer
	}
	var g grant
	if err := json.Unmarshal(tok.Payload, &g); err != nil {
		a.logger(ctx).Error("universal: authorization code payload", "client_id", c.in.IKey, "err", err)
		return nil, errServer
	}
	if !equal(g.ClientID, c.in.IKey) {
		a.logger(ctx).Warn("universal: authorization code presented by another client", "client_id", c.in.IKey)
		return nil, invalidGrant(badGrant)
	}
	if p.Get("redirect_uri") != g.RedirectURI {
		return nil, invalidGrant(badGrant)
	}
	now := a.now()
	idToken, err := signHS512(a.idTokenClaims(c, g, now), c.secret)
	if err != nil {
		a.logger(ctx).Error("universal: sign id_token", "client_id", c.in.IKey, "err", err)
		return nil, errServer
	}
	var at [32]byte
	if _, err := rand.Read(at[:]); err != nil {
		return nil, errServer
	}
	a.logger(ctx).Info("universal: code exchanged", "client_id", c.in.IKey, "username", g.Username, "txid", g.TxID)
	return &tokenResponse{
		IDToken:     idToken,
		AccessToken: base64.RawURLEncoding.EncodeToString(at[:]),
		ExpiresIn:   int64(TokenLifetime / time.Second),
		TokenType:   "Bearer",
	}, nil
}

// idToken is the id_token's claims as the SDKs read them (section 4.5 of
// the wire spec): aud a plain string (duo_universal_java reads it with
// asString), integer times, and auth_context with both hostname spellings.
type idToken struct {
	Iss               string      `json:"iss"`
	Sub               string      `json:"sub"`
	Aud               string      `json:"aud"`
	Exp               int64       `json:"exp"`
	Iat               int64       `json:"iat"`
	AuthTime          int64       `json:"auth_time"`
	PreferredUsername string      `json:"preferred_username"`
	Nonce             string      `json:"nonce,omitempty"`
	AuthResult        authResult  `json:"auth_result"`
	AuthContext       authContext `json:"auth_context"`
}

type authResult struct {
	Result    string `json:"result"`
	Status    string `json:"status"`
	StatusMsg string `json:"status_msg"`
}

type location struct {
	City    string `json:"city"`
	State   string `json:"state"`
	Country string `json:"country"`
}

type authContext struct {
	TxID         string       `json:"txid"`
	Timestamp    int64        `json:"timestamp"`
	ISOTimestamp string       `json:"isotimestamp"`
	EventType    string       `json:"event_type"`
	Factor       string       `json:"factor"`
	Reason       string       `json:"reason"`
	Result       string       `json:"result"`
	Alias        string       `json:"alias"`
	Email        string       `json:"email"`
	OODSoftware  *string      `json:"ood_software"`
	User         userInfo     `json:"user"`
	Application  appInfo      `json:"application"`
	AuthDevice   authDevice   `json:"auth_device"`
	AccessDevice accessDevice `json:"access_device"`
}

type userInfo struct {
	Name   string   `json:"name"`
	Key    string   `json:"key"`
	Groups []string `json:"groups"`
}

type appInfo struct {
	Name string `json:"name"`
	Key  string `json:"key"`
}

type authDevice struct {
	IP       string   `json:"ip"`
	Location location `json:"location"`
	Name     string   `json:"name"`
}

// accessDevice is the browser. Assent collects no posture data; the is_*
// fields say "unknown", which every SDK accepts.
type accessDevice struct {
	IP                  string   `json:"ip"`
	Location            location `json:"location"`
	Hostname            *string  `json:"hostname"`
	HostName            *string  `json:"host_name"`
	EPKey               *string  `json:"epkey"`
	Browser             string   `json:"browser"`
	BrowserVersion      string   `json:"browser_version"`
	OS                  string   `json:"os"`
	OSVersion           string   `json:"os_version"`
	FlashVersion        string   `json:"flash_version"`
	JavaVersion         string   `json:"java_version"`
	IsEncryptionEnabled string   `json:"is_encryption_enabled"`
	IsFirewallEnabled   string   `json:"is_firewall_enabled"`
	IsPasswordSet       string   `json:"is_password_set"`
}

func (a *API) idTokenClaims(c *client, g grant, now time.Time) idToken {
	// The issuer is the token endpoint as this client spelled it in its
	// assertion (verified to be one of the public hosts): the SDKs compare
	// iss with https://<their api_host>/oauth/v1/token exactly.
	iss := c.audience
	auth := time.Unix(g.AuthTime, 0).UTC()
	browser, browserVersion, osName, osVersion := parseUserAgent(g.UserAgent)
	return idToken{
		Iss:               iss,
		Sub:               g.Username,
		Aud:               c.in.IKey,
		Exp:               now.Add(TokenLifetime).Unix(),
		Iat:               now.Unix(),
		AuthTime:          g.AuthTime,
		PreferredUsername: g.Username,
		Nonce:             g.Nonce,
		AuthResult:        authResult{Result: g.Result, Status: g.Status, StatusMsg: g.StatusMsg},
		AuthContext: authContext{
			TxID:         g.TxID,
			Timestamp:    g.AuthTime,
			ISOTimestamp: auth.Format("2006-01-02T15:04:05.000000+00:00"),
			EventType:    "authentication",
			Factor:       g.Factor,
			Reason:       g.Reason,
			Result:       "success",
			User:         userInfo{Name: g.Username, Key: g.UserKey, Groups: append([]string{}, g.Groups...)},
			Application:  appInfo{Name: g.AppName, Key: c.in.IKey},
			AuthDevice:   authDevice{Name: g.DeviceName},
			AccessDevice: accessDevice{
				IP:                  g.IP,
				Browser:             browser,
				BrowserVersion:      browserVersion,
				OS:                  osName,
				OSVersion:           osVersion,
				IsEncryptionEnabled: "unknown",
				IsFirewallEnabled:   "unknown",
				IsPasswordSet:       "unknown",
			},
		},
	}
}

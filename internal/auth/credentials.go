package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/assent-auth/assent/internal/secrets"
	"github.com/assent-auth/assent/internal/store"
)

// Provider credentials: the password or token of an outside service Assent
// signs in to (the SMS provider, the SIP trunk), kept in the database
// sealed with the master key, so that neither the configuration nor a
// backup holds it in the clear. A password file (sms_password_file, …)
// still works and wins; a stored credential serves installations that
// would rather not keep a plaintext file next to the configuration.
const (
	CredentialSMS = "sms"
	CredentialSIP = "sip"
)

// credentialNames are the names SetCredential accepts.
var credentialNames = []string{CredentialSMS, CredentialSIP}

// maxCredentialLen bounds a stored credential (tokens are far shorter).
const maxCredentialLen = 4096

// settingCredential is the store setting holding the named credential,
// base64 of its sealed bytes; "" means unset.
func settingCredential(name string) string { return "credential." + name }

// credentialAD binds a sealed credential to its name: one cannot be
// copied over another.
func credentialAD(name string) []byte { return []byte("provider credential " + name) }

// CredentialNames are the providers whose credential can be stored.
func CredentialNames() []string { return slices.Clone(credentialNames) }

func checkCredentialName(name string) error {
	if !slices.Contains(credentialNames, name) {
		return invalid("name", fmt.Sprintf("unknown provider %q: one of %s", name, strings.Join(credentialNames, ", ")))
	}
	return nil
}

// SetCredential stores the named provider's password or token, sealed, in
// one transaction with an administrator-log row that names the provider
// and never the secret. The server reads it when it starts.
func (s *Service) SetCredential(ctx context.Context, name, secret string) error {
	if err := checkCredentialName(name); err != nil {
		return err
	}
	if secret == "" || len(secret) > maxCredentialLen || !utf8.ValidString(secret) ||
		strings.ContainsAny(secret, "\r\n\x00") {
		return invalid("secret", fmt.Sprintf("must be 1 to %d bytes of text on one line", maxCredentialLen))
	}
	sealed, err := s.box.Seal([]byte(secret), credentialAD(name))
	if err != nil {
		return wrap("seal the "+name+" credential", err)
	}
	return s.putCredential(ctx, name, base64.StdEncoding.EncodeToString(sealed), "credential_set")
}

// ClearCredential removes the named provider's stored credential.
func (s *Service) ClearCredential(ctx context.Context, name string) error {
	if err := checkCredentialName(name); err != nil {
		return err
	}
	return s.putCredential(ctx, name, "", "credential_clear")
}

func (s *Service) putCredential(ctx context.Context, name, value, action string) error {
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.PutSetting(ctx, settingCredential(name), value); err != nil {
			return err
		}
		return s.adminLog(ctx, q, action, "credential", map[string]any{"provider": name})
	})
	if err != nil {
		return wrap(action, err)
	}
	return nil
}

// StoredCredentials names the providers that have a stored credential.
func (s *Service) StoredCredentials(ctx context.Context) ([]string, error) {
	var names []string
	for _, name := range credentialNames {
		v, err := s.st.GetSetting(ctx, settingCredential(name))
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, wrap("read credentials", err)
		case v != "":
			names = append(names, name)
		}
	}
	return names, nil
}

// SettingReader is what LoadCredential needs of the store.
type SettingReader interface {
	GetSetting(ctx context.Context, key string) (string, error)
}

// LoadCredential opens the named provider's stored credential; ok is false
// when none is stored. The edges call it while they build the providers,
// before the Service exists. A credential that does not open (another
// master key, a damaged row) is an error, never an empty password.
func LoadCredential(ctx context.Context, st SettingReader, box *secrets.Box, name string) (secret string, ok bool, err error) {
	v, err := st.GetSetting(ctx, settingCredential(name))
	if errors.Is(err, store.ErrNotFound) || (err == nil && v == "") {
		return "", false, nil
	}
	if err != nil {
		return "", false, wrap("read the "+name+" credential", err)
	}
	sealed, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return "", false, wrap("read the "+name+" credential", err)
	}
	b, err := box.Open(sealed, credentialAD(name))
	if err != nil {
		return "", false, wrap("open the "+name+" credential (stored with another master key?)", err)
	}
	return string(b), true, nil
}

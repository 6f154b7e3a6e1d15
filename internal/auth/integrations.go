package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// skeyAlphabet is what Duo secret keys are made of.
const skeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewIntegration describes an integration to create.
type NewIntegration struct {
	Name          string
	Type          store.IntegrationType
	NewUserPolicy store.NewUserPolicy // empty: enroll
	// AllowedOrigins are the web origins that may frame the hosted prompt
	// (websdk), e.g. https://app.example.com; empty: the parent page named
	// in each signed request.
	AllowedOrigins []string
	// LegacySignatures admits signature version 1 (undated, replayable) on
	// every route; see store.Integration.
	LegacySignatures bool
	// VerifiedPush is the length of the code its pushes carry: 0 (off),
	// 3 or 6; see store.Integration.
	VerifiedPush int
}

// NormalizeOrigin checks that o is a web origin (http or https scheme and a
// host, nothing after it but an optional "/") and returns it in canonical
// form: lower-case scheme and host, no default port, no trailing slash.
func NormalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return "", invalid("allowed_origin", fmt.Sprintf("%q is not an origin like https://app.example.com[:port]", o))
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

// normalizeOrigins normalizes each origin with NormalizeOrigin and drops
// duplicates, keeping the first occurrence's position.
func normalizeOrigins(in []string) ([]string, error) {
	origins := make([]string, 0, len(in))
	for _, o := range in {
		norm, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(origins, norm) {
			origins = append(origins, norm)
		}
	}
	return origins, nil
}

// CreateIntegration creates an integration with fresh keys and returns it
// with its plaintext secret key, which is shown to the administrator once
// here and stored only sealed.
func (s *Service) CreateIntegration(ctx context.Context, n NewIntegration) (store.Integration, string, error) {
	if n.Name == "" {
		return store.Integration{}, "", invalid("name", "an integration needs a name")
	}
	if !n.Type.Valid() {
		return store.Integration{}, "", invalid("type", "must be one of authapi, adminapi, websdk, universal")
	}
	if n.NewUserPolicy == "" {
		n.NewUserPolicy = store.PolicyEnroll
	}
	if !n.NewUserPolicy.Valid() {
		return store.Integration{}, "", invalid("new_user_policy", "must be one of enroll, allow, deny")
	}
	origins, err := normalizeOrigins(n.AllowedOrigins)
	if err != nil {
		return store.Integration{}, "", err
	}
	if !ValidVerifiedPush(n.VerifiedPush) {
		return store.Integration{}, "", invalid("verified_push", "must be off, on (3 digits) or 6")
	}
	skey := ids.Random(40, skeyAlphabet)
	in := store.Integration{
		IKey:          ids.New(ids.Integration),
		Name:          n.Name,
		Type:          n.Type,
		NewUserPolicy: n.NewUserPolicy,
		Created:       s.now(),
		// Named in the log below: it weakens the integration.
		LegacySignatures: n.LegacySignatures,
		VerifiedPush:     n.VerifiedPush,
	}
	if len(origins) > 0 {
		in.AllowedOrigins = origins
	}
	sealed, err := s.box.Seal([]byte(skey), []byte(in.IKey))
	if err != nil {
		return store.Integration{}, "", wrap("seal secret key", err)
	}
	in.SecretEnc = sealed
	if err := s.st.CreateIntegration(ctx, in); err != nil {
		return store.Integration{}, "", wrap("create integration", err)
	}
	s.opts.Logger.Info("integration created", "ikey", in.IKey, "name", in.Name, "type", in.Type,
		"legacy_signatures", in.LegacySignatures, "verified_push", in.VerifiedPush)
	return in, skey, nil
}

// IntegrationUpdate says what UpdateIntegration changes; nil fields are left
// as they are. An integration's type and keys never change.
type IntegrationUpdate struct {
	Name          *string
	NewUserPolicy *store.NewUserPolicy
	// AllowedOrigins, when not nil, replaces the whole list; an empty slice
	// clears it (only the parent page named in each request may frame).
	AllowedOrigins *[]string
	// LegacySignatures, when not nil, admits (true) or refuses (false)
	// signature version 1 on every route; see store.Integration.
	LegacySignatures *bool
	// VerifiedPush, when not nil, sets the Verified Push code length (0:
	// off, 3 or 6); pushes already sent keep theirs.
	VerifiedPush *int
}

// UpdateIntegration changes the name, new-user policy, allowed origins or
// legacy-signatures flag of the integration with ikey and returns it as
// stored; a u that changes nothing is a KindInvalid "nothing to update"
// error. The change holds from the next request on, on every node (see
// Integration). A missing integration is a KindNotFound error.
func (s *Service) UpdateIntegration(ctx context.Context, ikey string, u IntegrationUpdate) (store.Integration, error) {
	if u.Name == nil && u.NewUserPolicy == nil && u.AllowedOrigins == nil && u.LegacySignatures == nil &&
		u.VerifiedPush == nil {
		return store.Integration{}, invalid("", "nothing to update")
	}
	if u.VerifiedPush != nil && !ValidVerifiedPush(*u.VerifiedPush) {
		return store.Integration{}, invalid("verified_push", "must be off, on (3 digits) or 6")
	}
	if u.Name != nil && *u.Name == "" {
		return store.Integration{}, invalid("name", "an integration needs a name")
	}
	if u.NewUserPolicy != nil && !u.NewUserPolicy.Valid() {
		return store.Integration{}, invalid("new_user_policy", "must be one of enroll, allow, deny")
	}
	var origins []string
	if u.AllowedOrigins != nil {
		var err error
		if origins, err = normalizeOrigins(*u.AllowedOrigins); err != nil {
			return store.Integration{}, err
		}
	}
	var in store.Integration
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if in, err = q.GetIntegration(ctx, ikey); err != nil {
			return err
		}
		if u.Name != nil {
			in.Name = *u.Name
		}
		if u.NewUserPolicy != nil {
			in.NewUserPolicy = *u.NewUserPolicy
		}
		if u.AllowedOrigins != nil {
			in.AllowedOrigins = nil
			if len(origins) > 0 {
				in.AllowedOrigins = origins
			}
		}
		if u.LegacySignatures != nil {
			in.LegacySignatures = *u.LegacySignatures
		}
		if u.VerifiedPush != nil {
			in.VerifiedPush = *u.VerifiedPush
		}
		return q.UpdateIntegration(ctx, in)
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Integration{}, notFound("no integration with that integration key")
	}
	if err != nil {
		return store.Integration{}, wrap("update integration", err)
	}
	s.opts.Logger.Info("integration updated", "ikey", in.IKey, "name", in.Name,
		"new_user_policy", in.NewUserPolicy, "allowed_origins", strings.Join(in.AllowedOrigins, " "),
		"legacy_signatures", in.LegacySignatures, "verified_push", in.VerifiedPush)
	return in, nil
}

// maxCachedKeys bounds the unsealed-key cache; past it the cache starts
// over. Entries exist only for integrations found in the store.
const maxCachedKeys = 4096

// cachedKey is an unsealed secret key and the sealed bytes it came from.
type cachedKey struct {
	sealed []byte
	skey   string
}

// Integration returns the integration with ikey and its plaintext secret
// key. A missing integration is a KindNotFound error.
//
// The row is read from the store on every call (one indexed read on the
// read pool), so a deletion or an update made anywhere — this process,
// another node, the CLI in another process — holds from the next request
// on. Only the unsealing is cached, keyed by ikey and the sealed bytes, so
// a changed secret key can never be served from the cache.
func (s *Service) Integration(ctx context.Context, ikey string) (store.Integration, string, error) {
	in, err := s.st.GetIntegration(ctx, ikey)
	if errors.Is(err, store.ErrNotFound) {
		s.skeys.Delete(ikey)
		return store.Integration{}, "", notFound("no integration with that integration key")
	}
	if err != nil {
		return store.Integration{}, "", wrap("get integration", err)
	}
	if v, ok := s.skeys.Load(ikey); ok {
		if c := v.(*cachedKey); bytes.Equal(c.sealed, in.SecretEnc) {
			return in, c.skey, nil
		}
	}
	skey, err := s.box.Open(in.SecretEnc, []byte(in.IKey))
	if err != nil {
		return store.Integration{}, "", wrap("open secret key of "+in.IKey, err)
	}
	if s.nkeys.Add(1) > maxCachedKeys {
		s.skeys.Clear()
		s.nkeys.Store(1)
	}
	s.skeys.Store(ikey, &cachedKey{sealed: in.SecretEnc, skey: string(skey)})
	return in, string(skey), nil
}

// Integrations lists all integrations (without secrets).
func (s *Service) Integrations(ctx context.Context) ([]store.Integration, error) {
	list, err := s.st.ListIntegrations(ctx)
	if err != nil {
		return nil, wrap("list integrations", err)
	}
	return list, nil
}

// DeleteIntegration removes an integration; its keys stop working with the
// next request, on every node (see Integration).
func (s *Service) DeleteIntegration(ctx context.Context, ikey string) error {
	err := s.st.DeleteIntegration(ctx, ikey)
	s.skeys.Delete(ikey)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no integration with that integration key")
	}
	if err != nil {
		return wrap("delete integration", err)
	}
	s.opts.Logger.Info("integration deleted", "ikey", ikey)
	return nil
}

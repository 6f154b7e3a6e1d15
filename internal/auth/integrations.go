package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/username"
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
	// Grants are the Admin API grants of an adminapi integration (see
	// NormalizeGrants; "all" for every one); none by default.
	Grants []string
	// VerifiedPush is the length of the code its pushes carry: 0 (off),
	// 3 or 6; see store.Integration.
	VerifiedPush int
	// UsernameNormalization is "none" (the default) or "simple"; see
	// LookupUsername.
	UsernameNormalization string
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
	grants, err := NormalizeGrants(n.Grants)
	if err != nil {
		return store.Integration{}, "", err
	}
	if len(grants) > 0 && n.Type != store.TypeAdminAPI {
		return store.Integration{}, "", invalid("grant", "only adminapi integrations have grants")
	}
	if !ValidVerifiedPush(n.VerifiedPush) {
		return store.Integration{}, "", invalid("verified_push", "must be off, on (3 digits) or 6")
	}
	n.UsernameNormalization = cmp.Or(n.UsernameNormalization, string(username.PolicyNone))
	if err := CheckUsernamePolicy(n.UsernameNormalization); err != nil {
		return store.Integration{}, "", err
	}
	skey := ids.Random(40, skeyAlphabet)
	in := store.Integration{
		Grants:        grants,
		IKey:          ids.New(ids.Integration),
		Name:          n.Name,
		Type:          n.Type,
		NewUserPolicy: n.NewUserPolicy,
		Created:       s.now(),
		// Named in the log below: it weakens the integration.
		LegacySignatures: n.LegacySignatures,
		VerifiedPush:     n.VerifiedPush,
	}
	in.UsernameNormalization = n.UsernameNormalization
	if len(origins) > 0 {
		in.AllowedOrigins = origins
	}
	sealed, err := s.box.Seal([]byte(skey), []byte(in.IKey))
	if err != nil {
		return store.Integration{}, "", wrap("seal secret key", err)
	}
	in.SecretEnc = sealed
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateIntegration(ctx, in); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "integration_create", in.IKey, map[string]any{"name": in.Name, "type": in.Type,
			"grants": in.Grants, "new_user_policy": in.NewUserPolicy, "username_normalization_policy": in.UsernameNormalization})
	})
	if err != nil {
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
	// Grants, when not nil, replaces the Admin API grants.
	Grants *[]string
	// VerifiedPush, when not nil, sets the Verified Push code length (0:
	// off, 3 or 6); pushes already sent keep theirs.
	VerifiedPush *int
	// UsernameNormalization, when not nil, sets the username
	// normalization policy ("none" or "simple").
	UsernameNormalization *string
}

// UpdateIntegration changes the name, new-user policy, allowed origins or
// legacy-signatures flag of the integration with ikey and returns it as
// stored; a u that changes nothing is a KindInvalid "nothing to update"
// error. The change holds from the next request on, on every node (see
// Integration). A missing integration is a KindNotFound error.
func (s *Service) UpdateIntegration(ctx context.Context, ikey string, u IntegrationUpdate) (store.Integration, error) {
	if u.Name == nil && u.NewUserPolicy == nil && u.AllowedOrigins == nil && u.LegacySignatures == nil && u.Grants == nil &&
		u.VerifiedPush == nil && u.UsernameNormalization == nil {
		return store.Integration{}, invalid("", "nothing to update")
	}
	if u.UsernameNormalization != nil {
		if err := CheckUsernamePolicy(*u.UsernameNormalization); err != nil {
			return store.Integration{}, err
		}
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
	var grants []string
	if u.Grants != nil {
		var err error
		if grants, err = NormalizeGrants(*u.Grants); err != nil {
			return store.Integration{}, err
		}
	}
	var in store.Integration
	err := s.st.InTx(ctx, func(q store.Queries) error {
		var err error
		if in, err = q.GetIntegration(ctx, ikey); err != nil {
			return err
		}
		desc := map[string]any{}
		if u.Grants != nil {
			if len(grants) > 0 && in.Type != store.TypeAdminAPI {
				return invalid("grant", "only adminapi integrations have grants")
			}
			in.Grants = grants
			desc["grants"] = grants
			if err := q.SetIntegrationGrants(ctx, ikey, grants); err != nil {
				return err
			}
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
			desc["legacy_signatures"] = in.LegacySignatures
		}
		if u.VerifiedPush != nil {
			in.VerifiedPush = *u.VerifiedPush
			desc["verified_push"] = in.VerifiedPush
		}
		if u.UsernameNormalization != nil {
			in.UsernameNormalization = *u.UsernameNormalization
			desc["username_normalization_policy"] = in.UsernameNormalization
		}
		if u.Name != nil {
			desc["name"] = in.Name
		}
		if u.NewUserPolicy != nil {
			desc["new_user_policy"] = in.NewUserPolicy
		}
		if u.AllowedOrigins != nil {
			desc["allowed_origins"] = in.AllowedOrigins
		}
		if err := q.UpdateIntegration(ctx, in); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "integration_update", ikey, desc)
	})
	var ae *Error
	if errors.As(err, &ae) {
		return store.Integration{}, err
	}
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

// maxCachedKeys bounds the integration cache; past it the cache starts
// over. Entries exist only for integrations found in the store.
const maxCachedKeys = 4096

// cachedIntegration is an integration as read from the store, its unsealed
// secret key, and the store's IntegrationsVersion read before the row.
type cachedIntegration struct {
	version int64
	in      store.Integration
	skey    string
}

// Integration returns the integration with ikey and its plaintext secret
// key. A missing integration is a KindNotFound error.
//
// Every call reads the store's IntegrationsVersion (one integer in one row,
// on the read pool; concurrent calls share a read that began after they
// did, see sharedRead), which every change of any integration moves in the
// same transaction, made anywhere — this process, another node, the CLI in
// another process. The integration is served from memory only while that
// number is the one read before the cached row was read, so a deletion or
// an update holds from the next request on, on every node; otherwise the
// row is read again. The unsealed secret key is kept with the row as it
// was before the integration itself was cached (the integration's own
// secret, needed on every signed request; never logged); a changed row
// drops it with the rest.
//
// The slices of the returned integration (SecretEnc, AllowedOrigins) are
// shared with the cache: read-only.
func (s *Service) Integration(ctx context.Context, ikey string) (store.Integration, string, error) {
	version, err := s.versions.do(ctx, s.st.IntegrationsVersion)
	if err != nil {
		return store.Integration{}, "", wrap("get integration", err)
	}
	if v, ok := s.skeys.Load(ikey); ok {
		if c := v.(*cachedIntegration); c.version == version {
			return c.in, c.skey, nil
		}
	}
	in, err := s.st.GetIntegration(ctx, ikey)
	if errors.Is(err, store.ErrNotFound) {
		s.skeys.Delete(ikey)
		return store.Integration{}, "", notFound("no integration with that integration key")
	}
	if err != nil {
		return store.Integration{}, "", wrap("get integration", err)
	}
	skey, err := s.box.Open(in.SecretEnc, []byte(in.IKey))
	if err != nil {
		return store.Integration{}, "", wrap("open secret key of "+in.IKey, err)
	}
	if s.nkeys.Add(1) > maxCachedKeys {
		s.skeys.Clear()
		s.nkeys.Store(1)
	}
	c := &cachedIntegration{version: version, in: in, skey: string(skey)}
	if prev, loaded := s.skeys.Swap(ikey, c); loaded {
		// A concurrent call may have cached a newer read; keep the newest.
		if p := prev.(*cachedIntegration); p.version > version {
			s.skeys.CompareAndSwap(ikey, c, p)
		}
	}
	return in, c.skey, nil
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
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.DeleteIntegration(ctx, ikey); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "integration_delete", ikey, nil)
	})
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

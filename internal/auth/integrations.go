package auth

import (
	"context"
	"errors"

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
	skey := ids.Random(40, skeyAlphabet)
	in := store.Integration{
		IKey:          ids.New(ids.Integration),
		Name:          n.Name,
		Type:          n.Type,
		NewUserPolicy: n.NewUserPolicy,
		Created:       s.now(),
	}
	sealed, err := s.box.Seal([]byte(skey), []byte(in.IKey))
	if err != nil {
		return store.Integration{}, "", wrap("seal secret key", err)
	}
	in.SecretEnc = sealed
	if err := s.st.CreateIntegration(ctx, in); err != nil {
		return store.Integration{}, "", wrap("create integration", err)
	}
	s.opts.Logger.Info("integration created", "ikey", in.IKey, "name", in.Name, "type", in.Type)
	return in, skey, nil
}

// Integration returns the integration with ikey and its plaintext secret
// key. A missing integration is a KindNotFound error.
func (s *Service) Integration(ctx context.Context, ikey string) (store.Integration, string, error) {
	in, err := s.st.GetIntegration(ctx, ikey)
	if errors.Is(err, store.ErrNotFound) {
		return store.Integration{}, "", notFound("no integration with that integration key")
	}
	if err != nil {
		return store.Integration{}, "", wrap("get integration", err)
	}
	skey, err := s.box.Open(in.SecretEnc, []byte(in.IKey))
	if err != nil {
		return store.Integration{}, "", wrap("open secret key of "+in.IKey, err)
	}
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

// DeleteIntegration removes an integration; its keys stop working at once.
func (s *Service) DeleteIntegration(ctx context.Context, ikey string) error {
	err := s.st.DeleteIntegration(ctx, ikey)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("no integration with that integration key")
	}
	if err != nil {
		return wrap("delete integration", err)
	}
	s.opts.Logger.Info("integration deleted", "ikey", ikey)
	return nil
}

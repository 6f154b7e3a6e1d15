package auth

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// Actor is who makes a change, for the administrator log: the CLI's
// operating-system user, or an Admin API integration and its client
// address. Edges put it in the context with WithActor.
type Actor struct {
	Who string // "cli:alice@host", "integration:DI…"
	IP  string // client address; "" for the CLI
}

type actorKey struct{}

// WithActor returns ctx carrying who makes the changes done with it.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

func actorOf(ctx context.Context) Actor {
	if a, ok := ctx.Value(actorKey{}).(Actor); ok && a.Who != "" {
		return a
	}
	return Actor{Who: "system"}
}

// adminLog writes the administrator-log row of a change in q, the
// change's own transaction. desc holds the changed fields (never secrets).
func (s *Service) adminLog(ctx context.Context, q store.Queries, action, object string, desc map[string]any) error {
	a := actorOf(ctx)
	b, err := json.Marshal(desc)
	if err != nil || desc == nil {
		b = []byte("{}")
	}
	return q.AppendAdminLog(ctx, &store.AdminLog{Time: s.now(), Actor: a.Who, Action: action, Object: object,
		Description: string(b), IP: a.IP})
}

// NormalizeGrants checks Admin API grant names ("all" stands for every
// grant) and returns them deduplicated in store.AllGrants order.
func NormalizeGrants(in []string) ([]string, error) {
	var bad []string
	want := map[string]bool{}
	for _, g := range in {
		g = strings.TrimSpace(strings.ToLower(g))
		switch {
		case g == "all":
			for _, a := range store.AllGrants {
				want[a] = true
			}
		case slices.Contains(store.AllGrants, g):
			want[g] = true
		default:
			bad = append(bad, g)
		}
	}
	if len(bad) > 0 {
		return nil, invalid("grant", "unknown grant "+strings.Join(bad, ", ")+"; grants are all, "+strings.Join(store.AllGrants, ", "))
	}
	var out []string
	for _, g := range store.AllGrants {
		if want[g] {
			out = append(out, g)
		}
	}
	return out, nil
}

// HasGrant reports whether an integration may use what grant protects.
func HasGrant(in store.Integration, grant string) bool { return slices.Contains(in.Grants, grant) }

// NewUser is a user created through the Admin API.
type NewUser struct {
	Username string
	Status   store.UserStatus // "": active
	Profile  store.UserProfile
	// Aliases are Duo's alias1…alias8 (element i is alias<i+1>, "" for
	// none).
	Aliases []string
}

// AddUser creates a user with a status and profile, in one transaction
// with its administrator-log row.
func (s *Service) AddUser(ctx context.Context, n NewUser) (store.User, error) {
	if err := validateUsername(n.Username); err != nil {
		return store.User{}, err
	}
	if n.Status == "" {
		n.Status = store.StatusActive
	}
	if err := adminStatus(n.Status); err != nil {
		return store.User{}, err
	}
	aliases, err := mergeAliases(nil, aliasMap(n.Aliases))
	if err != nil {
		return store.User{}, err
	}
	if err := s.checkAliases(ctx, "", n.Username, aliases); err != nil {
		return store.User{}, err
	}
	u := store.User{ID: ids.New(ids.User), Username: n.Username, Status: n.Status, Created: s.now(), Profile: n.Profile}
	aliasTakenMeanwhile := false
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		if len(aliases) > 0 {
			if err := q.SetUserAliases(ctx, u.ID, aliases); err != nil {
				aliasTakenMeanwhile = errors.Is(err, store.ErrAlreadyExists)
				return err
			}
		}
		if n.Profile != (store.UserProfile{}) {
			if err := q.UpdateUserProfile(ctx, u.ID, n.Profile); err != nil {
				return err
			}
		}
		desc := map[string]any{"user_id": u.ID, "status": u.Status, "realname": n.Profile.RealName, "email": n.Profile.Email}
		if len(aliases) > 0 {
			desc["aliases"] = aliases
		}
		return s.adminLog(ctx, q, "user_create", u.Username, desc)
	})
	if aliasTakenMeanwhile {
		return store.User{}, errAliasTakenMeanwhile
	}
	if errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, s.usernameTaken(ctx, n.Username)
	}
	if err != nil {
		return store.User{}, wrap("create user", err)
	}
	s.opts.Logger.Info("user created", "user_id", u.ID)
	return u, nil
}

func adminStatus(st store.UserStatus) error {
	switch st {
	case store.StatusActive, store.StatusBypass, store.StatusDisabled:
		return nil
	case store.StatusLockedOut:
		return invalid("status", `"locked out" is set by the system after failed attempts; use disabled instead`)
	}
	return invalid("status", "must be one of active, bypass, disabled")
}

// UserUpdate says what ModifyUser changes; nil fields stay.
type UserUpdate struct {
	Username  *string
	Status    *store.UserStatus
	RealName  *string
	Email     *string
	Notes     *string
	FirstName *string
	LastName  *string
	// Aliases sets alias positions (0-based: 0 is Duo's alias1) to an
	// alias, or clears them with ""; positions not in the map stay.
	Aliases map[int]string
}

// ModifyUser changes a user's username, status or profile in one
// transaction with its administrator-log row.
func (s *Service) ModifyUser(ctx context.Context, nameOrID string, up UserUpdate) (store.User, error) {
	if up.Username != nil {
		if err := validateUsername(*up.Username); err != nil {
			return store.User{}, err
		}
	}
	if up.Status != nil {
		if err := adminStatus(*up.Status); err != nil {
			return store.User{}, err
		}
	}
	var aliases []string // the new list, when up.Aliases changes it
	if up.Aliases != nil {
		u, err := s.User(ctx, nameOrID)
		if err != nil {
			return store.User{}, err
		}
		cur, err := s.st.ListUserAliases(ctx, u.ID)
		if err != nil {
			return store.User{}, wrap("update user", err)
		}
		if aliases, err = mergeAliases(cur, up.Aliases); err != nil {
			return store.User{}, err
		}
		name := u.Username
		if up.Username != nil {
			name = *up.Username
		}
		if err := s.checkAliases(ctx, u.ID, name, aliases); err != nil {
			return store.User{}, err
		}
		nameOrID = u.ID
		if aliases == nil {
			aliases = []string{} // cleared: not "unchanged"
		}
	}
	desc := map[string]any{}
	aliasTakenMeanwhile := false
	out, err := s.updateUserLogged(ctx, "update user", nameOrID, func(u *store.User) {
		set := func(name string, dst *string, v *string) {
			if v != nil {
				*dst = *v
				desc[name] = *v
			}
		}
		set("username", &u.Username, up.Username)
		if up.Status != nil {
			u.Status, u.FailedAttempts, u.LockoutReason = *up.Status, 0, ""
			desc["status"] = *up.Status
		}
		set("realname", &u.Profile.RealName, up.RealName)
		set("email", &u.Profile.Email, up.Email)
		set("notes", &u.Profile.Notes, up.Notes)
		set("firstname", &u.Profile.FirstName, up.FirstName)
		set("lastname", &u.Profile.LastName, up.LastName)
	}, func(ctx context.Context, q store.Queries, u store.User) error {
		if err := q.UpdateUserProfile(ctx, u.ID, u.Profile); err != nil {
			return err
		}
		if aliases != nil {
			if err := q.SetUserAliases(ctx, u.ID, aliases); err != nil {
				aliasTakenMeanwhile = errors.Is(err, store.ErrAlreadyExists)
				return err
			}
			desc["aliases"] = aliases
		}
		return s.adminLog(ctx, q, "user_update", u.Username, desc)
	})
	if aliasTakenMeanwhile {
		return store.User{}, errAliasTakenMeanwhile
	}
	if errors.Is(err, store.ErrAlreadyExists) && up.Username != nil {
		return store.User{}, s.usernameTaken(ctx, *up.Username)
	}
	return out, err
}

// UsersPage lists one page of users in creation order and how many match.
func (s *Service) UsersPage(ctx context.Context, p store.UserPage) ([]store.User, int, error) {
	list, total, err := s.st.ListUsersPage(ctx, p)
	if err != nil {
		return nil, 0, wrap("list users", err)
	}
	return list, total, nil
}

// Summary counts what the account holds (Duo's /info/summary).
type Summary struct {
	Users, Integrations, Admins int
}

// Summary counts users and integrations.
func (s *Service) Summary(ctx context.Context) (Summary, error) {
	n, err := s.st.CountUsers(ctx)
	if err != nil {
		return Summary{}, wrap("count users", err)
	}
	ins, err := s.st.ListIntegrations(ctx)
	if err != nil {
		return Summary{}, wrap("list integrations", err)
	}
	return Summary{Users: n, Integrations: len(ins)}, nil
}

// sealLogs bounds a log read: rows stamped before the returned time are
// all committed, and none stamped before it will be committed later.
func (s *Service) sealLogs(ctx context.Context, log store.LogName) (time.Time, error) {
	t, err := s.st.SealLogs(ctx, log, s.now())
	if err != nil {
		return time.Time{}, wrap("seal logs", err)
	}
	return t, nil
}

// QueryAuthLog reads a page of the auth log. Rows are stamped in commit
// order and the window is cut at the log clock (see store.SealLogs), so a
// reader that resumes from the last row it saw never misses a row
// committed after its read with an earlier timestamp; a row becomes
// readable once the clock has passed its second.
func (s *Service) QueryAuthLog(ctx context.Context, q store.AuthLogQuery) ([]store.AuthLog, int, error) {
	sealed, err := s.sealLogs(ctx, store.LogAuth)
	if err != nil {
		return nil, 0, err
	}
	if q.Max.IsZero() || q.Max.After(sealed) {
		q.Max = sealed
	}
	if !q.Min.Before(q.Max) {
		return nil, 0, nil
	}
	rows, total, err := s.st.QueryAuthLog(ctx, q)
	if err != nil {
		return nil, 0, wrap("query auth log", err)
	}
	return rows, total, nil
}

// QueryAdminLog reads a page of the administrator log (the Admin API's
// activity log), cut at the log clock as QueryAuthLog is: a reader that
// resumes after the last row it saw never misses one committed later.
func (s *Service) QueryAdminLog(ctx context.Context, q store.AdminLogQuery) ([]store.AdminLog, int, error) {
	sealed, err := s.sealLogs(ctx, store.LogAdmin)
	if err != nil {
		return nil, 0, err
	}
	if q.Max.IsZero() || q.Max.After(sealed) {
		q.Max = sealed
	}
	if !q.Min.Before(q.Max) {
		return nil, 0, nil
	}
	rows, total, err := s.st.QueryAdminLog(ctx, q)
	if err != nil {
		return nil, 0, wrap("query admin log", err)
	}
	return rows, total, nil
}

// AdminLogSince lists administrator-log rows stamped at or after since
// (and before the log clock, as QueryAuthLog), oldest first.
func (s *Service) AdminLogSince(ctx context.Context, since time.Time, limit int) ([]store.AdminLog, error) {
	sealed, err := s.sealLogs(ctx, store.LogAdmin)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.ListAdminLog(ctx, since, sealed, limit)
	if err != nil {
		return nil, wrap("list admin log", err)
	}
	return rows, nil
}

// maxRotationGrace bounds how long a rotated-out secret key keeps working.
const maxRotationGrace = 30 * 24 * time.Hour

// RotateSecret gives the integration a new secret key and returns it. For
// grace (> 0) the old key keeps verifying too; with grace 0 it stops at
// once. The administrator log records the rotation (never the keys).
func (s *Service) RotateSecret(ctx context.Context, ikey string, grace time.Duration) (store.Integration, string, error) {
	if grace < 0 || grace > maxRotationGrace {
		return store.Integration{}, "", invalid("grace", "must be between 0 and 720h (30 days)")
	}
	skey := ids.Random(40, skeyAlphabet)
	sealed, err := s.box.Seal([]byte(skey), []byte(ikey))
	if err != nil {
		return store.Integration{}, "", wrap("seal secret key", err)
	}
	var until time.Time
	if grace > 0 {
		until = s.now().Add(grace)
	}
	var in store.Integration
	err = s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.RotateIntegrationSecret(ctx, ikey, sealed, until); err != nil {
			return err
		}
		var err error
		if in, err = q.GetIntegration(ctx, ikey); err != nil {
			return err
		}
		desc := map[string]any{"grace_secs": int64(grace / time.Second)}
		return s.adminLog(ctx, q, "integration_rotate_secret", ikey, desc)
	})
	if errors.Is(err, store.ErrNotFound) {
		return store.Integration{}, "", notFound("no integration with that integration key")
	}
	if err != nil {
		return store.Integration{}, "", wrap("rotate secret key", err)
	}
	s.opts.Logger.Info("integration secret key rotated", "ikey", ikey, "grace", grace)
	return in, skey, nil
}

// PreviousSecret returns the integration's secret key from before its last
// rotation while it is within its grace period.
func (s *Service) PreviousSecret(in store.Integration) (string, bool) {
	if len(in.PrevSecretEnc) == 0 || !s.opts.Now().Before(in.PrevSecretExpires) {
		return "", false
	}
	key, err := s.box.Open(in.PrevSecretEnc, []byte(in.IKey))
	if err != nil {
		return "", false
	}
	return string(key), true
}

// IntegrationSecret returns the plaintext secret key of an integration.
func (s *Service) IntegrationSecret(ctx context.Context, ikey string) (string, error) {
	_, skey, err := s.Integration(ctx, ikey)
	return skey, err
}

// BypassCodes lists a user's bypass codes (never the codes themselves:
// only their hashes are stored).
func (s *Service) BypassCodes(ctx context.Context, nameOrID string) ([]store.BypassCode, error) {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	list, err := s.st.ListBypassCodes(ctx, u.ID)
	if err != nil {
		return nil, wrap("list bypass codes", err)
	}
	return list, nil
}

// Device returns one device.
func (s *Service) Device(ctx context.Context, id string) (store.Device, error) {
	d, err := s.st.GetDevice(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, notFound("no device with that ID")
	}
	if err != nil {
		return store.Device{}, wrap("get device", err)
	}
	return d, nil
}

// adminLogIfActor writes the administrator-log row of a change only when
// an administrator makes it (the CLI, the Admin API: an edge that set the
// actor). A user's own changes (an app added in the portal) are not
// administration.
func (s *Service) adminLogIfActor(ctx context.Context, q store.Queries, action, object string, desc map[string]any) error {
	if _, ok := ctx.Value(actorKey{}).(Actor); !ok {
		return nil
	}
	return s.adminLog(ctx, q, action, object, desc)
}

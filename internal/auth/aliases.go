package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/username"
)

// Username aliases (Duo's alias1…alias8) and the integrations' username
// normalization policy (Duo's username_normalization_policy).
//
// A user is found by its username or by any of its aliases, compared as
// usernames are (package username); usernames and aliases are one
// namespace, so a typed name reaches at most one user. An application's
// integration may first strip a DOMAIN\ prefix and an @domain suffix from
// what its users type (policy "simple"; "none" by default).

// LookupUsername is the name looked up for typed, a username an
// application of integration in sent: typed after the integration's
// username normalization policy.
func LookupUsername(in store.Integration, typed string) string {
	return username.Policy(in.UsernameNormalization).Apply(typed)
}

// CheckUsernamePolicy validates a username_normalization_policy value.
func CheckUsernamePolicy(p string) error {
	if !username.Policy(p).Valid() {
		return invalid("username_normalization_policy", `must be "none" or "simple"`)
	}
	return nil
}

// aliasParam is the parameter name of alias position i (0-based).
func aliasParam(i int) string { return fmt.Sprintf("alias%d", i+1) }

// checkAliases validates the complete alias list of the user with ID id and
// username name (id empty: a user being created): each alias must be a
// valid username, differ from the user's username and from the others, and
// be nobody else's username or alias. Errors name the alias and who holds
// it.
func (s *Service) checkAliases(ctx context.Context, id, name string, aliases []string) error {
	if len(aliases) > store.MaxAliases {
		return invalid("aliases", fmt.Sprintf("at most %d aliases", store.MaxAliases))
	}
	own, err := username.Normalize(name)
	if err != nil {
		own = "" // a name kept from an older rule: nothing to compare
	}
	seen := map[string]int{}
	for i, a := range aliases {
		if a == "" {
			continue
		}
		param := aliasParam(i)
		norm, err := username.Normalize(a)
		if err != nil {
			return invalid(param, err.Error())
		}
		if norm == own {
			return invalid(param, fmt.Sprintf("%q is the user's username", a))
		}
		if j, ok := seen[norm]; ok {
			return invalid(param, fmt.Sprintf("%q is the same as %s", a, aliasParam(j)))
		}
		seen[norm] = i
		u, err := s.st.GetUserByUsername(ctx, a)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return wrap("check aliases", err)
		case u.ID != id:
			return aliasTaken(param, a, u)
		}
	}
	return nil
}

// aliasTaken explains why alias (parameter param) cannot be given: u has
// it as username or alias.
func aliasTaken(param, alias string, u store.User) error {
	what := "an alias of the user"
	if n, err := username.Normalize(u.Username); err == nil {
		if m, _ := username.Normalize(alias); m == n {
			what = "the username of the user"
		}
	}
	return &Error{Kind: KindConflict, Param: param,
		Detail: fmt.Sprintf("%q is already %s %q (a name reaches one user: usernames and aliases are compared ignoring case and character width)", alias, what, u.Username)}
}

// mergeAliases applies set (position → alias, "" clearing it; positions
// 0-based) to the current list and returns the new one without trailing
// empty positions.
func mergeAliases(cur []string, set map[int]string) ([]string, error) {
	out := slices.Clone(cur)
	for i, a := range set {
		if i < 0 || i >= store.MaxAliases {
			return nil, invalid("aliases", fmt.Sprintf("alias positions are 1 to %d", store.MaxAliases))
		}
		for len(out) <= i {
			out = append(out, "")
		}
		out[i] = a
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out, nil
}

// UserAliases returns the aliases of a user (by username, alias or user
// ID): element i is Duo's alias<i+1>, "" for an empty position.
func (s *Service) UserAliases(ctx context.Context, nameOrID string) ([]string, error) {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	list, err := s.st.ListUserAliases(ctx, u.ID)
	if err != nil {
		return nil, wrap("list aliases", err)
	}
	return list, nil
}

// AddUserAlias gives a user one more alias, in the first empty position.
func (s *Service) AddUserAlias(ctx context.Context, nameOrID, alias string) ([]string, error) {
	cur, err := s.UserAliases(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	pos := slices.Index(cur, "")
	if pos < 0 {
		pos = len(cur)
	}
	if pos >= store.MaxAliases {
		return nil, invalid("alias", fmt.Sprintf("the user already has %d aliases, the most it may have; remove one first", store.MaxAliases))
	}
	if alias == "" {
		return nil, invalid("alias", "must not be empty")
	}
	return s.setAliases(ctx, nameOrID, map[int]string{pos: alias})
}

// RemoveUserAlias takes one alias (compared as usernames are) from a user.
func (s *Service) RemoveUserAlias(ctx context.Context, nameOrID, alias string) ([]string, error) {
	u, err := s.User(ctx, nameOrID)
	if err != nil {
		return nil, err
	}
	cur, err := s.st.ListUserAliases(ctx, u.ID)
	if err != nil {
		return nil, wrap("list aliases", err)
	}
	want, err := username.Normalize(alias)
	if err != nil {
		return nil, invalid("alias", err.Error())
	}
	for i, a := range cur {
		if n, err := username.Normalize(a); err == nil && n == want {
			return s.setAliases(ctx, u.ID, map[int]string{i: ""})
		}
	}
	return nil, notFound(fmt.Sprintf("%s has no alias %q", u.Username, alias))
}

func (s *Service) setAliases(ctx context.Context, nameOrID string, set map[int]string) ([]string, error) {
	u, err := s.ModifyUser(ctx, nameOrID, UserUpdate{Aliases: set})
	if err != nil {
		return nil, err
	}
	return s.UserAliases(ctx, u.ID)
}

// sameUsername reports whether a and b compare equal as usernames.
func sameUsername(a, b string) bool {
	if a == b {
		return true
	}
	na, err := username.Normalize(a)
	if err != nil {
		return false
	}
	nb, err := username.Normalize(b)
	return err == nil && na == nb
}

// errAliasTakenMeanwhile: an alias checked as free was taken by another
// user's change before this one committed.
var errAliasTakenMeanwhile = &Error{Kind: KindConflict, Param: "aliases",
	Detail: "an alias was given to another user (as alias or username) at the same time; try again"}

// aliasMap is list as positions to set.
func aliasMap(list []string) map[int]string {
	m := make(map[int]string, len(list))
	for i, a := range list {
		m[i] = a
	}
	return m
}

package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/store"
)

// testUsernameComparison checks that usernames are compared as package
// username says (PRECIS UsernameCaseMapped per space-separated part), not
// merely lower-cased: width and Unicode normalisation fold, compatibility
// characters such as KELVIN SIGN are not a way to type a name.
func testUsernameComparison(t *testing.T, s store.Store) {
	ctx := t.Context()
	karl := mkUser(1, "karl")
	jose := mkUser(2, "jos\u00e9") // precomposed é
	john := mkUser(3, "John Smith")
	createUsers(t, s, karl, jose, john)

	for _, tc := range []struct {
		lookup string
		want   store.User
	}{
		{"KARL", karl},
		{"ｋａｒｌ", karl},       // fullwidth
		{"ＫＡＲＬ", karl},       // fullwidth upper case
		{"jose\u0301", jose}, // decomposed é
		{"JOSÉ", jose},
		{"john smith", john},
		{"JOHN\u3000SMITH", john}, // ideographic space
	} {
		got, err := s.GetUserByUsername(ctx, tc.lookup)
		if err != nil {
			t.Errorf("GetUserByUsername(%+q): %v", tc.lookup, err)
			continue
		}
		check(t, fmt.Sprintf("GetUserByUsername(%+q)", tc.lookup), got, tc.want, normUser)
	}
	for _, name := range []string{
		"\u212Aarl",   // KELVIN SIGN: lower-cases to k, but is not k
		"\u212AARL",   // the same, upper case
		"kar\u217C",   // SMALL ROMAN NUMERAL FIFTY, a compatibility l
		"johnsmith",   // the space matters
		"john  smith", // two spaces are not one
		"john smith ", // nor is a trailing one ignored
		"karl\x00",    // control character
		"",
	} {
		got, err := s.GetUserByUsername(ctx, name)
		wantErr(t, fmt.Sprintf("GetUserByUsername(%+q) (got %s)", name, got.ID), err, store.ErrNotFound)
	}

	t.Run("collisions refused", func(t *testing.T) {
		for i, name := range []string{"Karl", "ＫＡＲＬ", "jose\u0301", "JOSÉ", "john\u3000smith"} {
			wantErr(t, fmt.Sprintf("CreateUser(%+q)", name), s.CreateUser(ctx, mkUser(50+i, name)), store.ErrAlreadyExists)
		}
	})
	t.Run("invalid names refused", func(t *testing.T) {
		for i, name := range []string{"\u212Aarl", "\uFB01", " karl", "a\tb", "", strings.Repeat("a", 129)} {
			err := s.CreateUser(ctx, mkUser(60+i, name))
			if err == nil || errors.Is(err, store.ErrAlreadyExists) {
				t.Errorf("CreateUser(%+q) = %v, want an invalid-username error", name, err)
			}
			if _, err := s.GetUser(ctx, userID(60+i)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("CreateUser(%+q) stored the user (GetUser: %v)", name, err)
			}
		}
	})
}

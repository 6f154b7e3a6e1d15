package auth_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// TestUsernamePolicyAndAliases: under the simple policy, EXAMPLE\alice,
// alice@example.com, ALICE and an alias reach alice, with preauth and with
// auth (a bypass code: the passcode path with and without the user hint),
// and the auth log names alice; under none, only the case and the alias
// fold.
func TestUsernamePolicyAndAliases(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	alice := f.user(t, "alice", store.StatusActive)
	if _, err := f.svc.ModifyUser(ctx, "alice", auth.UserUpdate{Aliases: map[int]string{0: "a.smith", 3: "ASmith@Corp.example"}}); err != nil {
		t.Fatal(err)
	}
	codes := f.codes(t, "alice", auth.NewBypassCodes{Count: 10, Uses: 1})
	codes = append(codes, f.codes(t, "alice", auth.NewBypassCodes{Count: 10, Uses: 1, PreserveExisting: true})...)
	simple, err := f.svc.UpdateIntegration(ctx, f.in.IKey, auth.IntegrationUpdate{UsernameNormalization: ptr("simple")})
	if err != nil || simple.UsernameNormalization != "simple" {
		t.Fatalf("UpdateIntegration: %+v %v", simple, err)
	}
	none, _, err := f.svc.CreateIntegration(ctx, auth.NewIntegration{Name: "none", Type: store.TypeAuthAPI})
	if err != nil || none.UsernameNormalization != "none" {
		t.Fatalf("CreateIntegration default policy: %q %v", none.UsernameNormalization, err)
	}
	n := 0
	for _, tc := range []struct {
		in    store.Integration
		typed string
		found bool
	}{
		{simple, `EXAMPLE\alice`, true},
		{simple, "alice@example.com", true},
		{simple, "ALICE", true},
		{simple, "a.smith", true},
		{simple, `EXAMPLE\A.Smith`, true},
		{simple, "asmith@corp.example", false}, // stripped to asmith: no such name
		{none, "ASmith@Corp.example", true},    // an alias as typed
		{none, "ALICE", true},
		{none, "a.smith", true},
		{none, `EXAMPLE\alice`, false},
		{none, "alice@example.com", false},
	} {
		req := auth.Request{Integration: tc.in, Username: tc.typed}
		pre, err := f.svc.Preauth(ctx, auth.PreauthRequest{Request: req})
		if err != nil {
			t.Fatalf("%s %q: preauth: %v", tc.in.UsernameNormalization, tc.typed, err)
		}
		if got := pre.UserID == alice.ID; got != tc.found {
			t.Errorf("%s %q: preauth found alice = %v (result %s)", tc.in.UsernameNormalization, tc.typed, got, pre.Result)
		}
		if !tc.found {
			continue
		}
		for range 2 { // the second with the user hint
			res, err := f.svc.Auth(ctx, auth.AuthRequest{Request: req, Factor: auth.FactorPasscode, Passcode: codes[n]})
			n++
			if err != nil || res.Result != auth.ResultAllow {
				t.Errorf("%s %q: auth: %+v %v", tc.in.UsernameNormalization, tc.typed, res, err)
			}
		}
	}
	aliases := map[string]bool{}
	for _, l := range f.logs(t, alice.ID) {
		if l.Username != "alice" {
			t.Errorf("auth log names %q, want the user's username alice", l.Username)
		}
		if l.Alias != "" {
			aliases[l.Alias] = true
		}
	}
	// Duo's alias: the alias a login used (after the policy), never a
	// spelling of the username.
	if want := map[string]bool{"a.smith": true, "A.Smith": true, "ASmith@Corp.example": true}; !maps.Equal(aliases, want) {
		t.Errorf("auth log aliases %v, want %v", aliases, want)
	}
	// An unknown user is logged as typed.
	f.svc.Preauth(ctx, auth.PreauthRequest{Request: auth.Request{Integration: none, Username: `EXAMPLE\nobody`}})
	all, _ := f.st.ListAuthLog(ctx, store.AuthLogFilter{})
	if !slices.ContainsFunc(all, func(l store.AuthLog) bool { return l.Username == `EXAMPLE\nobody` && l.UserID == "" }) {
		t.Error(`no auth-log row for the unknown EXAMPLE\nobody as typed`)
	}
	if _, err := f.svc.UpdateIntegration(ctx, f.in.IKey, auth.IntegrationUpdate{UsernameNormalization: ptr("Simple")}); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("policy Simple: %v", err)
	}
}

// TestAliasesOneNamespace: aliases are refused with an error naming the
// holder when they are another user's username or alias, the user's own
// username, or repeated; a username that is an alias is refused too.
func TestAliasesOneNamespace(t *testing.T) {
	f := newFixture(t, auth.Options{})
	ctx := context.Background()
	f.user(t, "alice", store.StatusActive)
	bob := f.user(t, "bob", store.StatusActive)
	if _, err := f.svc.AddUserAlias(ctx, "alice", "a.smith"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		set     map[int]string
		kind    auth.Kind
		contain string
	}{
		{"another's username", map[int]string{0: "ALICE"}, auth.KindConflict, `is already the username of the user "alice"`},
		{"another's alias", map[int]string{1: "A.SMITH"}, auth.KindConflict, `is already an alias of the user "alice"`},
		{"own username", map[int]string{0: "Bob"}, auth.KindInvalid, "is the user's username"},
		{"twice", map[int]string{0: "rob", 1: "ROB"}, auth.KindInvalid, "is the same as alias1"},
		{"invalid", map[int]string{0: "bad\x00"}, auth.KindInvalid, "control"},
		{"position 9", map[int]string{8: "x"}, auth.KindInvalid, "positions"},
	} {
		_, err := f.svc.ModifyUser(ctx, "bob", auth.UserUpdate{Aliases: tc.set})
		if !auth.IsKind(err, tc.kind) || !strings.Contains(err.Error(), tc.contain) {
			t.Errorf("%s: %v, want %v containing %q", tc.name, err, tc.kind, tc.contain)
		}
	}
	if _, err := f.svc.AddUser(ctx, auth.NewUser{Username: "A.Smith"}); !auth.IsKind(err, auth.KindConflict) || !strings.Contains(err.Error(), "alias") {
		t.Errorf("AddUser named as an alias: %v", err)
	}
	if _, err := f.svc.RenameUser(ctx, "bob", "a.smith"); !auth.IsKind(err, auth.KindConflict) {
		t.Errorf("rename to an alias: %v", err)
	}
	u, err := f.svc.AddUser(ctx, auth.NewUser{Username: "carol", Aliases: []string{"", "cc"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.UserAliases(ctx, "cc"); !slices.Equal(got, []string{"", "cc"}) {
		t.Errorf("carol's aliases by alias: %q", got)
	}
	// Clearing with "": position 2 goes, and the list ends there.
	if _, err := f.svc.ModifyUser(ctx, u.ID, auth.UserUpdate{Aliases: map[int]string{1: ""}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.svc.UserAliases(ctx, u.ID); got != nil {
		t.Errorf("after clearing: %q", got)
	}
	got, err := f.svc.RemoveUserAlias(ctx, "alice", "A.SMITH")
	if err != nil || got != nil {
		t.Errorf("RemoveUserAlias: %q %v", got, err)
	}
	if _, err := f.svc.RemoveUserAlias(ctx, "alice", "a.smith"); !auth.IsKind(err, auth.KindNotFound) {
		t.Errorf("removing a missing alias: %v", err)
	}
	if _, err := f.svc.AddUserAlias(ctx, bob.ID, "a.smith"); err != nil {
		t.Errorf("a freed alias: %v", err)
	}
	for i := range 7 {
		if _, err := f.svc.AddUserAlias(ctx, bob.ID, fmt.Sprintf("bob%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.AddUserAlias(ctx, bob.ID, "ninth"); !auth.IsKind(err, auth.KindInvalid) {
		t.Errorf("a ninth alias: %v", err)
	}
}

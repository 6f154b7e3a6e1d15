package sqlstore

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/testutil"
	"github.com/assent-auth/assent/internal/username"
)

// legacyUser is a row as a store from before migration 0005 kept it: the
// norm is strings.ToLower of the name.
type legacyUser struct {
	id, name string
	created  int64
}

// testRenormalize opens a store, rewrites it into the pre-0005 state (norms
// lower-cased, the setting saying so), reopens it and checks that every
// norm follows the PRECIS rule, that collisions and invalid names neither
// fail the upgrade nor lose a user, and that each is logged as a warning.
func testRenormalize(t *testing.T, open func(t *testing.T, log *slog.Logger) (*Store, error)) {
	ctx := t.Context()
	legacy := []legacyUser{
		{"DU000000000000000001", "alice", 100},
		// Two spellings of karl: the fullwidth one is older, but "karl" is
		// the one the name reaches today, so it keeps it.
		{"DU000000000000000002", "ｋａｒｌ", 100},
		{"DU000000000000000003", "Karl", 200},
		// Neither reaches "josé" today (fullwidth, decomposed vs
		// precomposed): the older keeps it.
		{"DU000000000000000004", "Ｊｏｓｅ\u0301", 300},
		{"DU000000000000000005", "ｊｏｓ\u00e9", 200},
		// Not a valid username any more.
		{"DU000000000000000006", "\u212Aelvin", 100},
	}

	s, err := open(t, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	err = s.inTx(ctx, func(q *queries) error {
		for _, u := range legacy {
			if _, err := q.exec(ctx, `INSERT INTO users (id, username, username_norm, status, created) VALUES (?, ?, ?, ?, ?)`,
				u.id, u.name, strings.ToLower(u.name), string(store.StatusActive), u.created); err != nil {
				return err
			}
		}
		// alice's aliases: one that now normalises differently, one that
		// is now karl's username, one no longer valid.
		for i, a := range []string{"Ａ.Smith", "KARL", "\u212Ael"} {
			if _, err := q.exec(ctx, `INSERT INTO user_aliases (user_id, position, alias, alias_norm) VALUES (?, ?, ?, ?)`,
				"DU000000000000000001", i+1, a, strings.ToLower(a)); err != nil {
				return err
			}
		}
		return q.PutSetting(ctx, settingUsernameNorm, "lower")
	})
	if err != nil {
		t.Fatalf("write legacy rows: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	var logs testutil.SyncBuffer
	s, err = open(t, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("reopen: %v (logs: %s)", err, logs.String())
	}
	defer s.Close()

	for _, tc := range []struct {
		lookup, wantID string
	}{
		{"alice", "DU000000000000000001"},
		{"KARL", "DU000000000000000003"},
		{"ｋａｒｌ", "DU000000000000000003"},
		{"jos\u00e9", "DU000000000000000005"},
		{"JOSE\u0301", "DU000000000000000005"},
		{"a.smith", "DU000000000000000001"}, // the alias, renormalised
		{"A.SMITH", "DU000000000000000001"},
	} {
		u, err := s.GetUserByUsername(ctx, tc.lookup)
		if err != nil || u.ID != tc.wantID {
			t.Errorf("GetUserByUsername(%+q) = %s, %v; want %s", tc.lookup, u.ID, err, tc.wantID)
		}
	}
	if list, err := s.ListUserAliases(ctx, "DU000000000000000001"); err != nil || len(list) != 3 {
		t.Errorf("alice's aliases after the upgrade: %q, %v; want all three kept", list, err)
	}
	for _, name := range []string{"kelvin", "Kelvin", "\u212Aelvin", "kel"} {
		if u, err := s.GetUserByUsername(ctx, name); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetUserByUsername(%+q) = %s, %v; want not found", name, u.ID, err)
		}
	}
	// Nobody was lost: the set-aside users are there by ID and can still
	// be updated (a status change must not trip over their names).
	for _, id := range []string{"DU000000000000000002", "DU000000000000000004", "DU000000000000000006"} {
		u, err := s.GetUser(ctx, id)
		if err != nil {
			t.Fatalf("GetUser(%s): %v", id, err)
		}
		u.Status = store.StatusDisabled
		if err := s.UpdateUser(ctx, u); err != nil {
			t.Errorf("UpdateUser(%s %+q): %v", id, u.Username, err)
		}
	}
	// Renaming a set-aside user gives it a name again.
	u, err := s.GetUser(ctx, "DU000000000000000002")
	if err != nil {
		t.Fatal(err)
	}
	u.Username = "karl2"
	if err := s.UpdateUser(ctx, u); err != nil {
		t.Fatalf("rename the set-aside user: %v", err)
	}
	if got, err := s.GetUserByUsername(ctx, "KARL2"); err != nil || got.ID != u.ID {
		t.Errorf("GetUserByUsername(KARL2) = %s, %v; want %s", got.ID, err, u.ID)
	}
	if v, err := s.GetSetting(ctx, settingUsernameNorm); err != nil || v != username.Version {
		t.Errorf("setting %s = %q, %v; want %q", settingUsernameNorm, v, err, username.Version)
	}

	out := logs.String()
	for _, want := range []string{
		"level=WARN msg=\"two usernames are the same",
		"user_id=DU000000000000000003 colliding_username=ｋａｒｌ colliding_user_id=DU000000000000000002",
		"user_id=DU000000000000000005 colliding_username=Ｊｏｓｅ\u0301 colliding_user_id=DU000000000000000004",
		"level=WARN msg=\"username is not valid",
		"user_id=DU000000000000000006",
		"assent user rename DU000000000000000002",
		"msg=\"username alias is now the same as another username or alias",
		"msg=\"username alias is not valid under the current rule",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Once done, opening again changes nothing and says nothing.
	logs = testutil.SyncBuffer{}
	s, err = open(t, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("third open: %v", err)
	}
	defer s.Close()
	if out := logs.String(); out != "" {
		t.Errorf("third open logged:\n%s", out)
	}
}

func TestSQLiteRenormalizeUsernames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "assent.db")
	testRenormalize(t, func(t *testing.T, log *slog.Logger) (*Store, error) {
		return OpenSQLite(t.Context(), path, WithLogger(log), WithBusyTimeout(5*time.Second))
	})
}

func TestPostgresRenormalizeUsernames(t *testing.T) {
	dsn := postgresServer(t).newDB(t)
	testRenormalize(t, func(t *testing.T, log *slog.Logger) (*Store, error) {
		return OpenPostgres(t.Context(), dsn, WithLogger(log))
	})
}

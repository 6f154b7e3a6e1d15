package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/storetest"
)

func TestWebAuthnSQLite(t *testing.T) {
	storetest.RunWebAuthnTests(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	})
}

func TestWebAuthnPostgres(t *testing.T) {
	pg := postgresServer(t)
	storetest.RunWebAuthnTests(t, func(t *testing.T) store.Store {
		return openPostgres(t, pg.newDB(t))
	})
}

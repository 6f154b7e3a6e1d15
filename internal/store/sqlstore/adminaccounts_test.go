package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/storetest"
)

func TestAdminAccountsSQLite(t *testing.T) {
	storetest.RunAdminAccountTests(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	})
}

func TestAdminAccountsPostgres(t *testing.T) {
	pg := postgresServer(t)
	storetest.RunAdminAccountTests(t, func(t *testing.T) store.Store {
		return openPostgres(t, pg.newDB(t))
	})
}

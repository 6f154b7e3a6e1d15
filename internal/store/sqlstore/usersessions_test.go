package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/storetest"
)

func TestUserSessionsSQLite(t *testing.T) {
	storetest.RunUserSessionTests(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	})
}

func TestUserSessionsPostgres(t *testing.T) {
	pg := postgresServer(t)
	storetest.RunUserSessionTests(t, func(t *testing.T) store.Store {
		return openPostgres(t, pg.newDB(t))
	})
}

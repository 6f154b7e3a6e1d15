package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/storetest"
)

func TestWebPushSQLite(t *testing.T) {
	storetest.RunWebPushTests(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	})
}

func TestWebPushPostgres(t *testing.T) {
	pg := postgresServer(t)
	storetest.RunWebPushTests(t, func(t *testing.T) store.Store {
		return openPostgres(t, pg.newDB(t))
	})
}

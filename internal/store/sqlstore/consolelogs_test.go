package sqlstore

import (
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/store/storetest"
)

func TestConsoleLogsSQLite(t *testing.T) {
	storetest.RunConsoleLogTests(t, func(t *testing.T) store.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	})
}

func TestConsoleLogsPostgres(t *testing.T) {
	pg := postgresServer(t)
	storetest.RunConsoleLogTests(t, func(t *testing.T) store.Store {
		return openPostgres(t, pg.newDB(t))
	})
}

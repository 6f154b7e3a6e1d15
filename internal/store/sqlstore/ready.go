package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// Ready reports whether the store can serve: the database answers (Ping)
// and its schema has every migration this program knows, as applied when
// the store was opened. A database restored from an older copy under a
// running server fails it; a newer schema (another node upgraded first)
// does not, so that a rolling upgrade leaves the old nodes serving.
func (s *Store) Ready(ctx context.Context) error {
	if err := s.Ping(ctx); err != nil {
		return err
	}
	// The embedded migrations, read again: /readyz asks at most once a
	// second.
	ms, err := loadMigrations(s.d.name)
	if err != nil || len(ms) == 0 {
		return fmt.Errorf("sqlstore: ready: no migrations: %w", err)
	}
	want := ms[len(ms)-1].version
	var have sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_migrations`).Scan(&have); err != nil {
		s.countErr(err)
		return fmt.Errorf("sqlstore: ready: read schema_migrations: %w", err)
	}
	if have.Int64 < want {
		return fmt.Errorf("sqlstore: the database schema is at migration %d, this program needs %d", have.Int64, want)
	}
	return nil
}

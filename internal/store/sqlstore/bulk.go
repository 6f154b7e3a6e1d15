package sqlstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/assent-auth/assent/internal/store"
)

// Bulk loading (store.BulkLoader), for `assent bench seed` and its million
// users. SQLite gets multi-row INSERTs inside one write transaction;
// PostgreSQL gets COPY (pgx CopyFrom) in one transaction. Neither uses ON
// CONFLICT: a duplicate fails the statement, and so the whole batch.

var _ store.BulkLoader = (*Store)(nil)

// bulkTable is one table's rows in the order of cols.
type bulkTable struct {
	name string
	cols []string
	rows [][]any
}

var (
	bulkUserCols   = []string{"id", "username", "username_norm", "status", "failed_attempts", "lockout_reason", "created", "last_login"}
	bulkDeviceCols = colNames(deviceCols)
	bulkCodeCols   = colNames(bypassCols)
)

// colNames splits a column list written for SQL ("a, b,\n\tc").
func colNames(list string) []string {
	return strings.Split(strings.Join(strings.Fields(list), ""), ",")
}

// bulkTables turns b into rows, users first so that the foreign keys of
// devices and codes find them. Values have the Go types both drivers
// encode for the columns' types (COPY's binary format is strict).
func bulkTables(b store.Bulk) ([]bulkTable, error) {
	users := bulkTable{name: "users", cols: bulkUserCols, rows: make([][]any, 0, len(b.Users))}
	for _, u := range b.Users {
		norm, err := normUsername(u.Username)
		if err != nil {
			return nil, fmt.Errorf("user %s: username %w", u.ID, err)
		}
		users.rows = append(users.rows, []any{u.ID, u.Username, norm, string(u.Status), int32(u.FailedAttempts),
			u.LockoutReason, toUnix(u.Created), toUnix(u.LastLogin)})
	}
	devices := bulkTable{name: "devices", cols: bulkDeviceCols, rows: make([][]any, 0, len(b.Devices))}
	for _, d := range b.Devices {
		devices.rows = append(devices.rows, []any{d.ID, d.UserID, d.Name, d.Platform, d.PublicKey, blob(d.HOTPSecretEnc),
			d.HOTPCounter, d.PushToken, toUnix(d.Created), toUnix(d.LastSeen), d.Number, d.Extension, d.PhoneType, d.Predelay, d.Postdelay})
	}
	codes := bulkTable{name: "bypass_codes", cols: bulkCodeCols, rows: make([][]any, 0, len(b.BypassCodes))}
	for _, c := range b.BypassCodes {
		codes.rows = append(codes.rows, []any{c.ID, c.UserID, blob(c.Hash), int32(c.RemainingUses),
			toUnix(c.Expires), toUnix(c.Created)})
	}
	return []bulkTable{users, devices, codes}, nil
}

// LoadBulk inserts b in one transaction (see store.BulkLoader).
func (s *Store) LoadBulk(ctx context.Context, b store.Bulk) error {
	tables, err := bulkTables(b)
	if err != nil {
		return fmt.Errorf("sqlstore: load bulk: %w", err)
	}
	if len(b.Users)+len(b.Devices)+len(b.BypassCodes) == 0 {
		return nil
	}
	if s.d.postgres {
		err = s.copyBulk(ctx, tables)
	} else {
		err = s.inTx(ctx, func(q *queries) error { return q.insertBulk(ctx, tables) })
	}
	if err != nil {
		return fmt.Errorf("sqlstore: load bulk: %w", mapErr(err))
	}
	return nil
}

// bulkParams bounds the parameters of one multi-row INSERT, below SQLite's
// limit of 32,766 and PostgreSQL's of 65,535.
const bulkParams = 8000

// bulkCacheKiB is SQLite's page cache during a bulk load.
const bulkCacheKiB = 1 << 20

// insertBulk writes the tables with multi-row INSERTs. The statements are
// run unprepared: they are used once per batch, and would only crowd the
// write connection's statement cache.
func (q *queries) insertBulk(ctx context.Context, tables []bulkTable) error {
	if q.noCancel {
		ctx = context.WithoutCancel(ctx)
	}
	if !q.d.postgres {
		// Random keys touch pages all over six indexes; a cache that holds
		// them all keeps SQLite from spilling (and rewriting) dirty pages
		// into the WAL before the commit. Restored afterwards: the write
		// connection serves the server too.
		var was int64
		if err := q.db.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
			return fmt.Errorf("cache size: %w", err)
		}
		if _, err := q.db.ExecContext(ctx, fmt.Sprintf(`PRAGMA cache_size = %d`, -bulkCacheKiB)); err != nil {
			return fmt.Errorf("cache size: %w", err)
		}
		defer q.db.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, was)) //nolint:errcheck // best effort
	}
	for _, t := range tables {
		per := bulkParams / len(t.cols)
		row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(t.cols)), ", ") + ")"
		head := "INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES "
		for rows := t.rows; len(rows) > 0; {
			chunk := rows[:min(len(rows), per)]
			rows = rows[len(chunk):]
			var sb strings.Builder
			sb.Grow(len(head) + len(chunk)*(len(row)+2))
			sb.WriteString(head)
			args := make([]any, 0, len(chunk)*len(t.cols))
			for i, r := range chunk {
				if i > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(row)
				args = append(args, r...)
			}
			if _, err := q.db.ExecContext(ctx, q.d.rebind(sb.String()), args...); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
	}
	return nil
}

// copyBulk writes the tables with COPY in one transaction on one
// connection of the pool.
func (s *Store) copyBulk(ctx context.Context, tables []bulkTable) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		tx, err := sc.Conn().Begin(ctx)
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // no-op after Commit
		for _, t := range tables {
			if len(t.rows) == 0 {
				continue
			}
			n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(t.rows))
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if n != int64(len(t.rows)) {
				return fmt.Errorf("%s: copied %d of %d rows", t.name, n, len(t.rows))
			}
		}
		return tx.Commit(ctx)
	})
}

// Analyze refreshes the planner's statistics of the tables a bulk load
// fills. On PostgreSQL it is VACUUM (ANALYZE): besides the statistics, it
// sets the hint bits and visibility map of the copied rows, so that the
// first reads of a million fresh rows (during a benchmark) do not each
// dirty their page.
func (s *Store) Analyze(ctx context.Context) error {
	var err error
	if s.d.postgres {
		_, err = s.w.ExecContext(ctx, `VACUUM (ANALYZE) users, devices, bypass_codes`)
	} else {
		err = s.inTx(ctx, func(q *queries) error {
			_, err := q.db.ExecContext(context.WithoutCancel(ctx), `ANALYZE`)
			return err
		})
	}
	if err != nil {
		return fmt.Errorf("sqlstore: analyze: %w", err)
	}
	return nil
}

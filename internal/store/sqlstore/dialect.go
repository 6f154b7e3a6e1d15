package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/assent-auth/assent/internal/store"
	"github.com/assent-auth/assent/internal/username"
)

// dialect holds what differs between the engines. Everything else is shared
// SQL written with '?' placeholders.
type dialect struct {
	name     string
	postgres bool
	// binary is appended to text columns in ORDER BY so that both engines
	// order by bytes, whatever collation a PostgreSQL database was created
	// with.
	binary string
	// appendAuthLog inserts an auth-log row stamped with the greater of
	// its time and the auth log's clock (see admin.go).
	appendAuthLog string
	// The decision's one-statement reads of a user (queries.go,
	// devices.go), with the user's groups (userGroupsJSON): the user by
	// name with a bypass code, and by ID or name with the devices.
	userAndCode, userAndDevicesByID, userAndDevicesByName string
}

// userByName is the condition that finds the user u whose username, or
// else one of whose aliases, has the normalised form given twice (two
// placeholders): each scalar subquery is one unique-index probe, the user
// one primary-key probe, and COALESCE reads the aliases only when no
// username matched. TestUserByNameUsesIndexes checks the plans.
const userByName = `u.id = COALESCE((SELECT id FROM users WHERE username_norm = ?), (SELECT user_id FROM user_aliases WHERE alias_norm = ?))`

// withUserReads fills d's user reads.
func (d *dialect) withUserReads() *dialect {
	groups := userGroupsJSON(d)
	d.userAndCode = `SELECT u.id, u.username, u.status, u.failed_attempts, u.lockout_reason, u.created, u.last_login,
		        COALESCE(b.id, ''), COALESCE(b.remaining_uses, 0), COALESCE(b.expires, 0), COALESCE(b.created, 0), ` + groups + `
		 FROM users u LEFT JOIN bypass_codes b ON b.user_id = u.id AND u.id = ? AND b.hash = ?
		 WHERE ` + userByName
	devices := func(where string) string {
		return `SELECT u.id, u.username, u.status, u.failed_attempts, u.lockout_reason, u.created, u.last_login,
		        COALESCE(d.id, ''), COALESCE(d.name, ''), COALESCE(d.platform, ''), COALESCE(d.public_key, ''),
		        d.hotp_secret_enc, COALESCE(d.hotp_counter, 0), COALESCE(d.push_token, ''),
		        COALESCE(d.created, 0), COALESCE(d.last_seen, 0), COALESCE(d.number, ''), COALESCE(d.extension, ''),
		        COALESCE(d.phone_type, ''), COALESCE(d.predelay, ''), COALESCE(d.postdelay, ''), ` + groups + `
		 FROM users u LEFT JOIN devices d ON d.user_id = u.id
		 WHERE ` + where + ` ORDER BY d.created, d.id` + d.binary
	}
	d.userAndDevicesByID, d.userAndDevicesByName = devices(`u.id = ?`), devices(userByName)
	return d
}

// authLogInsertCols are the columns AppendAuthLog writes, in the order of
// authLogArgs; time is the second.
var authLogInsertCols = []string{"txid", "time", "ikey", "user_id", "username", "factor", "device", "result",
	"reason", "ip", "hostname", "group_list", "alias", "policy"}

// authLogArgs are the values of authLogInsertCols for l, stamped at.
func authLogArgs(l *store.AuthLog, at int64, groups string) []any {
	return []any{l.TxID, at, l.IKey, l.UserID, l.Username, l.Factor, l.Device, l.Result, l.Reason, l.IP, l.Hostname,
		groups, l.Alias, l.Policy}
}

// insertAuthLogSQL inserts an auth-log row; timeExpr is the time column's
// value (its own parameter first).
func insertAuthLogSQL(timeExpr string) string {
	vals := make([]string, len(authLogInsertCols))
	for i := range vals {
		vals[i] = "?"
	}
	vals[1] = timeExpr
	return `INSERT INTO auth_log (` + strings.Join(authLogInsertCols, ", ") + `) VALUES (` + strings.Join(vals, ", ") + `)`
}

// insertAuthLog inserts an auth-log row with its stamp given (SQLite, see
// appendAuthLogSQLite).
var insertAuthLog = insertAuthLogSQL("?")

func appendAuthLogSQL(greatest string) string {
	return insertAuthLogSQL(greatest+`(?, (SELECT t FROM log_clock WHERE id = 1))`) + ` RETURNING id, time`
}

var (
	sqliteDialect   = (&dialect{name: DialectSQLite, appendAuthLog: appendAuthLogSQL("max")}).withUserReads()
	postgresDialect = (&dialect{name: DialectPostgres, postgres: true, binary: ` COLLATE "C"`, appendAuthLog: appendAuthLogSQL("GREATEST")}).withUserReads()
)

// rebind rewrites '?' placeholders for the dialect.
func (d *dialect) rebind(query string) string {
	if !d.postgres {
		return query
	}
	return rebindDollar(query)
}

// rebindDollar replaces each '?' outside quotes with $1, $2, ….
func rebindDollar(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte // the quote character we are inside, or 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// mapErr turns a driver error into one that also matches a store sentinel
// where there is one: unique violations match store.ErrAlreadyExists and
// foreign-key violations store.ErrNotFound (the referenced row is missing).
// sql.ErrNoRows matches store.ErrNotFound. The driver error stays in the
// chain for the message and for errors.As.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%w: %w", store.ErrAlreadyExists, err)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
		return err
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", store.ErrAlreadyExists, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%w: %w", store.ErrNotFound, err)
		}
	}
	return err
}

// isConstraint reports a constraint violation the store maps onto a
// sentinel (a duplicate, a missing referenced row): an answer, not a
// database failure.
func isConstraint(err error) bool {
	err = mapErr(err)
	return errors.Is(err, store.ErrAlreadyExists) || errors.Is(err, store.ErrNotFound)
}

// toUnix stores t as unix seconds; the zero time is 0.
func toUnix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// fromUnix is the inverse of toUnix, in UTC.
func fromUnix(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0).UTC()
}

// blob keeps nil byte slices out of NOT NULL columns.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// normUsername is the form usernames are compared in and the key of the
// unique index users.username_norm (see package username).
func normUsername(name string) (string, error) {
	return username.Normalize(name)
}

// isBusy reports whether err is SQLite's SQLITE_BUSY (any extended code).
func isBusy(err error) bool {
	var liteErr *sqlite.Error
	return errors.As(err, &liteErr) && liteErr.Code()&0xff == sqlite3.SQLITE_BUSY
}

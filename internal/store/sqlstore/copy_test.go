package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// migrationTables replays the CREATE, RENAME and DROP TABLE statements of a
// dialect's migrations and returns the tables they leave.
func migrationTables(t *testing.T, dialect string) []string {
	t.Helper()
	create := regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)`)
	rename := regexp.MustCompile(`(?i)ALTER\s+TABLE\s+(\w+)\s+RENAME\s+TO\s+(\w+)`)
	drop := regexp.MustCompile(`(?i)DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?(\w+)`)
	ms, err := loadMigrations(dialect)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{"schema_migrations": true}
	for _, m := range ms {
		// Statement by statement, in order, without comments.
		var lines []string
		for l := range strings.SplitSeq(m.sql, "\n") {
			if i := strings.Index(l, "--"); i >= 0 {
				l = l[:i]
			}
			lines = append(lines, l)
		}
		for stmt := range strings.SplitSeq(strings.Join(lines, "\n"), ";") {
			if g := create.FindStringSubmatch(stmt); g != nil {
				set[strings.ToLower(g[1])] = true
			}
			if g := rename.FindStringSubmatch(stmt); g != nil {
				delete(set, strings.ToLower(g[1]))
				set[strings.ToLower(g[2])] = true
			}
			if g := drop.FindStringSubmatch(stmt); g != nil {
				delete(set, strings.ToLower(g[1]))
			}
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// TestCopyCoversEveryTable fails when a migration adds a table that Copy
// (and so migrate-data, backup of PostgreSQL and restore into PostgreSQL)
// would not carry over: add it to copyTables (or bookkeepingTables) and give
// it sample rows in fillEveryTable.
func TestCopyCoversEveryTable(t *testing.T) {
	known := slices.Concat(copyTables, bookkeepingTables)
	slices.Sort(known)
	if len(slices.Compact(slices.Clone(known))) != len(known) {
		t.Fatalf("copyTables and bookkeepingTables name a table twice: %v", known)
	}
	for _, d := range []string{DialectSQLite, DialectPostgres} {
		if got := migrationTables(t, d); !slices.Equal(got, known) {
			t.Errorf("%s migrations create tables %v;\nCopy knows %v", d, got, known)
		}
	}
	s := openSQLite(t, filepath.Join(t.TempDir(), "assent.db"))
	got, err := s.Tables(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, known) {
		t.Errorf("a migrated SQLite database has tables %v; Copy knows %v", got, known)
	}
	// The migrations directory holds nothing but the two dialects.
	entries, err := fs.ReadDir(migrationsFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if n := path.Base(e.Name()); n != DialectSQLite && n != DialectPostgres {
			t.Errorf("unexpected migrations/%s", n)
		}
	}
}

// sampleRows inserts rows into every copied table, with values of every
// kind a column holds (empty and non-empty bytes, NULLs, large integers).
var sampleRows = []string{
	`INSERT INTO integrations (ikey, name, type, secret_enc, new_user_policy, created, allowed_origins, legacy_signatures, grants, prev_secret_enc, prev_secret_expires, verified_push, username_normalization_policy)
	 VALUES ('DIAAAAAAAAAAAAAAAAAA', 'vpn', 'authapi', X'0102ff', 'enroll', 1700000000, 'https://a.example', 1, '', X'', 0, 3, 'simple'),
	        ('DIBBBBBBBBBBBBBBBBBB', 'admin', 'adminapi', X'ffee', 'deny', 1700000001, '', 0, 'read-log write-resource', X'aabb', 1800000000, 0, 'none')`,
	`INSERT INTO users (id, username, username_norm, status, failed_attempts, lockout_reason, created, last_login, realname, email, notes, firstname, lastname)
	 VALUES ('DUAAAAAAAAAAAAAAAAAA', 'Alice', 'alice', 'active', 2, '', 1700000000, 1700000100, 'Alice A', 'alice@example.com', 'n', 'Alice', 'A'),
	        ('DUBBBBBBBBBBBBBBBBBB', 'bob', 'bob', 'locked_out', 10, 'failed attempts', 1700000001, 0, '', '', '', '', '')`,
	`INSERT INTO user_groups (id, name, description, status, created) VALUES ('DGAAAAAAAAAAAAAAAAAA', 'staff', 'all staff', 'active', 1700000000)`,
	`INSERT INTO user_group_members (group_id, user_id) VALUES ('DGAAAAAAAAAAAAAAAAAA', 'DUAAAAAAAAAAAAAAAAAA')`,
	`INSERT INTO directories (name, settings, bind_password_enc, created, updated, last_sync, last_result) VALUES
	   ('corp', '{"url":"ldaps://dc.example"}', X'0a0b0c', 1700000000, 1700000001, 1700000100, 'created 1'),
	   ('lab', '{}', NULL, 1700000002, 1700000002, 0, '')`,
	`INSERT INTO directory_users (directory, user_id, external_id, missing_since) VALUES
	   ('corp', 'DUAAAAAAAAAAAAAAAAAA', 'cn=alice,dc=example,dc=com', 0),
	   ('corp', 'DUBBBBBBBBBBBBBBBBBB', 'cn=bob,dc=example,dc=com', 1700000200)`,
	`INSERT INTO directory_groups (directory, group_id, external_id, missing_since) VALUES ('corp', 'DGAAAAAAAAAAAAAAAAAA', 'cn=staff,dc=example,dc=com', 0)`,
	`INSERT INTO user_aliases (user_id, position, alias, alias_norm) VALUES
	   ('DUAAAAAAAAAAAAAAAAAA', 1, 'A.Smith', 'a.smith'),
	   ('DUAAAAAAAAAAAAAAAAAA', 4, 'asmith@example.com', 'asmith@example.com')`,
	`INSERT INTO bypass_codes (id, user_id, hash, remaining_uses, expires, created) VALUES
	   ('BC1', 'DUAAAAAAAAAAAAAAAAAA', X'00112233', 1, 0, 1700000000),
	   ('BC2', 'DUAAAAAAAAAAAAAAAAAA', X'44556677', 0, 1700003600, 1700000000)`,
	`INSERT INTO devices (id, user_id, name, platform, public_key, hotp_secret_enc, hotp_counter, push_token, created, last_seen, number, extension)
	 VALUES ('DPAAAAAAAAAAAAAAAAAA', 'DUAAAAAAAAAAAAAAAAAA', 'phone', 'Android', '-----BEGIN PUBLIC KEY-----', X'0a0b', 9007199254740993, 'tok', 1700000000, 1700000200, '+15555550111', '7')`,
	`INSERT INTO devices (id, user_id, name, platform, public_key, hotp_secret_enc, hotp_counter, push_token, created, last_seen, number, extension, phone_type, predelay, postdelay)
	 VALUES ('DPEEEEEEEEEEEEEEEEEE', 'DUBBBBBBBBBBBBBBBBBB', 'desk', '', '', X'', 0, '', 1700000000, 0, '+442079460958', '123#', 'landline', '3', '1')`,
	`INSERT INTO sms_passcodes (id, user_id, device_id, hash, seq, created, expires) VALUES
	   ('DPSMS1', 'DUAAAAAAAAAAAAAAAAAA', 'DPAAAAAAAAAAAAAAAAAA', X'5a5a', 1, 1700000000, 1700003600)`,
	`INSERT INTO telephony_log (id, txid, time, user_id, phone, type, context, credits, provider, status) VALUES
	   (4, 'tx1', 1700000000, 'DUAAAAAAAAAAAAAAAAAA', 'XXX-XXX-0111', 'sms', 'authentication', 1, 'kannel', 'sent')`,
	`INSERT INTO phone_proofs (user_id, number, extension, name, hash, attempts, created, expires) VALUES
	   ('DUAAAAAAAAAAAAAAAAAA', '+15555550122', '4', 'desk', X'7b7b', 2, 1700000000, 1700000600)`,
	`INSERT INTO pending_phones (id, user_id, name, type, platform, number, extension, predelay, postdelay, created) VALUES
	   ('DPCCCCCCCCCCCCCCCCCC', 'DUBBBBBBBBBBBBBBBBBB', 'desk', 'mobile', 'Apple iOS', '+15555550100', '12', '', '', 1700000000),
	   ('DPDDDDDDDDDDDDDDDDDD', NULL, '', '', '', '', '', '', '', 1700000001)`,
	`INSERT INTO activations (code_hash, user_id, expires, device_id, created, phone_id) VALUES
	   (X'01', 'DUAAAAAAAAAAAAAAAAAA', 1700086400, 'DPAAAAAAAAAAAAAAAAAA', 1700000000, ''),
	   (X'02', 'DUBBBBBBBBBBBBBBBBBB', 0, '', 1700000000, 'DPCCCCCCCCCCCCCCCCCC')`,
	`INSERT INTO transactions (id, user_id, device_id, ikey, factor, state, type, display_username, push_info, ip, hostname, created, expires, answered, step_up_digits) VALUES
	   ('tx1', 'DUAAAAAAAAAAAAAAAAAA', 'DPAAAAAAAAAAAAAAAAAA', 'DIAAAAAAAAAAAAAAAAAA', 'push', 'pushed', 'Login request', 'Alice', 'a=b', '192.0.2.1', 'h', 1700000000, 1700000060, 0, 3),
	   ('tx2', NULL, NULL, 'DIAAAAAAAAAAAAAAAAAA', 'passcode', 'deny', '', '', '', '', '', 1700000000, 1700000060, 1700000001, 0)`,
	`INSERT INTO webpush_subscriptions (device_id, endpoint, p256dh, auth, created) VALUES ('DPAAAAAAAAAAAAAAAAAA', 'https://push.example/x', 'BP', 'au', 1700000000)`,
	`INSERT INTO tokens (id, user_id, kind, serial, name, secret_enc, algorithm, digits, period, counter, drift, public_id, private_id_enc, aes_key_enc, confirmed, created, last_used) VALUES
	   ('DHAAAAAAAAAAAAAAAAAA', 'DUAAAAAAAAAAAAAAAAAA', 'h6', 'S1', '', X'0102', 'SHA1', 6, 0, 42, 0, '', X'', X'', 1, 1700000000, 0),
	   ('DHBBBBBBBBBBBBBBBBBB', NULL, 'yk', 'S2', '', X'', 'SHA1', 6, 0, 4097, -1, 'cccccccccccb', X'0304', X'0506', 0, 1700000000, 1700000300)`,
	`INSERT INTO webauthn_credentials (id, user_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports, name, backup_eligible, backup_state, created, last_used)
	 VALUES ('WAAAAAAAAAAAAAAAAAAA', 'DUAAAAAAAAAAAAAAAAAA', X'c0ffee', X'a5010203', 'none', X'00000000000000000000000000000000', 7, 'usb,nfc', 'key', 1, 0, 1700000000, 0)`,
	`INSERT INTO user_last_method (user_id, method, updated) VALUES ('DUAAAAAAAAAAAAAAAAAA', 'webauthn', 1700000000)`,
	`INSERT INTO onetime_tokens (hash, kind, payload, expires, created) VALUES (X'aa55', 'enroll', X'7b7d', 1900000000, 1700000000)`,
	`INSERT INTO settings (key, value) VALUES ('master_key_check', 'check'), ('webpush_vapid_key', 'sealed')`,
	`INSERT INTO auth_log (id, txid, time, ikey, user_id, username, factor, device, result, reason, ip, hostname, alias, policy) VALUES
	   (5, 'tx1', 1700000000, 'DIAAAAAAAAAAAAAAAAAA', 'DUAAAAAAAAAAAAAAAAAA', 'Alice', 'passcode', '', 'success', 'valid_passcode', '192.0.2.1', '', 'A.Smith', ''),
	   (9, 'tx2', 1700000001, 'DIAAAAAAAAAAAAAAAAAA', '', 'eve', 'passcode', '', 'denied', 'denied_by_policy', '', '', '', 'group:staff')`,
	`INSERT INTO admin_log (id, time, actor, action, object, description, ip) VALUES (3, 1700000000, 'cli:root@h', 'user_create', 'alice', '{}', '')`,
	`INSERT INTO admins (id, email, name, role, password_hash, totp_secret_enc, totp_last_step, created, last_login) VALUES
	   ('DEAAAAAAAAAAAAAAAAAA', 'owner@example.com', 'Owner', 'owner', '$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA', X'0c0d', 56666666, 1700000000, 1700000500),
	   ('DEBBBBBBBBBBBBBBBBBB', 'new@example.com', '', 'read_only', '', NULL, 0, 1700000001, 0)`,
	`INSERT INTO admin_sessions (hash, admin_id, created, last_seen, reauth, ip) VALUES (X'5e55', 'DEAAAAAAAAAAAAAAAAAA', 1700000400, 1700000500, 1700000400, '192.0.2.9')`,
	`INSERT INTO user_sessions (hash, user_id, created, last_seen, reauth, ip) VALUES (X'5e56', 'DUAAAAAAAAAAAAAAAAAA', 1700000400, 1700000500, 1700000400, '192.0.2.10')`,
	`INSERT INTO user_default_method (user_id, method_id, updated) VALUES ('DUAAAAAAAAAAAAAAAAAA', 'DPAAAAAAAAAAAAAAAAAA', 1700000000)`,
	`INSERT INTO admin_webauthn_credentials (id, admin_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports, name, backup_eligible, backup_state, created, last_used)
	 VALUES ('DWBBBBBBBBBBBBBBBBBB', 'DEAAAAAAAAAAAAAAAAAA', X'c0ffef', X'a5010203', 'none', X'00000000000000000000000000000000', 3, 'usb', 'YubiKey', 0, 0, 1700000000, 1700000500)`,
	`INSERT INTO policies (ikey, group_id, settings, updated) VALUES ('', '', '{"remember_days":7}', 1700000000),
	 ((SELECT ikey FROM integrations LIMIT 1), 'DGAAAAAAAAAAAAAAAAAA', '{"methods":["push"]}', 1700000000)`,
	`UPDATE log_clock SET t = 1700000500 WHERE id = 1`,
	`UPDATE log_clock SET t = 1700000400 WHERE id = 2`,
}

// fillEveryTable inserts sampleRows and checks that every copied table
// then holds rows.
func fillEveryTable(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	hexBlob := regexp.MustCompile(`X'([0-9a-f]*)'`)
	for _, stmt := range sampleRows {
		if s.d.postgres {
			stmt = hexBlob.ReplaceAllString(stmt, `decode('$1', 'hex')`)
		}
		if _, err := s.w.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if s.d.postgres {
		// The sample rows name their ids; new rows come after them.
		for _, table := range identityTables {
			if _, err := s.w.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence('`+table+`', 'id'), 100)`); err != nil {
				t.Fatal(err)
			}
		}
	}
	counts, err := countRows(ctx, s.rq)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range counts {
		if c.Rows == 0 {
			t.Errorf("sampleRows put no row in %s: add some", c.Table)
		}
	}
}

// dump returns every row of every copied and bookkeeping table (but
// schema_migrations) as text, sorted, so two databases can be compared.
func dump(t *testing.T, s *Store) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range slices.Concat(copyTables, []string{"log_clock"}) {
		rows, err := s.r.QueryContext(t.Context(), `SELECT * FROM `+table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			var parts []string
			for i, v := range vals {
				switch x := v.(type) {
				case nil:
					v = "NULL"
				case []byte:
					v = fmt.Sprintf("x'%x'", x)
				case int32:
					v = int64(x)
				}
				parts = append(parts, fmt.Sprintf("%s=%v", cols[i], v))
			}
			out[table] = append(out[table], strings.Join(parts, " "))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		slices.Sort(out[table])
	}
	return out
}

func compareDumps(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for table, rows := range want {
		if !slices.Equal(got[table], rows) {
			t.Errorf("%s:\n got  %q\n want %q", table, got[table], rows)
		}
	}
}

func integrationsVersion(t *testing.T, s *Store) int64 {
	t.Helper()
	n, err := s.IntegrationsVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// testCopy copies a database holding every kind of row from src to dst and
// checks that dst then holds exactly the same rows, that a non-empty target
// is refused, and that new rows continue the copied ids.
func testCopy(t *testing.T, dst, src *Store) {
	ctx := t.Context()
	fillEveryTable(t, src)
	want := dump(t, src)
	srcVersion := integrationsVersion(t, src)

	var progress []string
	counts, err := Copy(ctx, dst, src, CopyOptions{Progress: func(table string, n int64) {
		progress = append(progress, fmt.Sprintf("%s:%d", table, n))
	}})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if len(counts) != len(copyTables) || len(progress) != len(copyTables) {
		t.Errorf("counts %v, progress %v; want one per table", counts, progress)
	}
	compareDumps(t, dump(t, dst), want)
	if v := integrationsVersion(t, dst); v <= srcVersion {
		t.Errorf("target integrations version %d, want more than the source's %d", v, srcVersion)
	}

	// The copied data works through the store: a user with their devices
	// and bypass codes, and a new auth-log row after the copied ids.
	u, devs, err := dst.GetUserAndDevices(ctx, "alice", "")
	if err != nil || u.ID != "DUAAAAAAAAAAAAAAAAAA" || len(devs) != 1 || devs[0].HOTPCounter != 9007199254740993 {
		t.Errorf("GetUserAndDevices = %+v, %+v, %v", u, devs, err)
	}
	if err := dst.InTx(ctx, func(q store.Queries) error {
		return q.AppendAuthLog(ctx, &store.AuthLog{TxID: "tx3", Time: time.Unix(1700000600, 0), Username: "alice", Result: "success"})
	}); err != nil {
		t.Fatalf("AppendAuthLog after copy: %v", err)
	}
	var maxID int64
	if err := dst.r.QueryRowContext(ctx, `SELECT id FROM auth_log WHERE txid = 'tx3'`).Scan(&maxID); err != nil || maxID <= 9 {
		t.Errorf("new auth-log row id = %d, %v; want after the copied 9", maxID, err)
	}

	// A second copy is refused: the target is not empty.
	_, err = Copy(ctx, dst, src, CopyOptions{})
	if !errors.Is(err, ErrTargetNotEmpty) || !strings.Contains(err.Error(), "users (2 rows)") {
		t.Errorf("Copy into a full target: %v, want ErrTargetNotEmpty naming users", err)
	}
	// With Force it replaces what was there.
	if _, err := Copy(ctx, dst, src, CopyOptions{Force: true}); err != nil {
		t.Fatalf("Copy with Force: %v", err)
	}
	compareDumps(t, dump(t, dst), want)
}

func TestCopySQLiteToSQLite(t *testing.T) {
	dir := t.TempDir()
	testCopy(t, openSQLite(t, filepath.Join(dir, "b.db")), openSQLite(t, filepath.Join(dir, "a.db")))
}

func TestCopySQLiteToPostgres(t *testing.T) {
	pg := postgresServer(t)
	testCopy(t, openPostgres(t, pg.newDB(t)), openSQLite(t, filepath.Join(t.TempDir(), "a.db")))
}

func TestCopyPostgresToSQLite(t *testing.T) {
	pg := postgresServer(t)
	testCopy(t, openSQLite(t, filepath.Join(t.TempDir(), "b.db")), openPostgres(t, pg.newDB(t)))
}

func TestCopyRefusesUnknownTable(t *testing.T) {
	dir := t.TempDir()
	src := openSQLite(t, filepath.Join(dir, "a.db"))
	dst := openSQLite(t, filepath.Join(dir, "b.db"))
	if _, err := src.w.ExecContext(t.Context(), `CREATE TABLE extra (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Copy(t.Context(), dst, src, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("Copy of a database with an unknown table: %v", err)
	}
}

// TestWriteSnapshot copies a database in use: writers keep committing while
// the snapshot is taken, and the snapshot holds a consistent moment.
func TestWriteSnapshot(t *testing.T) {
	for _, engine := range []string{DialectSQLite, DialectPostgres} {
		t.Run(engine, func(t *testing.T) {
			var src *Store
			if engine == DialectSQLite {
				src = openSQLite(t, filepath.Join(t.TempDir(), "a.db"))
			} else {
				src = openPostgres(t, postgresServer(t).newDB(t))
			}
			fillEveryTable(t, src)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() {
				// Each transaction adds one auth-log row and one admin-log
				// row: a consistent snapshot holds as many of each.
				var err error
				for i := 0; ctx.Err() == nil; i++ {
					err = src.InTx(ctx, func(q store.Queries) error {
						if err := q.AppendAuthLog(ctx, &store.AuthLog{TxID: fmt.Sprint("w", i), Time: time.Unix(1700001000, 0)}); err != nil {
							return err
						}
						return q.AppendAdminLog(ctx, &store.AdminLog{Time: time.Unix(1700001000, 0), Actor: "t", Action: "x", Object: "y", Description: "{}"})
					})
					if err != nil && ctx.Err() == nil {
						break
					}
					err = nil
				}
				done <- err
			}()
			time.Sleep(50 * time.Millisecond)
			path := filepath.Join(t.TempDir(), "snap.db")
			err := src.WriteSnapshot(t.Context(), path)
			cancel()
			if werr := <-done; werr != nil {
				t.Fatalf("writer: %v", werr)
			}
			if err != nil {
				t.Fatalf("WriteSnapshot: %v", err)
			}
			snap := openSQLite(t, path)
			var a, b int64
			if err := snap.r.QueryRow(`SELECT (SELECT COUNT(*) FROM auth_log), (SELECT COUNT(*) FROM admin_log)`).Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			if a-2 != b-1 || a < 2 {
				t.Errorf("snapshot holds %d auth-log and %d admin-log rows; want the sample rows plus as many of each", a, b)
			}
			if err := src.WriteSnapshot(t.Context(), path); err == nil {
				t.Error("WriteSnapshot over an existing file succeeded")
			}
		})
	}
}

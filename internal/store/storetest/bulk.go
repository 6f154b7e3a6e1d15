package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// RunBulkTests is the conformance suite of store.BulkLoader. open must
// return a new, empty store that implements it, closed when t ends.
func RunBulkTests(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store, b store.BulkLoader)
	}{
		{"Load", testBulkLoad},
		{"AllOrNothing", testBulkAllOrNothing},
		{"Empty", testBulkEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			b, ok := s.(store.BulkLoader)
			if !ok {
				t.Fatalf("%T does not implement store.BulkLoader", s)
			}
			tc.fn(t, s, b)
		})
	}
}

// bulkOf makes n users numbered from first, named "Bulk-<n>" (upper case,
// so that lookups must go through the normalised name), each with a device
// and a bypass code.
func bulkOf(first, n int) store.Bulk {
	var b store.Bulk
	for i := first; i < first+n; i++ {
		u := mkUser(i, fmt.Sprintf("Bulk-%d", i))
		u.LastLogin = at(time.Hour)
		b.Users = append(b.Users, u)
		d := mkDevice(i, u.ID, at(time.Duration(i)*time.Second))
		d.HOTPCounter = int64(i)
		b.Devices = append(b.Devices, d)
		b.BypassCodes = append(b.BypassCodes, store.BypassCode{
			ID: codeID(i), UserID: u.ID, Hash: []byte(fmt.Sprintf("hash %d", i)),
			RemainingUses: i % 3, Created: at(0), Expires: at(time.Duration(i%2) * time.Hour),
		})
	}
	return b
}

func testBulkLoad(t *testing.T, s store.Store, b store.BulkLoader) {
	ctx := t.Context()
	// An existing user may get devices and codes in a batch too.
	old := mkUser(1, "old")
	createUsers(t, s, old)
	// More rows than one multi-row INSERT holds, so batches are split.
	const n = 2100
	bulk := bulkOf(10, n)
	bulk.Devices = append(bulk.Devices, mkDevice(1, old.ID, at(0)))
	bulk.BypassCodes = append(bulk.BypassCodes, store.BypassCode{ID: codeID(1), UserID: old.ID, Hash: []byte("old"), Created: at(0)})
	must(t, "LoadBulk", b.LoadBulk(ctx, bulk))
	must(t, "Analyze", b.Analyze(ctx))

	users, err := s.ListUsers(ctx)
	must(t, "ListUsers", err)
	if len(users) != n+1 {
		t.Fatalf("ListUsers: %d users, want %d", len(users), n+1)
	}
	for _, i := range []int{0, 1, n / 2, n - 1} {
		want := bulk.Users[i]
		got, err := s.GetUserByUsername(ctx, fmt.Sprintf("bulk-%d", 10+i))
		must(t, "GetUserByUsername", err)
		check(t, "GetUserByUsername", got, want, normUser)
		devs, err := s.ListDevices(ctx, want.ID)
		must(t, "ListDevices", err)
		checkList(t, "ListDevices "+want.ID, devs, []store.Device{bulk.Devices[i]}, normDevice)
		code := bulk.BypassCodes[i]
		found, err := s.FindBypassCode(ctx, want.ID, code.Hash)
		must(t, "FindBypassCode", err)
		check(t, "FindBypassCode "+want.ID, found, code, normCode)
	}
	devs, err := s.ListDevices(ctx, old.ID)
	must(t, "ListDevices old", err)
	checkList(t, "ListDevices old", devs, []store.Device{mkDevice(1, old.ID, at(0))}, normDevice)
	codes, err := s.ListBypassCodes(ctx, old.ID)
	must(t, "ListBypassCodes old", err)
	if len(codes) != 1 || string(codes[0].Hash) != "old" {
		t.Errorf("ListBypassCodes old = %+v", codes)
	}

	// The rows behave like any others: the unique index on the
	// normalised name holds, updates work.
	wantErr(t, "CreateUser with a bulk user's name", s.CreateUser(ctx, mkUser(9999, "BULK-10")), store.ErrAlreadyExists)
	u := bulk.Users[5]
	u.FailedAttempts = 3
	must(t, "UpdateUser", s.UpdateUser(ctx, u))
	got, err := s.GetUser(ctx, u.ID)
	must(t, "GetUser", err)
	check(t, "GetUser after UpdateUser", got, u, normUser)
}

func testBulkAllOrNothing(t *testing.T, s store.Store, b store.BulkLoader) {
	ctx := t.Context()
	must(t, "LoadBulk", b.LoadBulk(ctx, bulkOf(1, 3)))
	cases := []struct {
		name string
		edit func(b *store.Bulk)
		want error // nil: any error
	}{
		{"username taken, other case", func(b *store.Bulk) { b.Users[1].Username = "BULK-2" }, store.ErrAlreadyExists},
		{"username twice in the batch", func(b *store.Bulk) { b.Users[1].Username = b.Users[0].Username }, store.ErrAlreadyExists},
		{"user ID taken", func(b *store.Bulk) { b.Users[1].ID = userID(1) }, store.ErrAlreadyExists},
		{"device ID taken", func(b *store.Bulk) { b.Devices[1].ID = deviceID(1) }, store.ErrAlreadyExists},
		{"code ID taken", func(b *store.Bulk) { b.BypassCodes[1].ID = codeID(1) }, store.ErrAlreadyExists},
		{"device of an unknown user", func(b *store.Bulk) { b.Devices[1].UserID = userID(777) }, store.ErrNotFound},
		{"code of an unknown user", func(b *store.Bulk) { b.BypassCodes[1].UserID = userID(777) }, store.ErrNotFound},
		{"invalid username", func(b *store.Bulk) { b.Users[1].Username = " spaced" }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bulk := bulkOf(100, 3)
			tc.edit(&bulk)
			err := b.LoadBulk(ctx, bulk)
			switch {
			case err == nil:
				t.Fatalf("LoadBulk succeeded")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Errorf("LoadBulk: %v, want %v", err, tc.want)
			}
			// Nothing of the batch was written.
			for _, u := range bulkOf(100, 3).Users {
				if _, err := s.GetUser(ctx, u.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("GetUser %s after a failed LoadBulk: %v, want ErrNotFound", u.ID, err)
				}
			}
			for i := 1; i <= 3; i++ {
				devs, err := s.ListDevices(ctx, userID(i))
				must(t, "ListDevices", err)
				codes, err := s.ListBypassCodes(ctx, userID(i))
				must(t, "ListBypassCodes", err)
				if len(devs) != 1 || len(codes) != 1 {
					t.Errorf("user %d has %d devices and %d codes after a failed LoadBulk, want 1 and 1", i, len(devs), len(codes))
				}
			}
		})
	}
	// The store is still usable.
	must(t, "LoadBulk after failures", b.LoadBulk(ctx, bulkOf(100, 3)))
}

func testBulkEmpty(t *testing.T, s store.Store, b store.BulkLoader) {
	must(t, "LoadBulk of nothing", b.LoadBulk(t.Context(), store.Bulk{}))
	must(t, "Analyze of empty tables", b.Analyze(t.Context()))
	users, err := s.ListUsers(t.Context())
	must(t, "ListUsers", err)
	if len(users) != 0 {
		t.Errorf("ListUsers = %d users, want none", len(users))
	}
}

package directory

import (
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/ldaptest"
)

// TestRunnerOnePerInterval: two nodes (runners over one database) sync a
// stored directory once per interval between them, and record the result.
func TestRunnerOnePerInterval(t *testing.T) {
	t.Parallel()
	srv := ldaptest.Start(t, ldaptest.Options{})
	f := newFixture(t)
	ctx := t.Context()
	set := Settings{URL: srv.URL, BindDN: ldaptest.ServiceDN, BaseDN: ldaptest.PeopleDN, Schema: SchemaAD,
		UserFilter: "(objectClass=assentADObject)", Nested: NestedRecursive}
	pw := ldaptest.ServicePassword
	if _, err := f.core.SaveDirectory(ctx, "corp", set.JSON(), &pw); err != nil {
		t.Fatal(err)
	}
	d, err := f.core.Directory(ctx, "corp")
	if err != nil || strings.Contains(string(d.BindPasswordEnc), pw) || len(d.BindPasswordEnc) == 0 {
		t.Fatalf("stored directory: %+v, %v", d, err)
	}
	node := func() *Runner {
		return &Runner{Core: f.core, Syncer: &Syncer{Core: f.core, Now: f.clock.Now}, Interval: time.Hour, Now: f.clock.Now}
	}
	a, b := node(), node()
	a.RunOnce(ctx)
	d, _ = f.core.Directory(ctx, "corp")
	if !d.LastSync.Equal(f.clock.Now()) || !strings.Contains(d.LastResult, "create_user 4") {
		t.Fatalf("after node a: %v %q", d.LastSync, d.LastResult)
	}
	f.clock.Advance(time.Minute)
	b.RunOnce(ctx)
	if d2, _ := f.core.Directory(ctx, "corp"); !d2.LastSync.Equal(d.LastSync) {
		t.Fatalf("node b synced in the same interval: %v", d2.LastSync)
	}
	f.clock.Advance(time.Hour)
	b.RunOnce(ctx)
	if d2, _ := f.core.Directory(ctx, "corp"); !d2.LastSync.Equal(f.clock.Now()) || !strings.HasPrefix(d2.LastResult, "4 users") {
		t.Fatalf("node b in the next interval: %v %q", d2.LastSync, d2.LastResult)
	}

	// A failing sync is recorded as such.
	bad := "wrong"
	if _, err := f.core.SaveDirectory(ctx, "corp", set.JSON(), &bad); err != nil {
		t.Fatal(err)
	}
	if _, err := a.SyncStored(ctx, "corp", false); err == nil {
		t.Fatal("wrong password: no error")
	}
	if d2, _ := f.core.Directory(ctx, "corp"); !strings.HasPrefix(d2.LastResult, "failed:") || strings.Contains(d2.LastResult, bad+" ") {
		t.Errorf("failed result %q", d2.LastResult)
	}
}

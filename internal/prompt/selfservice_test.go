package prompt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// TestManageDevicesLink: the choose page links to the self-service portal
// (/my/) only while the integration's effective self_service_allowed is
// true — its own policy's, else the global policy's; a group's does not
// count.
func TestManageDevicesLink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, store.PolicyEnroll)
	d := f.s.Enroll(t, "alice")
	g, err := f.s.Core.CreateGroup(ctx, auth.NewGroup{Name: "staff", Status: store.StatusActive})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.Core.AddGroupMember(ctx, g.ID, d.UserID); err != nil {
		t.Fatal(err)
	}
	on, off := true, false
	for _, step := range []struct {
		name   string
		change auth.PolicyChange
		want   bool
	}{
		{"no policy", auth.PolicyChange{}, false},
		{"group policy only", auth.PolicyChange{IKey: f.in.IKey, GroupID: g.ID, Set: store.PolicySettings{SelfServiceAllowed: &on}}, false},
		{"global policy", auth.PolicyChange{Set: store.PolicySettings{SelfServiceAllowed: &on}}, true},
		{"integration overrides global", auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{SelfServiceAllowed: &off}}, false},
		{"integration on", auth.PolicyChange{IKey: f.in.IKey, Set: store.PolicySettings{SelfServiceAllowed: &on}}, true},
	} {
		if step.change.Set.SelfServiceAllowed != nil {
			if _, err := f.s.Core.ChangePolicy(ctx, step.change); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
		}
		p := f.start(t, "alice")
		if p.State() != "choose" {
			t.Fatalf("%s: state %q", step.name, p.State())
		}
		if got := p.Has("manage-devices"); got != step.want {
			t.Errorf("%s: Manage devices link shown = %v, want %v", step.name, got, step.want)
		}
		if step.want && (!strings.Contains(p.Body, `href="/my/"`) || p.Text("manage-devices") != "Manage devices") {
			t.Errorf("%s: link %q in %s", step.name, p.Text("manage-devices"), p.Body)
		}
		// Never on the waiting page.
		if pushed := f.s.Action(t, p, "/prompt/push", "device", "auto"); pushed.Has("manage-devices") {
			t.Errorf("%s: link on the %q page", step.name, pushed.State())
		}
		f.s.Answer(t, d, false)
	}
}

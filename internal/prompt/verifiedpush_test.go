package prompt_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// With Verified Push on, the waiting page shows the push's code, the
// status poll reports it, and only an approval with it logs the user in;
// a wrong code sends the user back to the choices with the denial.
func TestVerifiedPushPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t, store.PolicyEnroll)
	digits := auth.VerifiedPushDigits
	if _, err := f.s.Core.UpdateIntegration(context.Background(), f.in.IKey, auth.IntegrationUpdate{VerifiedPush: &digits}); err != nil {
		t.Fatal(err)
	}
	d := f.s.Enroll(t, "Alice")
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		right     bool
		wantState string
	}{
		{"right code", true, ""},
		{"wrong code", false, "choose"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pushed := f.s.Action(t, f.start(t, "alice"), "/prompt/push", "device", "auto")
			code := pushed.Text("verify-code")
			if pushed.State() != "pushed" || !regexp.MustCompile(`^[0-9]{3}$`).MatchString(code) {
				t.Fatalf("waiting page: state %q, code %q", pushed.State(), code)
			}
			status := f.s.Action(t, pushed, "/prompt/status")
			var js map[string]any
			if err := json.Unmarshal([]byte(status.Body), &js); err != nil || js["state"] != "waiting" || js["code"] != code {
				t.Errorf("status poll %s (%v)", status.Body, err)
			}
			list, err := f.s.Core.Pending(ctx, d.ID)
			if err != nil || len(list) != 1 || list[0].StepUpDigits != 3 {
				t.Fatalf("pending %+v %v", list, err)
			}
			answer := code
			if !tc.right {
				answer = string('0'+(code[0]-'0'+1)%10) + code[1:]
			}
			if _, err := f.s.Core.AnswerPush(ctx, d.ID, list[0].ID, auth.PushAnswer{Approve: true, Code: answer}); err != nil {
				t.Fatal(err)
			}
			done := f.s.Action(t, pushed, "/prompt/check")
			if tc.right {
				if _, o := f.rec.last(t); done.Status != http.StatusFound || o.Result != "allow" || o.TxID != list[0].ID {
					t.Errorf("right code: %d %+v", done.Status, o)
				}
				return
			}
			if done.State() != tc.wantState {
				t.Errorf("wrong code: state %q, want %q", done.State(), tc.wantState)
			}
		})
	}
}

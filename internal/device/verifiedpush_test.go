package device

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
)

// The device sees that a push needs a code (step_up_code_info), never the
// code; it sends the code back as step_up_code, and answer=fraud reports
// the push. The answer's result says how the push ended.
func TestVerifiedPushAndFraudAnswers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	c := f.device(t, "alice", 0)
	ctx := context.Background()
	digits := auth.VerifiedPushDigits
	in, err := f.core.UpdateIntegration(ctx, f.in.IKey, auth.IntegrationUpdate{VerifiedPush: &digits})
	if err != nil {
		t.Fatal(err)
	}
	f.in = in
	push := func(t *testing.T) auth.AuthResult {
		t.Helper()
		res, err := f.core.Auth(ctx, auth.AuthRequest{Request: auth.Request{Integration: f.in, Username: "alice"},
			Factor: auth.FactorPush, Device: "auto", Async: true})
		if err != nil || len(res.VerifyCode) != 3 {
			t.Fatalf("push: %+v %v", res, err)
		}
		return res
	}
	wrong := func(code string) string { return string('0'+(code[0]-'0'+1)%10) + code[1:] }

	for _, tc := range []struct {
		name, answer       string
		code               func(right string) string
		wantResult, status string
	}{
		{"right code", AnswerApprove, func(c string) string { return c }, AnswerApprove, "allow"},
		{"wrong code", AnswerApprove, wrong, AnswerDeny, "deny"},
		{"no code", AnswerApprove, func(string) string { return "" }, AnswerDeny, "deny"},
		{"deny", AnswerDeny, func(string) string { return "" }, AnswerDeny, "deny"},
		{"fraud", AnswerFraud, func(string) string { return "" }, AnswerFraud, "fraud"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := push(t)
			list, err := c.Pending(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var tx *Transaction
			for i := range list {
				if list[i].TxID == res.TxID {
					tx = &list[i]
				}
			}
			if tx == nil || tx.StepUpCodeInfo == nil || tx.StepUpCodeInfo.NumDigits != 3 {
				t.Fatalf("listing %+v", list)
			}
			raw, _ := json.Marshal(tx)
			if !strings.Contains(string(raw), `"step_up_code_info":{"num_digits":3}`) {
				t.Errorf("listing JSON %s", raw)
			}
			for _, kv := range tx.Attributes {
				if strings.Contains(kv[1], res.VerifyCode) && kv[0] != "Time" {
					t.Errorf("the listing shows the code in %v", kv)
				}
			}
			got, err := c.AnswerWith(ctx, res.TxID, tc.answer, tc.code(res.VerifyCode))
			if err != nil || got != tc.wantResult {
				t.Fatalf("answer: %q %v, want %q", got, err, tc.wantResult)
			}
			if st := f.status(t, res.TxID); st.Status != tc.status {
				t.Errorf("auth_status %+v, want %s", st, tc.status)
			}
		})
	}
	t.Run("code too long", func(t *testing.T) {
		res := push(t)
		_, err := c.AnswerWith(ctx, res.TxID, AnswerApprove, strings.Repeat("1", MaxStepUpCode+1))
		if ae := apiErr(err); ae == nil || ae.Status != 400 || ae.Code != 40002 {
			t.Errorf("long code: %v", err)
		}
	})
}

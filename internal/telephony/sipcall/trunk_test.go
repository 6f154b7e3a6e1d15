package sipcall

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/sipptest"
)

// TestTrunkNoAnswerCancelsWithSIPp: a number called through the trunk
// (sip:NUMBER@trunk, whose host has no port) rings past RingTimeout; the
// CANCEL must reach the trunk, not the request URI's host on port 5060,
// so the trunk answers 487 and the call ends as no_answer at once.
func TestTrunkNoAnswerCancelsWithSIPp(t *testing.T) {
	phone := sipptest.New(t)
	wait := phone.Expect(t, sipptest.Answer{})
	c, err := New(Config{ListenAddr: "127.0.0.1:0", OutboundProxy: phone.Addr(), RingTimeout: 700 * time.Millisecond,
		MaxDuration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Call(t.Context(), "+1 555 1234", DefaultPrompt(), nil)
	if got != NoAnswer || err != nil {
		t.Fatalf("Call = %s, %v; want no_answer", got, err)
	}
	if dialled := wait().Number; dialled != "+15551234" {
		t.Fatalf("the trunk was asked for %q", dialled)
	}
}

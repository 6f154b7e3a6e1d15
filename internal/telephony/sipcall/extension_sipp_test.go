package sipcall

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil/sipptest"
)

// A number behind a PBX: SIPp answers as the attendant (no
// telephone-event), checks the extension's digits arrive as SIP INFO in
// order after the predelay, then presses 1 once the prompt plays.
func TestDialExtensionWithSIPp(t *testing.T) {
	phone := sipptest.New(t)
	wait := phone.Expect(t, sipptest.Answer{Extension: "42#", Key: "1", Hold: 300 * time.Millisecond})
	c, err := New(Config{ListenAddr: "127.0.0.1:0", OutboundProxy: phone.Addr(), RingTimeout: 5 * time.Second,
		AnswerTimeout: 5 * time.Second, MaxDuration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Dial(t.Context(), "+15555550123", Extension{Digits: "42#", Predelay: 300 * time.Millisecond, Postdelay: 100 * time.Millisecond},
		DefaultPrompt(), nil)
	if err != nil || got != Approved {
		t.Errorf("outcome %s, %v; want approved", got, err)
	}
	call := wait()
	if call.Number != "+15555550123" || call.Extension != "42#" {
		t.Errorf("the PBX saw number %q, extension %q", call.Number, call.Extension)
	}
}

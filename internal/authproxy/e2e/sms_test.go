package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// TestChallengeSMS: in radius_server_challenge, choosing the menu's SMS
// option (sms1) makes Assent send a batch of passcodes (through its http
// SMS provider, here a loopback server standing in for the carrier) and
// the proxy asks again with the same menu; a code from the message then
// logs in, once. Driven by FreeRADIUS's radclient.
func TestChallengeSMS(t *testing.T) {
	t.Parallel()
	requireRadclient(t)
	var (
		mu   sync.Mutex
		msgs []url.Values
	)
	carrier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		v, err := url.ParseQuery(string(b))
		if err != nil || v.Get("To") == "" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		msgs = append(msgs, v)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer carrier.Close()
	last := func() (int, []string) {
		mu.Lock()
		defer mu.Unlock()
		if len(msgs) == 0 {
			return 0, nil
		}
		return len(msgs), regexp.MustCompile(`\b[0-9]{7}\b`).FindAllString(msgs[len(msgs)-1].Get("Body"), -1)
	}

	const secret = "sms-secret"
	addr := startPhoneChallenge(t, "sam", "+15555550177", secret, map[string]string{
		"sms_provider": "http", "sms_url": carrier.URL + "/Messages.json", "sms_batch": "2"})

	reply := func(answer string, ch radReply) radReply {
		t.Helper()
		r := pap(addr, secret, "sam", answer)
		r.Attrs = append(r.Attrs, "State = "+ch.Get("State"))
		return radclient(t, r)
	}
	ch := radclient(t, pap(addr, secret, "sam", "sampw"))
	wantCode(t, ch, "Access-Challenge")
	wantReply(t, ch, "SMS passcodes to XXX-XXX-0177")
	menu := ch.Reply()

	// Option 1 (sms1): a batch is sent and the same menu comes again.
	again := reply("1", ch)
	wantCode(t, again, "Access-Challenge")
	if again.Reply() != menu || again.Get("State") == ch.Get("State") {
		t.Fatalf("after sms1: %q (state %s), want the same menu with a new State", again.Reply(), again.Get("State"))
	}
	n, codes := last()
	if n != 1 || len(codes) != 2 {
		t.Fatalf("%d messages, codes %v", n, codes)
	}
	wantCode(t, reply(codes[1], again), "Access-Accept")

	// The same code again is refused.
	ch = radclient(t, pap(addr, secret, "sam", "sampw"))
	wantCode(t, ch, "Access-Challenge")
	if !strings.Contains(ch.Reply(), "next code starts with: 1") {
		t.Errorf("menu after one use: %q", ch.Reply())
	}
	wantCode(t, reply(codes[1], ch), "Access-Reject")
}

package telephony

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

// TestKannel sends through a real Kannel to its fake SMSC.
func TestKannel(t *testing.T) {
	k := testutil.StartKannel(t)
	s, err := New(Config{Provider: ProviderKannel, URL: k.SendSMSURL, Username: k.Username, Password: k.Password, From: "Assent"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.SendSMS(ctx, "+15555550123", "SMS passcodes: 1234567 2345678"); err != nil {
		t.Fatal(err)
	}
	m := k.WaitMessages(t, 1)[0]
	if !strings.HasSuffix(m.To, "15555550123") || m.Text != "SMS passcodes: 1234567 2345678" {
		t.Fatalf("fake SMSC got %+v", m)
	}

	bad, _ := New(Config{Provider: ProviderKannel, URL: k.SendSMSURL, Username: k.Username, Password: "wrong"})
	err = bad.SendSMS(ctx, "+15555550123", "x")
	if !errors.Is(err, ErrRefused) || strings.Contains(err.Error(), "wrong") || strings.Contains(err.Error(), "5550123") {
		t.Fatalf("wrong password: %v", err)
	}
}

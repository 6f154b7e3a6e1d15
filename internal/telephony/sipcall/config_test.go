package sipcall

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestValidateListsEveryProblem(t *testing.T) {
	err := Config{ListenAddr: "nope", AdvertiseIP: "x", Registrar: "pbx", OutboundProxy: "a:b:c",
		RTPPortMin: 20000, RTPPortMax: 10000, RingTimeout: -time.Second}.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"listen address", "advertise IP", "registrar \"pbx\"", "outbound proxy", "needs a username", "rtp port range", "ring timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if err := (Config{ListenAddr: "127.0.0.1:0", Registrar: "pbx:5060", Username: "a"}).Validate(); err != nil {
		t.Errorf("valid config refused: %v", err)
	}
}

func TestTargetURI(t *testing.T) {
	c := &Caller{cfg: Config{OutboundProxy: "trunk.example:5080"}, local: netip.MustParseAddrPort("127.0.0.1:5070")}
	direct := &Caller{local: netip.MustParseAddrPort("127.0.0.1:5070")}
	tests := []struct {
		c         *Caller
		in        string
		uri, dest string
		wantErr   bool
	}{
		{c, "+1 (555) 123-4567", "sip:+15551234567@trunk.example;user=phone", "trunk.example:5080", false},
		{c, "sip:alice@pbx.example:5062", "sip:alice@pbx.example:5062", "trunk.example:5080", false},
		{direct, "sip:alice@10.0.0.5", "sip:alice@10.0.0.5", "", false},
		{direct, "+15551234567", "", "", true}, // a number needs a trunk
		{c, "555+1", "", "", true},
		{c, "alice", "", "", true},
		{c, "", "", "", true},
	}
	for _, tc := range tests {
		u, dest, err := tc.c.targetURI(tc.in)
		if (err != nil) != tc.wantErr {
			t.Errorf("targetURI(%q) error %v", tc.in, err)
			continue
		}
		if err == nil && (u.String() != tc.uri || dest != tc.dest) {
			t.Errorf("targetURI(%q) = %s via %q, want %s via %q", tc.in, u.String(), dest, tc.uri, tc.dest)
		}
	}
}

package radiustest

import (
	"context"
	"strings"
	"testing"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

func TestStart(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Users: []User{
		{Name: "alice", Password: "alicepw", Reply: []string{`Reply-Message := "Hello alice"`, `Class := "staff"`}},
		{Name: "bob.smith", Password: "bobpw"},
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.StatusServer(ctx); err != nil {
		t.Fatalf("Status-Server: %v", err)
	}
	send := func(user, pw string, withMA bool) (*radius.Packet, error) {
		p := radius.New(radius.CodeAccessRequest, []byte(s.Secret))
		rfc2865.UserName_SetString(p, user)
		rfc2865.UserPassword_SetString(p, pw)
		if withMA {
			if err := radiusmsg.AddRequest(p); err != nil {
				t.Fatal(err)
			}
		}
		c := radius.Client{Retry: 0}
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return c.Exchange(ctx, p, s.Addr)
	}
	cases := []struct {
		user, pw string
		ma       bool
		want     radius.Code // 0 = no answer
	}{
		{"alice", "alicepw", true, radius.CodeAccessAccept},
		{"alice", "wrong", true, radius.CodeAccessReject},
		{"bob.smith", "bobpw", true, radius.CodeAccessAccept},
		{"nobody", "x", true, radius.CodeAccessReject},
		{"alice", "alicepw", false, 0}, // require_message_authenticator
	}
	for _, tc := range cases {
		r, err := send(tc.user, tc.pw, tc.ma)
		if tc.want == 0 {
			if err == nil {
				t.Errorf("%s without M-A answered %v", tc.user, r.Code)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s/%s: %v", tc.user, tc.pw, err)
		}
		if r.Code != tc.want {
			t.Errorf("%s/%s: %v, want %v", tc.user, tc.pw, r.Code, tc.want)
		}
		if tc.user == "alice" && r.Code == radius.CodeAccessAccept {
			if rfc2865.ReplyMessage_GetString(r) != "Hello alice" || rfc2865.Class_GetString(r) != "staff" {
				t.Errorf("reply attributes %v", r.Attributes)
			}
		}
	}
	s.Stop()
	if err := s.StatusServer(ctx); err == nil {
		t.Error("still answering after Stop")
	}
}

func TestStripListen(t *testing.T) {
	in := "server default {\nlisten {\n\ttype = auth\n\t# a { in a comment\n\tlimit {\n\t}\n}\nauthorize {\n\tfiles\n}\nlisten {\n}\n}\n"
	got := stripListen(in)
	if strings.Contains(got, "listen") || !strings.Contains(got, "authorize {\n\tfiles\n}\n") || strings.Count(got, "{") != strings.Count(got, "}") {
		t.Errorf("stripListen:\n%s", got)
	}
}

func TestUsersFile(t *testing.T) {
	got := usersFile([]User{{Name: "a b", Password: `p"w`, Check: []string{"SMB-Account-CTRL := 131072"}, Reply: []string{`Reply-Message := "x"`, `Class := "y"`}}})
	want := "\"a b\" Cleartext-Password := \"p\\\"w\", SMB-Account-CTRL := 131072\n\tReply-Message := \"x\",\n\tClass := \"y\"\n\n"
	if got != want {
		t.Errorf("usersFile:\n%q\nwant\n%q", got, want)
	}
}

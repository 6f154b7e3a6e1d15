package assenttest

import (
	"net/http"
	"testing"

	"github.com/assent-auth/assent/internal/store"
)

func TestStartFixturesStop(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ikey, skey := s.AuthAPI(t, "harness", store.PolicyDeny)
	if ikey == "" || skey == "" {
		t.Fatal("no integration keys")
	}
	s.User(t, "alice")
	if codes := s.BypassCodes(t, "alice", 2, 0); len(codes) != 2 {
		t.Errorf("%d bypass codes, want 2", len(codes))
	}
	phone := s.ActivatePhone(t, "bob")
	if list, err := phone.Pending(Ctx(t)); err != nil || len(list) != 0 {
		t.Errorf("pending pushes of a new phone: %v, %v", list, err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s.Client.CloseIdleConnections()
	if resp, err := s.Client.Get("https://" + s.Host + "/auth/v2/ping"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("the server still answers after Stop")
		}
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

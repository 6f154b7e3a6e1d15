package duoclient_test

// These tests run the client against a real Assent server started in the
// test process (app + server on a loopback listener with its local CA), as
// internal/e2e does; an external test package keeps the server's imports
// out of duoclient.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/authproxy/duoclient"
	"github.com/assent-auth/assent/internal/config"
	"github.com/assent-auth/assent/internal/device"
	"github.com/assent-auth/assent/internal/server"
	"github.com/assent-auth/assent/internal/store"
)

type assent struct {
	App    *app.App
	Host   string // localhost:PORT
	CAFile string
}

func startAssent(t *testing.T) *assent {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	cfg, err := config.Load(config.Sources{Flags: map[string]string{
		"data_dir":        t.TempDir(),
		"listen":          ln.Addr().String(),
		"public_hostname": fmt.Sprintf("localhost:%d", port),
	}})
	if err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Create())
	if err != nil {
		ln.Close()
		t.Fatalf("app.Open: %v", err)
	}
	srv, err := server.New(a)
	if err != nil {
		ln.Close()
		a.Close()
		t.Fatalf("server.New: %v", err)
	}
	serveCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(serveCtx, ln) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(cfg.ShutdownTimeout.Duration + 5*time.Second):
			t.Error("Serve did not return")
		}
		if err := a.Close(); err != nil {
			t.Errorf("closing the app: %v", err)
		}
	})
	return &assent{App: a, Host: cfg.PublicHostname, CAFile: srv.CAFile}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (s *assent) client(t *testing.T, policy store.NewUserPolicy) (*duoclient.Client, string) {
	t.Helper()
	in, skey, err := s.App.Core.CreateIntegration(ctxT(t), auth.NewIntegration{Name: "proxy " + string(policy), Type: store.TypeAuthAPI, NewUserPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	c, err := duoclient.New(duoclient.Config{IKey: in.IKey, SKey: skey, APIHost: s.Host, CAFile: s.CAFile, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, skey
}

func TestAgainstAssent(t *testing.T) {
	t.Parallel()
	s := startAssent(t)
	ctx := ctxT(t)
	core := s.App.Core
	c, skey := s.client(t, store.PolicyEnroll)

	// ping and check, and clock agreement.
	st, err := c.Ping(ctx)
	if err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if d := time.Since(st); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("server time %v is %v away", st, d)
	}
	if err := c.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}

	// Users: an enrolled phone, one with bypass codes only, a bypass-status
	// user, a disabled one, and an unknown name.
	en, err := core.Enroll(ctx, auth.EnrollRequest{Username: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	phone, err := device.Activate(ctx, en.ActivationCode, device.ActivateOptions{CAFile: s.CAFile, Name: "alice's phone"})
	if err != nil {
		t.Fatalf("activate: %v", err)
	}
	if _, err := core.CreateUser(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	codes, err := core.IssueBypassCodes(ctx, "carol", auth.NewBypassCodes{Count: 2, Uses: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name   string
		status store.UserStatus
	}{{"dave", store.StatusBypass}, {"erin", store.StatusDisabled}} {
		if _, err := core.CreateUser(ctx, u.name); err != nil {
			t.Fatal(err)
		}
		if _, err := core.SetUserStatus(ctx, u.name, u.status); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("preauth", func(t *testing.T) {
		cases := []struct {
			user, result string
		}{
			{"alice", "auth"}, {"carol", "auth"}, {"dave", "allow"}, {"erin", "deny"}, {"nobody", "enroll"},
		}
		for _, tc := range cases {
			p, err := c.Preauth(ctx, duoclient.PreauthRequest{Username: tc.user, IPAddr: "192.0.2.7", Failmode: "safe", Menu: true})
			if err != nil {
				t.Fatalf("%s: %v", tc.user, err)
			}
			if p.Result != tc.result || p.StatusMsg == "" {
				t.Errorf("%s: result %q status_msg %q, want %q", tc.user, p.Result, p.StatusMsg, tc.result)
			}
			switch tc.user {
			case "alice":
				if p.Factors["1"] != "push1" || p.Factors["default"] != "push1" ||
					!strings.Contains(p.Prompt, "Duo two-factor login for alice") || !strings.Contains(p.Prompt, "1. Duo Push to") {
					t.Errorf("alice: prompt %q factors %v", p.Prompt, p.Factors)
				}
				if len(p.Devices) != 1 || !contains(p.Devices[0].Capabilities, "push") {
					t.Errorf("alice: devices %+v", p.Devices)
				}
			case "carol":
				if len(p.Factors) != 0 || !strings.Contains(p.Prompt, "passcode") {
					t.Errorf("carol (bypass codes only): prompt %q factors %v", p.Prompt, p.Factors)
				}
			case "nobody":
				if p.EnrollPortalURL == "" {
					t.Errorf("enroll without enroll_portal_url: %+v", p)
				}
			}
		}
		// Without the menu (duo_only, concat): the result only.
		p, err := c.Preauth(ctx, duoclient.PreauthRequest{Username: "alice", Failmode: "safe"})
		if err != nil || p.Result != "auth" || p.StatusMsg == "" || p.Prompt != "" || p.Factors != nil || p.Devices != nil {
			t.Errorf("alice without the menu: %+v, %v", p, err)
		}
	})

	t.Run("auth", func(t *testing.T) {
		r, err := c.Auth(ctx, duoclient.AuthRequest{Username: "carol", Choice: "999999999", IPAddr: "192.0.2.7"})
		if err != nil {
			t.Fatalf("wrong code: %v", err)
		}
		if r.Result != "deny" || r.StatusMsg == "" {
			t.Errorf("wrong code: %+v", r)
		}
		r, err = c.Auth(ctx, duoclient.AuthRequest{Username: "carol", Choice: codes.Codes[0], IPAddr: "192.0.2.7"})
		if err != nil {
			t.Fatalf("bypass code: %v", err)
		}
		if r.Result != "allow" || r.StatusMsg == "" {
			t.Errorf("bypass code: %+v", r)
		}
		// Single use: the same code again is denied.
		r, err = c.Auth(ctx, duoclient.AuthRequest{Username: "carol", Choice: codes.Codes[0]})
		if err != nil || r.Result != "deny" {
			t.Errorf("reused bypass code: %+v, %v", r, err)
		}
	})

	t.Run("push", func(t *testing.T) {
		for _, approve := range []bool{true, false} {
			answered := make(chan error, 1)
			go func() {
				for {
					list, err := phone.Pending(ctx)
					if err != nil {
						answered <- err
						return
					}
					if len(list) > 0 {
						answered <- phone.Answer(ctx, list[0].TxID, approve)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
			r, err := c.Auth(ctx, duoclient.AuthRequest{Username: "alice", Choice: "push1"})
			if err != nil {
				t.Fatalf("push (approve=%v): %v", approve, err)
			}
			if err := <-answered; err != nil {
				t.Fatalf("phone: %v", err)
			}
			want := "deny"
			if approve {
				want = "allow"
			}
			if r.Result != want {
				t.Errorf("push approve=%v: %+v", approve, r)
			}
		}
	})

	t.Run("bad skey is a client error", func(t *testing.T) {
		in, _, err := core.CreateIntegration(ctx, auth.NewIntegration{Name: "other", Type: store.TypeAuthAPI})
		if err != nil {
			t.Fatal(err)
		}
		bad, err := duoclient.New(duoclient.Config{IKey: in.IKey, SKey: skey, APIHost: s.Host, CAFile: s.CAFile})
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		for _, call := range []func() error{
			func() error { return bad.Check(ctx) },
			func() error { _, err := bad.Preauth(ctx, duoclient.PreauthRequest{Username: "alice"}); return err },
			func() error {
				_, err := bad.Auth(ctx, duoclient.AuthRequest{Username: "alice", Choice: "push"})
				return err
			},
		} {
			var e *duoclient.Error
			if err := call(); !errors.As(err, &e) || e.Class != duoclient.ClassClient || e.HTTPStatus != 401 || e.Code != 40103 || e.FailOpen() {
				t.Errorf("got %v, want a 401/40103 client error that fails closed", err)
			}
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

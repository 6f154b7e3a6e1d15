package telephony

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestHTTPProvider sends through a loopback server that checks the request
// as a Twilio-compatible provider would.
func TestHTTPProvider(t *testing.T) {
	type got struct {
		ctype, auth, body string
	}
	for _, tc := range []struct {
		name     string
		c        Config
		status   int
		want     got
		wantErr  error
		notInErr string
	}{
		{"twilio form, basic auth", Config{Username: "AC123", Password: "tok", From: "+15555550199"}, 201,
			got{"application/x-www-form-urlencoded", "Basic " + basic("AC123", "tok"),
				"From=%2B15555550199&To=%2B15555550123&Body=SMS+passcodes%3A+1234567"}, nil, ""},
		{"json template, bearer", Config{Password: "secret", Body: `{"to":{{json .To}},"text":{{json .Text}}}`, ContentType: "application/json"}, 200,
			got{"application/json", "Bearer secret", `{"to":"+15555550123","text":"SMS passcodes: 1234567"}`}, nil, ""},
		{"refused, number masked", Config{Username: "u", Password: "p"}, 400,
			got{"application/x-www-form-urlencoded", "Basic " + basic("u", "p"),
				"From=&To=%2B15555550123&Body=SMS+passcodes%3A+1234567"}, ErrRefused, "5550123"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen got
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/AC123/Messages.json" {
					http.Error(w, "bad request line", http.StatusNotFound)
					return
				}
				b, _ := io.ReadAll(r.Body)
				seen = got{r.Header.Get("Content-Type"), r.Header.Get("Authorization"), string(b)}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, `{"to": "+15555550123", "status": "queued"}`)
			}))
			defer srv.Close()
			tc.c.Provider, tc.c.URL = ProviderHTTP, srv.URL+"/2010-04-01/Accounts/AC123/Messages.json"
			s, err := New(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			err = s.SendSMS(context.Background(), "+15555550123", "SMS passcodes: 1234567")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if tc.notInErr != "" && strings.Contains(err.Error(), tc.notInErr) {
				t.Fatalf("error shows the number: %v", err)
			}
			if seen != tc.want {
				t.Fatalf("request = %+v\nwant      %+v", seen, tc.want)
			}
		})
	}
}

func basic(u, p string) string {
	r, _ := http.NewRequest("GET", "http://x/", nil)
	r.SetBasicAuth(u, p)
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Provider: "carrier-pigeon"},
		{Provider: ProviderKannel, URL: "ftp://x"},
		{Provider: ProviderKannel, URL: "http://127.0.0.1:13013/cgi-bin/sendsms"}, // no username
		{Provider: ProviderHTTP, URL: "https://x/", Body: "{{.Nope}}"},
		{Provider: ProviderHTTP, URL: "https://x/", Body: "{{"},
	} {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	s, err := New(Config{})
	if s != nil || err != nil {
		t.Fatalf("no provider: %v, %v", s, err)
	}
	h, _ := New(Config{Provider: ProviderHTTP, URL: "https://x/"})
	if err := h.SendSMS(context.Background(), "5550123", "x"); err == nil {
		t.Fatal("a number without + was sent")
	}
	_ = url.QueryEscape
}

package radiusmsg

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
	"layeh.com/radius"
	"layeh.com/radius/rfc2865"
)

var update = flag.Bool("update", false, "re-capture testdata/*.vec with the radclient binary")

// vector is a packet captured from FreeRADIUS' radclient, which computes
// Message-Authenticator itself when its input has "Message-Authenticator = 0x00".
type vector struct {
	name   string
	secret []byte
	raw    []byte
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	files, err := filepath.Glob("testdata/*.vec")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.vec (err %v); run go test -run TestCaptureRadclient -update", err)
	}
	var vs []vector
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v := vector{name: filepath.Base(f)}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, val, _ := strings.Cut(sc.Text(), ": ")
			switch k {
			case "secret":
				v.secret = []byte(val)
			case "packet":
				if v.raw, err = hex.DecodeString(val); err != nil {
					t.Fatalf("%s: %v", f, err)
				}
			}
		}
		vs = append(vs, v)
	}
	return vs
}

func TestVerifyRequestRadclientVectors(t *testing.T) {
	t.Parallel()
	for _, v := range readVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			if present, ok := VerifyRequest(v.raw, v.secret); !present || !ok {
				t.Fatalf("VerifyRequest = %v, %v; want true, true", present, ok)
			}
			if present, ok := VerifyRequest(v.raw, append(v.secret, 'x')); !present || ok {
				t.Errorf("wrong secret: VerifyRequest = %v, %v; want true, false", present, ok)
			}
			// Any flipped bit, header or attributes, must break it.
			for i := range v.raw {
				if i == 2 || i == 3 {
					continue // length field: covered by the parse checks
				}
				b := bytes.Clone(v.raw)
				b[i] ^= 0x01
				if _, ok := VerifyRequest(b, v.secret); ok {
					t.Fatalf("byte %d flipped still verifies", i)
				}
			}
			// Trailing padding beyond Length is ignored (RFC 2865 §3).
			if _, ok := VerifyRequest(append(bytes.Clone(v.raw), 0, 0, 0), v.secret); !ok {
				t.Errorf("padding after Length broke verification")
			}
			// The parsed packet, re-signed by AddRequest (M-A moved first),
			// still verifies.
			p, err := radius.Parse(v.raw, v.secret)
			if err != nil {
				t.Fatal(err)
			}
			if p.Code == radius.CodeAccessRequest {
				if pw, err := rfc2865.UserPassword_LookupString(p); err != nil || pw == "" {
					t.Errorf("vector password not decodable: %q %v", pw, err)
				}
			}
			b, err := EncodeRequest(p)
			if err != nil {
				t.Fatal(err)
			}
			if b[20] != byte(Type) {
				t.Errorf("Message-Authenticator not first: attribute %d", b[20])
			}
			if present, ok := VerifyRequest(b, v.secret); !present || !ok {
				t.Errorf("re-signed: VerifyRequest = %v, %v", present, ok)
			}
		})
	}
}

func TestVerifyRequestMalformed(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	good := func() *radius.Packet {
		p := radius.New(radius.CodeAccessRequest, secret)
		rfc2865.UserName_SetString(p, "alice")
		return p
	}
	signed, err := EncodeRequest(good())
	if err != nil {
		t.Fatal(err)
	}
	twoMA := bytes.Clone(signed)
	twoMA = append(twoMA, signed[20:38]...)
	twoMA[3] += 18
	short := good()
	short.Attributes = append(radius.Attributes{{Type: Type, Attribute: make(radius.Attribute, 4)}}, short.Attributes...)
	shortRaw, _ := short.MarshalBinary()
	none, _ := good().Encode()

	tests := []struct {
		name        string
		raw         []byte
		secret      []byte
		present, ok bool
	}{
		{"valid", signed, secret, true, true},
		{"absent", none, secret, false, false},
		{"empty secret", signed, nil, true, false},
		{"two M-A", twoMA, secret, true, false},
		{"M-A of 4 bytes", shortRaw, secret, true, false},
		{"truncated", signed[:25], secret, false, false},
		{"header only", signed[:19], secret, false, false},
		{"length beyond data", append(append([]byte{}, signed[:2]...), 0x10, 0x00), secret, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			present, ok := VerifyRequest(tt.raw, tt.secret)
			if present != tt.present || ok != tt.ok {
				t.Errorf("VerifyRequest = %v, %v; want %v, %v", present, ok, tt.present, tt.ok)
			}
		})
	}
}

func TestAddRequestCodes(t *testing.T) {
	t.Parallel()
	for _, c := range []radius.Code{radius.CodeAccessRequest, radius.CodeStatusServer} {
		p := radius.New(c, []byte("k"))
		p.Add(Type, radius.Attribute("stale-stale-stal")) // replaced, not duplicated
		rfc2865.NASIdentifier_SetString(p, "nas")
		b, err := EncodeRequest(p)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		if present, ok := VerifyRequest(b, []byte("k")); !present || !ok {
			t.Errorf("%v: VerifyRequest = %v, %v", c, present, ok)
		}
		if n := strings.Count(string(b[20:]), "\x50\x12"); n != 1 || b[20] != 0x50 {
			t.Errorf("%v: want exactly one M-A, first: % x", c, b)
		}
	}
	if err := AddRequest(radius.New(radius.CodeAccessAccept, []byte("k"))); err == nil {
		t.Error("AddRequest on Access-Accept: want error")
	}
	if err := AddRequest(radius.New(radius.CodeAccessRequest, nil)); err == nil {
		t.Error("AddRequest with empty secret: want error")
	}
}

func TestSignResponse(t *testing.T) {
	t.Parallel()
	secret := []byte("s3cret")
	req := radius.New(radius.CodeAccessRequest, secret)
	rfc2865.UserName_SetString(req, "alice")
	reqRaw, err := EncodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []radius.Code{radius.CodeAccessAccept, radius.CodeAccessReject, radius.CodeAccessChallenge} {
		resp := req.Response(code)
		rfc2865.ReplyMessage_SetString(resp, "hello")
		resp.Add(rfc2865.ProxyState_Type, radius.Attribute("ps1"))
		resp.Authenticator = [16]byte{9} // ignored: reqAuthenticator wins
		b, err := SignResponse(resp, req.Authenticator)
		if err != nil {
			t.Fatal(err)
		}
		if b[20] != byte(Type) || b[21] != 18 {
			t.Fatalf("%v: M-A not first: % x", code, b[20:22])
		}
		if !radius.IsAuthenticResponse(b, reqRaw, secret) {
			t.Errorf("%v: Response Authenticator invalid", code)
		}
		if present, ok := VerifyResponse(b, req.Authenticator, secret); !present || !ok {
			t.Errorf("%v: VerifyResponse = %v, %v", code, present, ok)
		}
		var other [16]byte
		if _, ok := VerifyResponse(b, other, secret); ok {
			t.Errorf("%v: verifies against another request authenticator", code)
		}
		// Re-signing is idempotent (no second M-A).
		b2, err := SignResponse(resp, req.Authenticator)
		if err != nil || !bytes.Equal(b, b2) {
			t.Errorf("%v: re-sign differs: %v", code, err)
		}
	}
	if _, err := SignResponse(radius.New(radius.CodeAccessRequest, secret), req.Authenticator); err == nil {
		t.Error("SignResponse on Access-Request: want error")
	}
	noSecret := req.Response(radius.CodeAccessAccept)
	noSecret.Secret = nil
	if _, err := SignResponse(noSecret, req.Authenticator); err == nil {
		t.Error("SignResponse with empty secret: want error")
	}
}

// TestRadclientChecksSignedResponses answers radclient's requests with
// SignResponse. radclient (FreeRADIUS 3.2) drops replies whose
// Message-Authenticator or Response Authenticator is wrong, so an accepted
// reply proves both are right; the corrupted case proves it does check.
func TestRadclientChecksSignedResponses(t *testing.T) {
	t.Parallel()
	rc, err := exec.LookPath("radclient")
	testutil.Require(t, "radclient (apt freeradius-utils)", err == nil)
	secret := []byte("rc-secret")

	for _, corrupt := range []bool{false, true} {
		t.Run(fmt.Sprintf("corrupt=%v", corrupt), func(t *testing.T) {
			t.Parallel()
			conn, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			verified := make(chan bool, 4)
			go func() {
				buf := make([]byte, radius.MaxPacketLength)
				for {
					n, from, err := conn.ReadFrom(buf)
					if err != nil {
						return
					}
					present, ok := VerifyRequest(buf[:n], secret)
					verified <- present && ok
					req, err := radius.Parse(buf[:n], secret)
					if err != nil {
						continue
					}
					resp := req.Response(radius.CodeAccessAccept)
					rfc2865.ReplyMessage_SetString(resp, "welcome")
					for _, ps := range req.Attributes {
						if ps.Type == rfc2865.ProxyState_Type {
							resp.Add(ps.Type, ps.Attribute)
						}
					}
					b, err := SignResponse(resp, req.Authenticator)
					if err != nil {
						continue
					}
					if corrupt {
						b[30] ^= 0xff // inside the M-A value
						h := md5sumResponse(b, req.Authenticator, secret)
						copy(b[4:20], h[:]) // keep Response Authenticator valid
					}
					conn.WriteTo(b, from)
				}
			}()
			in := "User-Name = \"alice\"\nUser-Password = \"pw\"\nProxy-State = 0x6162\nMessage-Authenticator = 0x00\n"
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, rc, "-r", "1", "-t", "1", "-x", conn.LocalAddr().String(), "auth", string(secret))
			cmd.Stdin = strings.NewReader(in)
			out, err := cmd.CombinedOutput()
			if ok := <-verified; !ok {
				t.Errorf("radclient's request did not verify")
			}
			accepted := err == nil && strings.Contains(string(out), "Received Access-Accept")
			if accepted == corrupt {
				t.Errorf("radclient accepted=%v (err %v), want %v:\n%s", accepted, err, !corrupt, out)
			}
		})
	}
}

// TestCaptureRadclient (re)writes testdata/*.vec from radclient when run
// with -update; otherwise it does nothing.
func TestCaptureRadclient(t *testing.T) {
	if !*update {
		t.Skip("only with -update")
	}
	rc, err := exec.LookPath("radclient")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, cmd, secret, input string }{
		{"access_request", "auth", "s3cret", "User-Name = \"alice\"\nUser-Password = \"correct horse\"\nMessage-Authenticator = 0x00\n"},
		{"access_request_long", "auth", "a much longer shared secret, 42 bytes!!", "User-Name = \"bob@example.com\"\nUser-Password = \"0123456789abcdef0123456789\"\nCalling-Station-Id = \"198.51.100.7\"\nProxy-State = 0x01\nProxy-State = 0x02\nMessage-Authenticator = 0x00\n"},
		{"status_server", "status", "s3cret", "Message-Authenticator = 0x00\n"},
	}
	for _, c := range cases {
		conn, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan []byte, 1)
		go func() {
			buf := make([]byte, radius.MaxPacketLength)
			n, _, err := conn.ReadFrom(buf)
			if err == nil {
				got <- bytes.Clone(buf[:n])
			}
		}()
		cmd := exec.Command(rc, "-r", "1", "-t", "1", "-x", conn.LocalAddr().String(), c.cmd, c.secret)
		cmd.Stdin = strings.NewReader(c.input)
		out, _ := cmd.CombinedOutput()
		conn.Close()
		var raw []byte
		select {
		case raw = <-got:
		case <-time.After(time.Second):
			t.Fatalf("%s: nothing captured:\n%s", c.name, out)
		}
		body := fmt.Sprintf("# captured from %s (radclient computes Message-Authenticator = 0x00)\n# input:\n# %s\nsecret: %s\npacket: %s\n",
			"radclient "+c.cmd, strings.ReplaceAll(strings.TrimSpace(c.input), "\n", "\n# "), c.secret, hex.EncodeToString(raw))
		if err := os.WriteFile(filepath.Join("testdata", c.name+".vec"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func FuzzVerifyRequest(f *testing.F) {
	for _, s := range [][]byte{
		mustHex("01b2003f9a545696357403d1ec744dee248144570107616c6963650212574e888460cf8ae0746fb7255100fed55012bbea44f6b334a5a95af419669fac0549"),
		{1, 0, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
	} {
		f.Add(s, []byte("s3cret"))
	}
	f.Fuzz(func(t *testing.T, raw, secret []byte) {
		present, ok := VerifyRequest(raw, secret)
		if ok && !present {
			t.Fatal("ok without present")
		}
		p, err := radius.Parse(raw, secret)
		if err != nil || len(secret) == 0 {
			return
		}
		resp := p.Response(radius.CodeAccessReject)
		resp.Attributes = p.Attributes
		b, err := SignResponse(resp, p.Authenticator)
		if err != nil {
			return // too large once M-A is added
		}
		if present, ok := VerifyResponse(b, p.Authenticator, secret); !present || !ok {
			t.Fatalf("signed response does not verify")
		}
	})
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func md5sumResponse(b []byte, reqAuth [16]byte, secret []byte) [16]byte {
	c := bytes.Clone(b)
	copy(c[4:20], reqAuth[:])
	return md5.Sum(append(c, secret...))
}

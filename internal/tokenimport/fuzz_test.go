package tokenimport

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/yubiotp"
)

// checkTokens holds for whatever a parser returns without error.
func checkTokens(t *testing.T, toks []Token) {
	t.Helper()
	if len(toks) == 0 || len(toks) > MaxTokens {
		t.Fatalf("%d tokens without an error", len(toks))
	}
	seen := map[string]bool{}
	for _, tk := range toks {
		if err := checkSerial(tk.Serial); err != nil {
			t.Fatalf("token with a bad serial: %v", err)
		}
		if seen[tk.Type+"/"+tk.Serial] {
			t.Fatalf("duplicate serial %q", tk.Serial)
		}
		seen[tk.Type+"/"+tk.Serial] = true
		switch {
		case IsHOTP(tk.Type) || IsTOTP(tk.Type):
			if err := checkOATHSecret(tk.Secret); err != nil {
				t.Fatalf("token %q: %v", tk.Serial, err)
			}
			if IsTOTP(tk.Type) != (tk.Step >= 1 && tk.Step <= MaxStep) {
				t.Fatalf("token %q (%s): step %d", tk.Serial, tk.Type, tk.Step)
			}
		case tk.Type == TypeYubiKey:
			if len(tk.PrivateID) != yubiotp.PrivateIDLen || len(tk.AESKey) != yubiotp.KeyLen {
				t.Fatalf("yubikey %q: private id %d bytes, AES key %d bytes", tk.Serial, len(tk.PrivateID), len(tk.AESKey))
			}
			if tk.PublicID != "" && !yubiotp.IsModhex(tk.PublicID) {
				t.Fatalf("yubikey %q: public id %q", tk.Serial, tk.PublicID)
			}
		default:
			t.Fatalf("token %q of type %q", tk.Serial, tk.Type)
		}
	}
}

// checkError holds for every error a parser returns.
func checkError(t *testing.T, toks []Token, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error of type %T: %v", err, err)
	}
	if toks != nil || len(e.Problems) == 0 || len(e.Problems) > maxProblems {
		t.Fatalf("error with %d tokens and %d problems", len(toks), len(e.Problems))
	}
}

func FuzzParseCSV(f *testing.F) {
	seeds := []struct {
		typ, in string
	}{
		{"h6", "S1," + rfcSecret + ",3\n"},
		{"t8", "T1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ,60\n"},
		{"yk", "4711,dlcfffckrcde,ca62baca62ba,ecde18dbe76fbd0c33330f1c354871db,be70aeca62ba,2009-01-22 00:25:11,\n"},
		{"", "serial,type,secret,counter\nS1,h8," + rfcSecret + ",1\n\"S2\",t6,\"base32:GEZDGNBVGY3TQOJQ\",\n"},
		{"h6", "\ufeff# c\r\n\"a\"\"b\",x\r\n"},
		{"yk", "Y1,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db\nY1,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db\n"},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.in)
	}
	f.Fuzz(func(t *testing.T, typ, in string) {
		toks, err := ParseCSV(strings.NewReader(in), Options{Type: typ})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			checkError(t, toks, err)
			return
		}
		checkTokens(t, toks)
	})
}

func FuzzParsePSKC(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	psk := []byte("\x12\x34\x56\x78\x90\x12\x34\x56\x78\x90\x12\x34\x56\x78\x90\x12")
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(nil))
		f.Add(b, psk)
	}
	f.Add([]byte(`<KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc"><KeyPackage><Key/></KeyPackage></KeyContainer>`), []byte(nil))
	f.Fuzz(func(t *testing.T, doc, key []byte) {
		toks, err := ParsePSKC(strings.NewReader(string(doc)), key)
		if err != nil {
			checkError(t, toks, err)
			return
		}
		checkTokens(t, toks)
	})
}

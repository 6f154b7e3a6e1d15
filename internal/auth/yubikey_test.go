package auth_test

import (
	"context"
	"crypto/aes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// yubico is Yubico OTP as the YubiKey produces it (modhex public ID, then
// one AES-128 block: private ID, use counter, timestamp, session counter,
// random, CRC-16), written out here from Yubico's specification so that
// the core's YubiKey checks run against real OTPs. The installation wires
// package yubiotp instead.
type yubico struct{}

const modhex = "cbdefghijklnrtuv"

func modhexEncode(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(modhex[c>>4])
		s.WriteByte(modhex[c&0xf])
	}
	return s.String()
}

func modhexDecode(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, errors.New("odd length")
	}
	out := make([]byte, len(s)/2)
	for i := range out {
		hi, lo := strings.IndexByte(modhex, s[2*i]), strings.IndexByte(modhex, s[2*i+1])
		if hi < 0 || lo < 0 {
			return nil, errors.New("not modhex")
		}
		out[i] = byte(hi<<4 | lo)
	}
	return out, nil
}

func crc16(b []byte) uint16 {
	crc := uint16(0xffff)
	for _, c := range b {
		crc ^= uint16(c)
		for range 8 {
			odd := crc & 1
			crc >>= 1
			if odd != 0 {
				crc ^= 0x8408
			}
		}
	}
	return crc
}

func (yubico) Parse(otp string) (string, []byte, error) {
	if len(otp) < 34 || len(otp) > 64 {
		return "", nil, errors.New("not a YubiKey OTP")
	}
	ct, err := modhexDecode(otp[len(otp)-32:])
	return otp[:len(otp)-32], ct, err
}

func (yubico) Decrypt(key, ct []byte) ([]byte, int64, error) {
	c, err := aes.NewCipher(key)
	if err != nil {
		return nil, 0, err
	}
	pt := make([]byte, 16)
	c.Decrypt(pt, ct)
	if crc16(pt) != 0xf0b8 {
		return nil, 0, errors.New("CRC mismatch")
	}
	return pt[:6], int64(binary.LittleEndian.Uint16(pt[6:8]))<<8 | int64(pt[11]), nil
}

// ykOTP generates an OTP as a YubiKey would.
func ykOTP(t *testing.T, public string, private, key []byte, use uint16, session byte) string {
	t.Helper()
	pt := make([]byte, 16)
	copy(pt, private)
	binary.LittleEndian.PutUint16(pt[6:], use)
	pt[8], pt[9], pt[10], pt[11], pt[12], pt[13] = 1, 2, 3, session, 0x5a, 0xa5
	binary.LittleEndian.PutUint16(pt[14:], ^crc16(pt[:14]))
	c, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	ct := make([]byte, 16)
	c.Encrypt(ct, pt)
	return public + modhexEncode(ct)
}

func TestYubiKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t, auth.Options{YubiKey: yubico{}})
	alice := f.user(t, "alice", store.StatusActive)
	public, private, key := "vvccccfiluij", []byte{1, 2, 3, 4, 5, 6}, []byte("0123456789abcdef")
	if _, err := f.svc.AddTokens(ctx, []auth.NewToken{{Kind: store.TokenYubiKey, Serial: "12345", PublicID: public, PrivateID: private, AESKey: key}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.AssignToken(ctx, "12345", "alice"); err != nil {
		t.Fatal(err)
	}
	otp := func(use uint16, session byte) string { return ykOTP(t, public, private, key, use, session) }
	for _, st := range []struct {
		name string
		otp  string
		want string
	}{
		{"first", otp(3, 0), auth.ResultAllow},
		{"replayed", otp(3, 0), auth.ResultDeny},
		{"next in the session", otp(3, 1), auth.ResultAllow},
		{"earlier session", otp(2, 9), auth.ResultDeny},
		{"new session", otp(4, 0), auth.ResultAllow},
		{"another key's private ID", ykOTP(t, public, []byte{9, 9, 9, 9, 9, 9}, key, 5, 0), auth.ResultDeny},
		{"another AES key", ykOTP(t, public, private, []byte("fedcba9876543210"), 5, 0), auth.ResultDeny},
		{"another public ID", ykOTP(t, "vvccccfilukk", private, key, 5, 0), auth.ResultDeny},
	} {
		res := f.passcode(t, "alice", st.otp)
		if res.Result != st.want {
			t.Errorf("%s: %s, want %s", st.name, res.Result, st.want)
		} else if l := f.lastLog(t, alice.ID); st.want == auth.ResultAllow && l.Factor != "yubikey_code" {
			t.Errorf("%s: logged factor %q", st.name, l.Factor)
		}
	}
}

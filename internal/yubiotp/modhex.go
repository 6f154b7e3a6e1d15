package yubiotp

import (
	"errors"
	"fmt"
	"strings"
)

// ErrModhex reports a string that is not modhex.
var ErrModhex = errors.New("not modhex")

// modhexAlphabet maps nibbles 0x0..0xf to the characters a YubiKey types;
// they sit on the same keys in most keyboard layouts.
const modhexAlphabet = "cbdefghijklnrtuv"

// modhexValue maps an ASCII byte (lower or upper case) to its nibble, or -1.
var modhexValue = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := range len(modhexAlphabet) {
		c := modhexAlphabet[i]
		t[c] = int8(i)
		t[c-'a'+'A'] = int8(i)
	}
	return t
}()

// ModhexEncode returns the modhex encoding of b (two lower-case characters
// per byte).
func ModhexEncode(b []byte) string {
	var sb strings.Builder
	sb.Grow(2 * len(b))
	for _, x := range b {
		sb.WriteByte(modhexAlphabet[x>>4])
		sb.WriteByte(modhexAlphabet[x&0x0f])
	}
	return sb.String()
}

// ModhexDecode decodes s, in either case. An odd length or a character
// outside the modhex alphabet is an error naming its position.
func ModhexDecode(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("%w: odd length %d", ErrModhex, len(s))
	}
	out := make([]byte, len(s)/2)
	for i := 0; i < len(s); i += 2 {
		hi, lo := modhexValue[s[i]], modhexValue[s[i+1]]
		if hi < 0 || lo < 0 {
			pos := i
			if hi >= 0 {
				pos = i + 1
			}
			return nil, fmt.Errorf("%w: character %d is outside the alphabet %s", ErrModhex, pos+1, modhexAlphabet)
		}
		out[i/2] = byte(hi)<<4 | byte(lo)
	}
	return out, nil
}

// IsModhex reports whether s is a non-empty, even-length modhex string.
func IsModhex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := range len(s) {
		if modhexValue[s[i]] < 0 {
			return false
		}
	}
	return true
}

package config

import (
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is an amount of memory written as a number of bytes with an
// optional unit: B, KiB, MiB, GiB (powers of 1024) or KB, MB, GB (powers
// of 1000), e.g. "512MiB"; "0" is none.
type ByteSize int64

// MinMemoryLimit is the smallest memory_limit accepted: below it the
// server would spend its time collecting garbage.
const MinMemoryLimit = ByteSize(32 << 20)

var byteUnits = []struct {
	suffix string
	n      int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// UnmarshalText parses a size such as 512MiB.
func (b *ByteSize) UnmarshalText(t []byte) error {
	s := strings.TrimSpace(string(t))
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.n
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return fmt.Errorf("%q is not a size like 512MiB, 2GiB or 0", s)
	}
	*b = ByteSize(n * mult)
	return nil
}

// MarshalText writes the size in the largest binary unit that divides it.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

func (b ByteSize) String() string {
	for _, u := range []struct {
		suffix string
		n      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.n == 0 {
			return strconv.FormatInt(int64(b)/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}

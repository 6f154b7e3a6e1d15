package bench

import (
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/assent-auth/assent/internal/username"
)

// MaxUsers bounds a seeded user set.
const MaxUsers = 10_000_000

// UserSet is Count benchmark users named Prefix-0 … Prefix-(Count-1) whose
// secrets derive from Seed: a load generator that reads the set's file can
// log in as any of them. The file is as secret as the bypass codes of all
// those users; seed only benchmark installations.
type UserSet struct {
	Prefix  string    `json:"prefix"`
	Count   int       `json:"users"`
	Seed    []byte    `json:"seed"` // 32 random bytes
	Created time.Time `json:"created"`
}

// NewUserSet returns a set with a fresh random seed.
func NewUserSet(prefix string, count int) (UserSet, error) {
	s := UserSet{Prefix: prefix, Count: count, Seed: make([]byte, 32), Created: time.Now().UTC().Truncate(time.Second)}
	_, _ = crand.Read(s.Seed)
	return s, s.Validate()
}

// Validate checks the set's shape.
func (s UserSet) Validate() error {
	switch {
	case s.Count < 1 || s.Count > MaxUsers:
		return fmt.Errorf("the user count must be between 1 and %d", MaxUsers)
	case len(s.Seed) < 16:
		return errors.New("the user set has no seed")
	}
	if _, err := username.Normalize(s.Username(s.Count - 1)); err != nil {
		return fmt.Errorf("prefix %q: username %q %w", s.Prefix, s.Username(s.Count-1), err)
	}
	return nil
}

// Username is user i's name.
func (s UserSet) Username(i int) string { return s.Prefix + "-" + strconv.Itoa(i) }

// derive is HMAC-SHA256(seed, purpose ‖ i).
func (s UserSet) derive(purpose string, i int) []byte {
	m := hmac.New(sha256.New, s.Seed)
	m.Write([]byte(purpose))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(i))
	m.Write(n[:])
	return m.Sum(nil)
}

// BypassCode is user i's unlimited-use bypass code: 9 digits.
func (s UserSet) BypassCode(i int) string {
	v := binary.BigEndian.Uint64(s.derive("bypass code\x00", i)) % 1_000_000_000
	return fmt.Sprintf("%09d", v)
}

// HOTPSecret is the hotp_secret of user i's device (32 lower-case hex
// characters, as Assent hands them out at activation).
func (s UserSet) HOTPSecret(i int) string {
	return hex.EncodeToString(s.derive("hotp secret\x00", i)[:16])
}

// HOTPCode is the 6-digit code of user i's device at counter, as the phone
// computes it (the ASCII bytes of the secret are the HOTP key).
func (s UserSet) HOTPCode(i int, counter uint64) (string, error) {
	key := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(s.HOTPSecret(i)))
	return hotp.GenerateCodeCustom(key, counter, hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// Save writes the set to path (mode 0600). It refuses to replace a file:
// the one there may describe users seeded earlier.
func (s UserSet) Save(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s exists: it may describe users seeded earlier; choose another file", path)
		}
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// LoadUserSet reads a set saved by Save.
func LoadUserSet(path string) (UserSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return UserSet{}, err
	}
	var s UserSet
	if err := json.Unmarshal(b, &s); err != nil {
		return UserSet{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.Validate(); err != nil {
		return UserSet{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// UsersAuthScenario is AuthScenario where each request picks its user at
// random among the first n of set (all of them for n ≤ 0) and its server
// at random among ds (the nodes of one installation): preauth, then a
// passcode auth with the user's bypass code. Both requests of a login
// pick independently.
func UsersAuthScenario(ds []*Duo, set UserSet, n int) Scenario {
	if n <= 0 || n > set.Count {
		n = set.Count
	}
	pick := func() (*Duo, int) { return ds[rand.IntN(len(ds))], rand.IntN(n) }
	target := ""
	for i, d := range ds {
		if i > 0 {
			target += ", "
		}
		target += "https://" + d.Host
	}
	return Scenario{
		Name:   "auth",
		Target: target,
		Steps: []Step{
			{Name: "preauth", Do: func(ctx context.Context) (bool, error) {
				d, i := pick()
				r, err := d.Preauth(ctx, set.Username(i))
				return r == "auth" || r == "allow", err
			}},
			{Name: "auth", Do: func(ctx context.Context) (bool, error) {
				d, i := pick()
				r, err := d.Passcode(ctx, set.Username(i), set.BypassCode(i))
				return r == "allow", err
			}},
		},
	}
}

// UsersPasscodeScenario is UsersAuthScenario without the preauth.
func UsersPasscodeScenario(ds []*Duo, set UserSet, n int) Scenario {
	sc := UsersAuthScenario(ds, set, n)
	sc.Name, sc.Steps = "passcode", sc.Steps[1:]
	return sc
}

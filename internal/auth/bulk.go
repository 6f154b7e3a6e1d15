package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/assent-auth/assent/internal/ids"
	"github.com/assent-auth/assent/internal/store"
)

// BulkUser is a user that BulkCreateUsers creates with an activated device
// and an unlimited-use bypass code. The caller chooses the secrets (a load
// generator derives them from a seed, so it can log in as any of a million
// users without a list of them).
type BulkUser struct {
	Username string
	// BypassCode is BypassCodeDigits digits; it works any number of times
	// and never expires.
	BypassCode string
	// HOTPSecret is the device's hotp_secret as Activate hands it out: 32
	// lower-case hex characters whose ASCII bytes are the HOTP key.
	HOTPSecret string
	// PublicKey is the device's PEM RSA public key (≥ 2048 bits). Many
	// users may share one: generating a million RSA keys would take hours.
	PublicKey string
	// DeviceName and Platform describe the device; default "Device".
	DeviceName, Platform string
}

// ErrNoBulkPath is returned by BulkCreateUsers when the store cannot load
// rows in bulk.
var ErrNoBulkPath = errors.New("auth: the store has no bulk-load path")

// BulkCreateUsers creates users, each with an activated device and one
// bypass code, all or nothing, through the store's bulk path
// (store.BulkLoader). The rows are what CreateUser, Activate and
// IssueBypassCodes write: fresh IDs, the HOTP secret sealed with the master
// key under the device ID, only a keyed hash of the bypass code. It skips
// their per-user transactions and checks, so it is for filling an
// installation (`assent bench seed`), not for a running login path. A
// username already taken fails the whole call with KindConflict.
func (s *Service) BulkCreateUsers(ctx context.Context, users []BulkUser) error {
	bl, ok := s.st.(store.BulkLoader)
	if !ok {
		return ErrNoBulkPath
	}
	b, err := s.bulkRows(users)
	if err != nil {
		return err
	}
	err = bl.LoadBulk(ctx, b)
	if errors.Is(err, store.ErrAlreadyExists) {
		return &Error{Kind: KindConflict, Param: "username", Detail: "a user of the batch already exists: " + err.Error()}
	}
	if err != nil {
		return wrap("create users in bulk", err)
	}
	s.opts.Logger.Info("users created in bulk", "count", len(users))
	return nil
}

// AnalyzeStore refreshes the store's planner statistics after a bulk load
// (see store.BulkLoader).
func (s *Service) AnalyzeStore(ctx context.Context) error {
	bl, ok := s.st.(store.BulkLoader)
	if !ok {
		return ErrNoBulkPath
	}
	if err := bl.Analyze(ctx); err != nil {
		return wrap("analyze", err)
	}
	return nil
}

// bulkRows validates users and builds their rows.
func (s *Service) bulkRows(users []BulkUser) (store.Bulk, error) {
	now := s.now()
	b := store.Bulk{
		Users:       make([]store.User, 0, len(users)),
		Devices:     make([]store.Device, 0, len(users)),
		BypassCodes: make([]store.BypassCode, 0, len(users)),
	}
	keys := map[string]bool{} // public keys already parsed
	for i, bu := range users {
		if err := validateUsername(bu.Username); err != nil {
			return store.Bulk{}, fmt.Errorf("user %d: %w", i, err)
		}
		if !allIn(bu.BypassCode, "0123456789") || len(bu.BypassCode) != BypassCodeDigits {
			return store.Bulk{}, fmt.Errorf("user %d: %w", i, invalid("bypass_code", fmt.Sprintf("must be %d digits", BypassCodeDigits)))
		}
		if !allIn(bu.HOTPSecret, "0123456789abcdef") || len(bu.HOTPSecret) != 32 {
			return store.Bulk{}, fmt.Errorf("user %d: %w", i, invalid("hotp_secret", "must be 32 lower-case hex characters"))
		}
		pub := strings.TrimSpace(bu.PublicKey)
		if !keys[pub] {
			if _, err := parseDeviceKey(pub); err != nil {
				return store.Bulk{}, fmt.Errorf("user %d: %w", i, err)
			}
			keys[pub] = true
		}
		u := store.User{ID: ids.New(ids.User), Username: bu.Username, Status: store.StatusActive, Created: now}
		d := store.Device{
			ID: ids.New(ids.Device), UserID: u.ID, Name: deviceName(ActivateRequest{Name: bu.DeviceName, Platform: bu.Platform}),
			Platform: bu.Platform, PublicKey: pub, Created: now, LastSeen: now,
		}
		sealed, err := s.box.Seal([]byte(bu.HOTPSecret), []byte(d.ID))
		if err != nil {
			return store.Bulk{}, wrap("create users in bulk: seal", err)
		}
		d.HOTPSecretEnc = sealed
		b.Users = append(b.Users, u)
		b.Devices = append(b.Devices, d)
		b.BypassCodes = append(b.BypassCodes, store.BypassCode{
			ID: ids.New(ids.BypassCode), UserID: u.ID, Hash: s.bypassHash(u.ID, bu.BypassCode), Created: now,
		})
	}
	return b, nil
}

// allIn reports whether every byte of s is one of set's.
func allIn(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

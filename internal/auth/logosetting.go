package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"sync"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

// settingLogo is the store setting holding the logo uploaded in the
// console (a PNG, base64), which the Auth API's /auth/v2/logo and device
// activations serve instead of the configured logo_file; "" means the
// configured one.
const settingLogo = "logo_png"

// Bounds of an uploaded logo.
const (
	MaxLogoBytes = 64 << 10
	MaxLogoSide  = 1024
)

// logoRefresh is how often a node re-reads the logo setting.
const logoRefresh = 10 * time.Second

// logoCache is the uploaded logo as last read.
type logoCache struct {
	mu   sync.Mutex
	val  []byte
	read time.Time // zero: never read
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// CheckLogo checks an uploaded logo: a PNG image of at most MaxLogoBytes
// and MaxLogoSide pixels a side that decodes completely.
func CheckLogo(b []byte) error {
	if len(b) > MaxLogoBytes {
		return invalid("logo", fmt.Sprintf("must be at most %d KiB", MaxLogoBytes>>10))
	}
	if !bytes.HasPrefix(b, pngSignature) {
		return invalid("logo", "must be a PNG image")
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return invalid("logo", "is not a valid PNG image")
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
		return invalid("logo", fmt.Sprintf("must be at most %d×%d pixels", MaxLogoSide, MaxLogoSide))
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		return invalid("logo", "is not a valid PNG image")
	}
	return nil
}

// Logo is the logo uploaded in the console, or nil when none was (the
// configured logo_file applies then). A node re-reads it at most every
// logoRefresh; a failed read keeps the previous value. The slice is
// shared: read-only.
func (s *Service) Logo(ctx context.Context) []byte {
	now := s.opts.Now()
	c := &s.logo
	c.mu.Lock()
	fresh := !c.read.IsZero() && now.Sub(c.read) < logoRefresh && !now.Before(c.read)
	val := c.val
	c.mu.Unlock()
	if fresh {
		return val
	}
	v, err := s.st.GetSetting(ctx, settingLogo)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && v == ""):
		val = nil
	case err != nil:
		s.log(ctx).Warn("reading the logo setting", "err", err)
		return val
	default:
		b, derr := base64.StdEncoding.DecodeString(v)
		if derr != nil {
			s.log(ctx).Warn("the logo setting is not base64", "err", derr)
			b = nil
		}
		val = b
	}
	c.mu.Lock()
	c.val, c.read = val, now
	c.mu.Unlock()
	return val
}

// SetLogo stores an uploaded logo (checked with CheckLogo) for every node;
// nil goes back to the configured logo_file. Logged as customer_update
// with the image's size and SHA-256.
func (s *Service) SetLogo(ctx context.Context, b []byte) error {
	desc := map[string]any{"logo": "configured"}
	v := ""
	if len(b) > 0 {
		if err := CheckLogo(b); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		desc = map[string]any{"logo_bytes": len(b), "logo_sha256": hex.EncodeToString(sum[:])}
		v = base64.StdEncoding.EncodeToString(b)
	}
	err := s.st.InTx(ctx, func(q store.Queries) error {
		if err := q.PutSetting(ctx, settingLogo, v); err != nil {
			return err
		}
		return s.adminLog(ctx, q, "customer_update", "settings", desc)
	})
	if err != nil {
		return wrap("set logo", err)
	}
	c := &s.logo
	c.mu.Lock()
	c.val, c.read = nil, time.Time{}
	if len(b) > 0 {
		c.val, c.read = bytes.Clone(b), s.opts.Now()
	}
	c.mu.Unlock()
	s.opts.Logger.Info("logo set", "bytes", len(b))
	return nil
}

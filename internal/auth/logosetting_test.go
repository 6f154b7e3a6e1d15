package auth_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/auth"
)

func pngOf(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestLogoSetting: a checked PNG is stored for every node (another Service
// on the store reads it within the refresh), nil goes back to the
// configured logo, and what is not a small PNG is refused.
func TestLogoSetting(t *testing.T) {
	f := newFixture(t, auth.Options{})
	other := newFixtureWith(t, f.st, auth.Options{Now: f.clock.Now})
	ctx := context.Background()
	if got := other.svc.Logo(ctx); got != nil {
		t.Fatalf("logo before any upload: %d bytes", len(got))
	}
	good := pngOf(t, 64, 32)
	for name, b := range map[string][]byte{
		"empty PNG signature": []byte("\x89PNG\r\n\x1a\n"),
		"GIF":                 []byte("GIF89a"),
		"truncated":           good[:len(good)-8],
		"too tall":            pngOf(t, 10, 1025),
		"too big":             append(bytes.Clone(good), make([]byte, auth.MaxLogoBytes)...),
	} {
		if err := f.svc.SetLogo(ctx, b); !auth.IsKind(err, auth.KindInvalid) {
			t.Errorf("%s: %v, want KindInvalid", name, err)
		}
	}
	if err := f.svc.SetLogo(ctx, good); err != nil {
		t.Fatal(err)
	}
	if got := f.svc.Logo(ctx); !bytes.Equal(got, good) {
		t.Error("this node does not serve the new logo")
	}
	f.clock.Advance(11 * time.Second) // the other node's refresh
	if got := other.svc.Logo(ctx); !bytes.Equal(got, good) {
		t.Error("another node does not serve the new logo")
	}
	if err := f.svc.SetLogo(ctx, nil); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(11 * time.Second)
	if got := other.svc.Logo(ctx); got != nil {
		t.Errorf("after the reset another node serves %d bytes", len(got))
	}
}

// FuzzCheckLogo: CheckLogo never panics, and whatever it accepts decodes
// as a PNG within the bounds.
func FuzzCheckLogo(f *testing.F) {
	f.Add(pngOf(f, 1, 1))
	f.Add(pngOf(f, 300, 100))
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x7f\xff\xff\xff\x7f\xff\xff\xff\x08\x02\x00\x00\x00"))
	f.Add([]byte("GIF89a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if auth.CheckLogo(b) != nil {
			return
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil || len(b) > auth.MaxLogoBytes {
			t.Fatalf("accepted %d bytes that do not decode: %v", len(b), err)
		}
		if r := img.Bounds(); r.Dx() > auth.MaxLogoSide || r.Dy() > auth.MaxLogoSide {
			t.Fatalf("accepted %v", r)
		}
	})
}

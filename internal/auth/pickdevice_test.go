package auth

import (
	"errors"
	"testing"

	"github.com/assent-auth/assent/internal/store"
)

// pickDevice serves push, phone and sms alike: only the capability differs.
func TestPickDevice(t *testing.T) {
	t.Parallel()
	app := store.Device{ID: "DPAPPXXXXXXXXXXXXXXX", PublicKey: "k"}
	landline := store.Device{ID: "DPLANDXXXXXXXXXXXXXX", Number: "+15555550100"}
	mobile := store.Device{ID: "DPMOBXXXXXXXXXXXXXXX", Number: "+15555550123", PublicKey: "k"}
	devices := []store.Device{app, landline, mobile}
	hasNumber := func(d store.Device) bool { return d.Number != "" }
	for _, tc := range []struct {
		name    string
		device  string // req.Device
		index   int    // plan.index (phone2)
		capable func(store.Device) bool
		want    string // device ID; "" for ErrNoCapableDevice
	}{
		{"no device: the first capable", "", 0, hasNumber, landline.ID},
		{"auto: the first capable", "auto", 0, hasNumber, landline.ID},
		{"auto for the app", "auto", 0, hasApp, app.ID},
		{"auto, none capable", "auto", 0, func(store.Device) bool { return false }, ""},
		{"by ID", mobile.ID, 0, hasNumber, mobile.ID},
		{"by ID, not capable", app.ID, 0, hasNumber, ""},
		{"unknown ID", "DPNOPEXXXXXXXXXXXXXX", 0, hasNumber, ""},
		{"index 1, not capable", "", 1, hasNumber, ""},
		{"index 2", "", 2, hasNumber, landline.ID},
		{"index 3", "", 3, hasApp, mobile.ID},
		{"index wins over device", app.ID, 3, hasNumber, mobile.ID},
		{"index past the list", "", 4, hasNumber, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pickDevice(AuthRequest{Device: tc.device}, plan{index: tc.index}, devices, tc.capable)
			switch {
			case tc.want == "" && !errors.Is(err, ErrNoCapableDevice):
				t.Fatalf("picked %s, %v; want ErrNoCapableDevice", got.ID, err)
			case tc.want != "" && (err != nil || got.ID != tc.want):
				t.Fatalf("picked %s, %v; want %s", got.ID, err, tc.want)
			}
		})
	}
}

package webpush

import "testing"

// FuzzValidate feeds Validate what a device may send; it must never panic
// and must accept only an https endpoint with a P-256 point and 16 bytes.
func FuzzValidate(f *testing.F) {
	f.Add("https://fcm.googleapis.com/fcm/send/abc", "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4", "BTBZMqHH6r4Tts7J_aSIgg")
	f.Add("http://x", "", "")
	f.Add("https://[::1]:99/%zz", "BA==", "AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, endpoint, p256dh, auth string) {
		if Validate(endpoint, p256dh, auth) == nil {
			if k, err := decode(p256dh); err != nil || len(k) != 65 {
				t.Errorf("accepted p256dh %q", p256dh)
			}
			if a, err := decode(auth); err != nil || len(a) != 16 {
				t.Errorf("accepted auth %q", auth)
			}
		}
	})
}

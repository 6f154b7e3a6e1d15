package webpushtest

import (
	"crypto/ecdh"
	"encoding/base64"
	"testing"
)

// TestDecryptRFC8291 checks the test's decryption against the example of
// RFC 8291 §5, so it cannot merely agree with the library's mistakes.
func TestDecryptRFC8291(t *testing.T) {
	d := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	priv, err := ecdh.P256().NewPrivateKey(d("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
	if err != nil {
		t.Fatal(err)
	}
	b := Subscription{priv: priv, auth: d("BTBZMqHH6r4Tts7J_aSIgg")}
	body := d("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN")
	pt, err := b.Decrypt(body)
	if err != nil || string(pt) != "When I grow up, I want to be a watermelon" {
		t.Fatalf("RFC 8291 example: %q, %v", pt, err)
	}
}

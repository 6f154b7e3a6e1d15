// Package frame serves Assent's browser-facing pages. So far: the QR images
// behind activation_barcode.
package frame

import (
	"net/http"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/assent-auth/assent/internal/httpapi"
)

// maxQRValue bounds what the QR endpoint encodes; activation codes are
// under 100 characters.
const maxQRValue = 512

// QR serves GET /frame/qr?value=…: a PNG QR code of value, as Duo's
// activation_barcode URLs do.
func QR(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", http.MethodGet)
		return &httpapi.Error{Status: http.StatusMethodNotAllowed, Code: httpapi.CodeMethodNotAllowed, Message: "Method not allowed"}
	}
	v := r.URL.Query().Get("value")
	if v == "" || len(v) > maxQRValue {
		return httpapi.InvalidParams("value: must be 1 to 512 characters")
	}
	png, err := qrcode.Encode(v, qrcode.Medium, 256)
	if err != nil {
		return httpapi.InvalidParams("value: cannot be encoded as a QR code")
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(png)
	return nil
}

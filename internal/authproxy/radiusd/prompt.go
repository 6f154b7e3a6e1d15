package radiusd

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"layeh.com/radius"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
)

// User-visible texts (spec authproxy.md §2–§3); devices and scripts match
// on them, so they are exact.
const (
	msgCannotDecode     = "Cannot decode password"
	msgNoUsername       = "No username provided"
	msgBadPassword      = "Missing or improperly-formatted password"
	msgNoPassword       = "No password or CHAP2 attributes provided"
	msgInvalidPassword  = "Invalid Password"
	msgNoFactors        = "User has no Duo factors usable with this configuration"
	msgEnterPasscode    = "Enter passcode:"
	msgUnknownChallenge = "Unknown Challenge"
	msgEnrollAgain      = "Please complete the enrollment process and login again"
	msgFailSafe         = "Failmode Safe - Allowed Duo login on preauth failure"
	msgFailSecure       = "Failmode Secure - Denied Duo login on preauth failure"
	msgPrimaryOnly      = "Primary Only Mode - Secondary authentication bypassed"
	msgExempt           = "User exempted from 2FA"
	msgPrimaryError     = "Error communicating with the primary authentication server"
	msgBusy             = "Too many pending logins, try again later"
	msgEAP              = "EAP is not supported by this server section"
	msgShortFallback    = "Choose a secondary factor or enter passcode:"

	// msChapError is the MS-CHAP-Error the proxy adds to its own rejects
	// of MS-CHAP requests: ident 0, authentication failure, no retry.
	msChapError = "\x00E=691 R=0 V=3"
)

// formatPrompt renders the challenge menu in the section's format; a
// console or html text longer than a Reply-Message can hold falls back to
// short (spec §2.4 step 4).
func formatPrompt(format, prompt string, factors map[string]string) string {
	switch format {
	case PromptConsole:
		if len(prompt) <= maxAttr {
			return prompt
		}
	case PromptHTML:
		if h := htmlPrompt(prompt); len(h) <= maxAttr {
			return h
		}
	}
	return shortPrompt(factors)
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func htmlPrompt(prompt string) string {
	lines := strings.Split(strings.ReplaceAll(prompt, "\r\n", "\n"), "\n")
	for i, l := range lines {
		lines[i] = xmlEscaper.Replace(strings.TrimSpace(l))
	}
	return strings.Join(lines, "<br>")
}

func shortPrompt(factors map[string]string) string {
	keys := make([]string, 0, len(factors))
	for k := range factors {
		if k != "default" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return msgEnterPasscode
	}
	slices.Sort(keys)
	quoted := make([]string, len(keys))
	for i, k := range keys {
		quoted[i] = "'" + factors[k] + "'"
	}
	s := "Choose a secondary factor from (" + strings.Join(quoted, ", ") + ") or enter passcode:"
	if len(s) > maxAttr {
		return msgShortFallback
	}
	return s
}

// splitPassword splits a concatenated "password<delim>factor" at the last
// delimiter, or after n characters when n > 0 (one leading delimiter of
// the right part dropped). ok is false when there is nothing to split.
func splitPassword(pw, delim string, n int) (left, right string, ok bool) {
	if n > 0 {
		if utf8.RuneCountInString(pw) <= n {
			return "", "", false
		}
		i := 0
		for range n {
			_, size := utf8.DecodeRuneInString(pw[i:])
			i += size
		}
		return pw[:i], strings.TrimPrefix(pw[i:], delim), true
	}
	i := strings.LastIndex(pw, delim)
	if i < 0 {
		return "", "", false
	}
	return pw[:i], pw[i+len(delim):], true
}

// chooseFactor walks the section's factor list (spec §2.3 step 7): auto is
// preauth's default factor; push and phone are sent as the bare type if
// the user has such a device, so Duo picks the first one; passcode is
// always available.
func chooseFactor(list []string, p duoclient.Preauth) string {
	has := func(kind string) bool {
		for k, v := range p.Factors {
			if k != "default" && strings.TrimRight(v, "0123456789") == kind {
				return true
			}
		}
		for _, d := range p.Devices {
			if slices.Contains(d.Capabilities, kind) {
				return true
			}
		}
		return false
	}
	for _, f := range list {
		switch f {
		case "auto":
			if d := p.Factors["default"]; d != "" {
				return d
			}
		case "push", "phone":
			if has(f) {
				return f
			}
		case "passcode":
			return "passcode"
		}
	}
	return ""
}

var smsFactor = regexp.MustCompile(`^sms\d+`)

// enrollText is the enrollment message shown to the user, with the portal
// URL when Duo gave one separately.
func enrollText(p duoclient.Preauth) string {
	if p.EnrollPortalURL == "" || strings.Contains(p.StatusMsg, p.EnrollPortalURL) {
		return p.StatusMsg
	}
	if p.StatusMsg == "" {
		return p.EnrollPortalURL
	}
	return p.StatusMsg + " " + p.EnrollPortalURL
}

var errNotUTF8 = errors.New("not valid UTF-8")

func decodeUTF8(b []byte) (string, error) {
	if !utf8.Valid(b) {
		return "", errNotUTF8
	}
	return string(b), nil
}

// lookupAttr returns the first value of a in attrs: the attribute itself,
// or the sub-attribute of a vendor-specific one.
func lookupAttr(attrs radius.Attributes, a Attr) ([]byte, bool) {
	for _, avp := range attrs {
		if a.Vendor == 0 {
			if avp.Type == a.Type {
				return avp.Attribute, true
			}
			continue
		}
		if avp.Type != 26 {
			continue
		}
		for _, sub := range vsaSubs(avp.Attribute, a.Vendor) {
			if sub[0] == a.VendorType {
				return sub[2:], true
			}
		}
	}
	return nil, false
}

// matchAttr reports whether one attribute of a request is a.
func matchAttr(avp *radius.AVP, a Attr) bool {
	if a.Vendor == 0 {
		return avp.Type == a.Type
	}
	if avp.Type != 26 {
		return false
	}
	for _, sub := range vsaSubs(avp.Attribute, a.Vendor) {
		if sub[0] == a.VendorType {
			return true
		}
	}
	return false
}

// vsaSubs splits a Vendor-Specific value of the given vendor into its
// type-length-value sub-attributes (each at least 2 bytes).
func vsaSubs(v []byte, vendor uint32) [][]byte {
	if len(v) < 4 || binary.BigEndian.Uint32(v) != vendor {
		return nil
	}
	var subs [][]byte
	for v = v[4:]; len(v) >= 2; {
		l := int(v[1])
		if l < 2 || l > len(v) {
			break
		}
		subs = append(subs, v[:l])
		v = v[l:]
	}
	return subs
}

// Microsoft vendor attributes (RFC 2548).
const (
	vendorMicrosoft = 311
	msChapResponse  = 1
	msChap2Response = 25
	msChap2CPW      = 27
	msChapErrorType = 2
)

func isMSCHAP(p *radius.Packet) bool {
	for _, t := range []byte{msChapResponse, msChap2Response, msChap2CPW} {
		if _, ok := lookupAttr(p.Attributes, Attr{Vendor: vendorMicrosoft, VendorType: t}); ok {
			return true
		}
	}
	return false
}

// hasMSCHAPError reports whether attrs already carry an MS-CHAP-Error.
func hasMSCHAPError(attrs radius.Attributes) bool {
	_, ok := lookupAttr(attrs, Attr{Vendor: vendorMicrosoft, VendorType: msChapErrorType})
	return ok
}

// withMSCHAPError returns attrs without any MS-CHAP-Error plus the proxy's
// own E=691.
func withMSCHAPError(attrs radius.Attributes) radius.Attributes {
	out := make(radius.Attributes, 0, len(attrs)+1)
	for _, a := range attrs {
		if !matchAttr(a, Attr{Vendor: vendorMicrosoft, VendorType: msChapErrorType}) {
			out = append(out, a)
		}
	}
	v := make([]byte, 0, 6+len(msChapError))
	v = binary.BigEndian.AppendUint32(v, vendorMicrosoft)
	v = append(v, msChapErrorType, byte(2+len(msChapError)))
	v = append(v, msChapError...)
	return append(out, &radius.AVP{Type: 26, Attribute: v})
}

// clientIP renders the client_ip_attr value: text as sent, or an address
// attribute in its binary form.
func clientIP(v []byte) string {
	s := string(v)
	if _, err := netip.ParseAddr(s); err == nil {
		return s
	}
	printable := utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
	if !printable && (len(v) == 4 || len(v) == 16) {
		return net.IP(v).String() // an ipaddr/ipv6addr-typed attribute
	}
	if printable {
		return strings.TrimSpace(s)
	}
	return ""
}

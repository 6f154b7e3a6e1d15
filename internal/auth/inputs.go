package auth

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a caller may send with preauth and auth. They are checked
// here, in the core, so that every edge (Auth API v2, v1 JSON and BSON, the
// prompt) refuses the same things; the values end up in the auth log, in
// push transactions and on the user's phone. Duo documents a limit only for
// pushinfo; the others are Assent's choice, generous for real use.
const (
	// MaxHostname bounds hostname: a DNS name has at most 253 characters.
	MaxHostname = 255
	// MaxPushType bounds type, the word shown in the push notification
	// ("Login", "Transaction").
	MaxPushType = 100
	// MaxDisplayUsername bounds display_username, shown on the phone
	// instead of the username.
	MaxDisplayUsername = 128
	// MaxPushInfo: Duo requires pushinfo to be "less than 20,000 bytes".
	MaxPushInfo = 20000 - 1
	// maxIPAddr bounds ipaddr before it is parsed (the longest IPv6 text
	// form, ::ffff:255.255.255.255 style, has 45 characters).
	maxIPAddr = 64
	// maxUserID bounds user_id; Assent's are 20 characters (DU…).
	maxUserID = 64
)

// check validates what every preauth and auth request carries and returns
// it with ipaddr in its canonical form.
func (r Request) check() (Request, error) {
	if err := r.ref().validate(); err != nil {
		return r, err
	}
	if r.Username != "" {
		if r.typed == "" {
			r.typed = r.Username
		}
		// The application's users may type DOMAIN\user or user@domain.
		r.Username = LookupUsername(r.Integration, r.typed)
		if err := validateUsername(r.Username); err != nil {
			return r, err
		}
	}
	if len(r.UserID) > maxUserID {
		return r, invalid("user_id", fmt.Sprintf("is longer than %d characters", maxUserID))
	}
	if r.IP != "" {
		ip, err := parseIP(r.IP)
		if err != nil {
			return r, err
		}
		r.IP = ip
	}
	if err := checkText("hostname", r.Hostname, MaxHostname); err != nil {
		return r, err
	}
	return r, nil
}

// checkPush validates what auth shows on the phone.
func (r AuthRequest) checkPush() error {
	if err := checkText("type", r.Type, MaxPushType); err != nil {
		return err
	}
	if err := checkText("display_username", r.DisplayUsername, MaxDisplayUsername); err != nil {
		return err
	}
	return checkPushInfo(r.PushInfo)
}

// parseIP accepts an IPv4 or IPv6 address and returns its canonical text
// form. An IPv6 zone (fe80::1%eth0) names an interface of the sender's
// host, meaningless here: it is dropped rather than refused, since clients
// such as the authentication proxy pass on whatever parses as an address.
func parseIP(s string) (string, error) {
	const msg = "must be an IPv4 or IPv6 address, e.g. 192.0.2.10 or 2001:db8::10"
	if len(s) > maxIPAddr {
		return "", invalid("ipaddr", msg)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", invalid("ipaddr", msg)
	}
	if a.Is4() {
		// netip parses IPv4 only in its canonical dotted-decimal form
		// (no leading zeros, four parts): s is already that text.
		return s, nil
	}
	return a.WithZone("").String(), nil
}

// checkText refuses text longer than maxChars characters, text that is not
// UTF-8 and text with control characters (they would break log lines and
// the phone's display). The byte length is checked first, so an oversized
// value costs nothing more.
func checkText(param, s string, maxChars int) error {
	// Built only when needed: every request checks its texts.
	tooLong := func() error { return invalid(param, fmt.Sprintf("is longer than %d characters", maxChars)) }
	switch {
	case s == "":
		return nil
	case len(s) > utf8.UTFMax*maxChars:
		return tooLong()
	case !utf8.ValidString(s):
		return invalid(param, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxChars:
		return tooLong()
	}
	if i := strings.IndexFunc(s, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return invalid(param, fmt.Sprintf("must not contain control characters (found %U)", r))
	}
	return nil
}

// checkPushInfo enforces Duo's pushinfo rules: URL-encoded key=value pairs
// joined by "&", less than 20,000 bytes in all. Each key and value must
// decode to UTF-8 text.
func checkPushInfo(s string) error {
	if len(s) > MaxPushInfo {
		return invalid("pushinfo", "must be less than 20,000 bytes (Duo's limit)")
	}
	for piece := range strings.SplitSeq(s, "&") {
		if piece == "" {
			continue
		}
		k, v, _ := strings.Cut(piece, "=")
		for _, part := range []string{k, v} {
			d, err := url.QueryUnescape(part)
			if err != nil || !utf8.ValidString(d) {
				return invalid("pushinfo", "must be URL-encoded key=value pairs joined by & (e.g. from=login%20portal&domain=example.com)")
			}
		}
	}
	return nil
}

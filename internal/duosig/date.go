package duosig

import (
	"errors"
	"strings"
	"time"
)

var errDate = errors.New("duosig: unparseable date")

// ParseDate parses an RFC 2822 / RFC 1123 date as Duo clients send it:
// "Tue, 21 Aug 2012 17:29:18 -0000", with a numeric zone (+0000, -0400,
// +0530, also +05:30), GMT/UT/UTC or another obsolete zone name (US zones
// are honoured; military letters and unknown names count as -0000, as RFC
// 2822 §4.3 says), with or without the weekday, a 1- or 2-digit day, a 2-,
// 3- or 4-digit year, optional seconds, and any amount of whitespace.
// A missing zone is taken as UTC. RFC 850 "21-Aug-12" dates and "(comments)"
// are tolerated too.
func ParseDate(s string) (time.Time, error) {
	s = stripComments(s)
	// Commas are optional separators (after the weekday); splitting on them
	// also tolerates "Tue,21 Aug…". A date has at most 6 fields (7 with the
	// RFC 850 split below); the array keeps this allocation-free.
	var arr [8]string
	f := arr[:0]
	for i := 0; i < len(s); {
		for i < len(s) && isSep(s[i]) {
			i++
		}
		j := i
		for j < len(s) && !isSep(s[j]) {
			j++
		}
		if j > i {
			if len(f) == 6 {
				return time.Time{}, errDate
			}
			f = append(f, s[i:j])
		}
		i = j
	}
	if len(f) > 0 && weekday(f[0]) {
		f = f[1:]
	}
	// RFC 850 style "21-Aug-12".
	if len(f) > 0 && strings.Count(f[0], "-") == 2 && f[0][0] != '-' {
		d, rest, _ := strings.Cut(f[0], "-")
		m, y, _ := strings.Cut(rest, "-")
		f = append([]string{d, m, y}, f[1:]...)
	}
	if len(f) < 4 || len(f) > 5 {
		return time.Time{}, errDate
	}
	day, ok := atoi(f[0], 1, 2)
	if !ok {
		return time.Time{}, errDate
	}
	month, ok := monthNum(f[1])
	if !ok {
		return time.Time{}, errDate
	}
	year, ok := atoi(f[2], 2, 4)
	if !ok {
		return time.Time{}, errDate
	}
	switch len(f[2]) { // RFC 2822 §4.3 obsolete years
	case 2:
		if year < 50 {
			year += 2000
		} else {
			year += 1900
		}
	case 3:
		year += 1900
	}
	hh, mm, ss, ok := parseClock(f[3])
	if !ok {
		return time.Time{}, errDate
	}
	off := 0
	if len(f) == 5 {
		if off, ok = parseZone(f[4]); !ok {
			return time.Time{}, errDate
		}
	}
	if day < 1 || day > daysIn(month, year) {
		return time.Time{}, errDate
	}
	loc := time.UTC
	if off != 0 {
		loc = time.FixedZone("", off)
	}
	return time.Date(year, month, day, hh, mm, ss, 0, loc), nil
}

// stripComments removes RFC 2822 "(comments)", which may nest.
func stripComments(s string) string {
	if !strings.ContainsRune(s, '(') {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
			b.WriteByte(' ')
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// atoi parses an unsigned decimal of minDigits..maxDigits digits.
func atoi(s string, minDigits, maxDigits int) (int, bool) {
	if len(s) < minDigits || len(s) > maxDigits {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

var weekdays = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

func weekday(s string) bool {
	for _, w := range weekdays {
		if foldsTo(s, w[:3]) || foldsTo(s, w) {
			return true
		}
	}
	return false
}

// foldsTo reports whether s is lower, a word of ASCII lower-case letters,
// in any case (without allocating, as strings.ToLower would).
func foldsTo(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

var months = [...]string{"january", "february", "march", "april", "may", "june",
	"july", "august", "september", "october", "november", "december"}

func monthNum(s string) (time.Month, bool) {
	for i, m := range months {
		if foldsTo(s, m[:3]) || foldsTo(s, m) || (len(m) > 4 && foldsTo(s, m[:4])) { // "Sept"
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseClock parses hh:mm or hh:mm:ss (seconds up to 60 for leap seconds).
func parseClock(s string) (hh, mm, ss int, ok bool) {
	h, rest, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, 0, false
	}
	m, sec, hasSec := strings.Cut(rest, ":")
	if hh, ok = atoi(h, 1, 2); !ok || hh > 23 {
		return 0, 0, 0, false
	}
	if mm, ok = atoi(m, 2, 2); !ok || mm > 59 {
		return 0, 0, 0, false
	}
	if hasSec {
		if ss, ok = atoi(sec, 2, 2); !ok || ss > 60 {
			return 0, 0, 0, false
		}
	}
	return hh, mm, ss, true
}

func isSep(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ','
}

// obsoleteZones are the RFC 822 zone names with a defined offset (hours).
var obsoleteZones = map[string]int{
	"ut": 0, "utc": 0, "gmt": 0, "z": 0,
	"est": -5, "edt": -4, "cst": -6, "cdt": -5,
	"mst": -7, "mdt": -6, "pst": -8, "pdt": -7,
}

// parseZone returns the offset east of UTC in seconds for "+hhmm",
// "-hh:mm", a zone name, or a name directly followed by an offset
// ("GMT+0530", as JavaScript's Date.toString writes).
func parseZone(s string) (int, bool) {
	i := strings.IndexAny(s, "+-")
	if i < 0 {
		return zoneName(s)
	}
	base := 0
	if i > 0 {
		var ok bool
		if base, ok = zoneName(s[:i]); !ok {
			return 0, false
		}
	}
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	num := strings.Replace(s[i+1:], ":", "", 1)
	v, ok := atoi(num, 4, 4)
	if !ok || v%100 > 59 {
		return 0, false
	}
	return base + sign*((v/100)*3600+(v%100)*60), true
}

func zoneName(s string) (int, bool) {
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return 0, false
		}
	}
	// Unknown and military zones are -0000 per RFC 2822 §4.3; a wrong guess
	// only makes the timestamp check fail.
	return obsoleteZones[strings.ToLower(s)] * 3600, true
}

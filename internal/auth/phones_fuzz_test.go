package auth

import (
	"errors"
	"regexp"
	"slices"
	"testing"
	"unicode/utf8"
)

var e164ish = regexp.MustCompile(`^\+[0-9]{1,20}$`)

// FuzzPhoneFields: add_phone's and update_phone's fields (from any Admin
// API client) are refused only with invalid-parameter errors naming the
// parameter, and what is accepted is normalized: Duo's display values, a
// +digits number, a bounded printable name; normalizing again changes
// nothing.
func FuzzPhoneFields(f *testing.F) {
	for _, s := range [][7]string{
		{"", "", "", "", "", "", ""},
		{"alice's phone", "mobile", "google android", "+15555550100", "12", "1", "2"},
		{"x", "LANDLINE", "Apple iOS", "555-555-0100", "*9#", "0", "3600"},
		{"\x00", "pager", "nokia", "+", "x1", "-1", "soon"},
		{"名前", "Unknown", " generic smartphone ", "(555) 555.0100", "", "99999", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5], s[6])
	}
	platforms := make([]string, 0, len(phonePlatforms))
	for _, v := range phonePlatforms {
		platforms = append(platforms, v)
	}
	f.Fuzz(func(t *testing.T, name, typ, platform, number, ext, pre, post string) {
		in := PhoneFields{Name: &name, Type: &typ, Platform: &platform, Number: &number, Extension: &ext, Predelay: &pre, Postdelay: &post}
		out, err := in.check()
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalid || e.Param == "" {
				t.Fatalf("error %v is not an invalid parameter", err)
			}
			return
		}
		switch {
		case *out.Type != phoneMobile && *out.Type != phoneUnknown && *out.Type != phoneLandline:
			t.Fatalf("type %q accepted", *out.Type)
		case !slices.Contains(platforms, *out.Platform):
			t.Fatalf("platform %q accepted", *out.Platform)
		case *out.Number != "" && !e164ish.MatchString(*out.Number):
			t.Fatalf("number %q accepted", *out.Number)
		case !utf8.ValidString(*out.Name) || utf8.RuneCountInString(*out.Name) > maxPhoneName:
			t.Fatalf("name %q accepted", *out.Name)
		}
		again, err := out.check()
		if err != nil || *again.Number != *out.Number || *again.Type != *out.Type || *again.Platform != *out.Platform || *again.Name != *out.Name {
			t.Fatalf("normalizing %+v again: %+v %v", out, again, err)
		}
	})
}

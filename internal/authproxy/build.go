package authproxy

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/authproxy/radiusd"
)

// section maps a validated server section onto the RADIUS server's.
func section(s *cfg.Server, prim radiusd.Primary, duo radiusd.Duo) (*radiusd.Section, error) {
	sec := &radiusd.Section{
		Name:                    s.Name,
		Mode:                    radiusd.Mode(s.Mode),
		IKey:                    s.IKey,
		Primary:                 prim,
		Duo:                     duo,
		Failmode:                s.Failmode,
		Factors:                 s.Factors,
		Delimiter:               s.Delimiter,
		DelimitedPasswordLength: s.DelimitedPasswordLength,
		AllowConcat:             s.AllowConcat,
		PromptFormat:            s.PromptFormat,
		EnrollChallenge:         s.EnrollChallenge,
		Exempt:                  s.ExemptUsernames,
		PassThroughAll:          s.PassThroughAll,
	}
	for _, n := range s.Networks {
		sec.Networks = append(sec.Networks, radiusd.Network{
			Prefix:                      n.Prefix,
			Secret:                      []byte(n.Secret.Reveal()),
			RequireMessageAuthenticator: n.RequireMessageAuthenticator,
			Index:                       n.Index,
		})
	}
	var errs []error
	if s.ClientIPAttr != "" {
		a, err := lookupAttr(s.ClientIPAttr)
		if err != nil {
			errs = append(errs, fmt.Errorf("client_ip_attr: %w", err))
		}
		sec.ClientIPAttr = a
	}
	for _, name := range s.PassThroughAttrNames {
		a, err := lookupAttr(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("pass_through_attr_names: %w", err))
			continue
		}
		sec.PassThrough = append(sec.PassThrough, a)
	}
	dec, err := passwordDecoder(s.PWCodec)
	if err != nil {
		errs = append(errs, err)
	}
	sec.DecodePassword = dec
	return sec, errors.Join(errs...)
}

// passwordDecoder turns pw_codec into a decoder of User-Password bytes;
// nil is radiusd's strict UTF-8.
func passwordDecoder(codec string) (func([]byte) (string, error), error) {
	switch codec {
	case "", "utf-8":
		return nil, nil
	case "ascii":
		return func(b []byte) (string, error) {
			for _, c := range b {
				if c >= 0x80 {
					return "", errors.New("not ASCII")
				}
			}
			return string(b), nil
		}, nil
	case "latin-1":
		return charmapDecoder(charmap.ISO8859_1), nil
	case "cp1252":
		return charmapDecoder(charmap.Windows1252), nil
	}
	return nil, fmt.Errorf("pw_codec %q is not supported", codec)
}

func charmapDecoder(cm *charmap.Charmap) func([]byte) (string, error) {
	return func(b []byte) (string, error) {
		s, err := cm.NewDecoder().Bytes(b)
		if err != nil {
			return "", err
		}
		// Bytes a code page leaves undefined come out as U+FFFD.
		if !utf8.Valid(s) || containsRune(s, utf8.RuneError) {
			return "", errors.New("undefined character in the code page")
		}
		return string(s), nil
	}
}

func containsRune(b []byte, r rune) bool {
	for len(b) > 0 {
		c, n := utf8.DecodeRune(b)
		if c == r {
			return true
		}
		b = b[n:]
	}
	return false
}

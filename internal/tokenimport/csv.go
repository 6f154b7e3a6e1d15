package tokenimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/assent-auth/assent/internal/yubiotp"
)

// Options say how to read a CSV file.
type Options struct {
	// Type is the token type of every line (h6, h8, t6, t8 or yk), as
	// Duo's Admin Panel asks for it before the CSV data; a "type" column
	// overrides it line by line.
	Type string
	// Step is the TOTP time step when no column gives one (default 30).
	Step int
	// SecretEncoding is how HOTP/TOTP secrets are written: EncodingAuto
	// (hex, or base32 when a secret is not hex), EncodingHex or
	// EncodingBase32. A "hex:" or "base32:" mark on a value, or a column
	// named secret_base32, overrides it.
	SecretEncoding string
}

// Column names, after normalization (lower case, letters and digits only).
const (
	colSerial    = "serial"
	colType      = "type"
	colSecret    = "secret"
	colSecret32  = "secret_base32"
	colCounter   = "counter"
	colStep      = "step"
	colPublicID  = "public_id"
	colPrivateID = "private_id"
	colAESKey    = "aes_key"
)

var columnAliases = map[string]string{
	"serial": colSerial, "serialnumber": colSerial, "serialno": colSerial, "serialnr": colSerial,
	"sn": colSerial, "tokenserial": colSerial, "tokenserialnumber": colSerial,
	"type": colType, "tokentype": colType,
	"secret": colSecret, "secrethex": colSecret, "secretkey": colSecret, "seed": colSecret,
	"seedhex": colSecret, "key": colSecret, "hotpsecret": colSecret, "totpsecret": colSecret,
	"secretbase32": colSecret32, "seedbase32": colSecret32, "secretkeybase32": colSecret32,
	"counter": colCounter, "count": colCounter, "movingfactor": colCounter, "hotpcounter": colCounter,
	"step": colStep, "totpstep": colStep, "timestep": colStep, "interval": colStep,
	"timeinterval": colStep, "period": colStep,
	"publicid": colPublicID, "publicidentity": colPublicID, "publicname": colPublicID,
	"privateid": colPrivateID, "privateidentity": colPrivateID, "internalname": colPrivateID,
	"aeskey": colAESKey, "aes": colAESKey,
}

// normalizeName lowers s and keeps letters and digits, after dropping a
// parenthesized remark: "Secret (hex)" → "secret", "AES key" → "aeskey".
func normalizeName(s string) string {
	if i := strings.IndexByte(s, '('); i >= 0 {
		if strings.Contains(strings.ToLower(s[i:]), "base32") {
			s = s[:i] + "base32"
		} else {
			s = s[:i]
		}
	}
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// normalizeType maps the spellings of a token type to Duo's names.
func normalizeType(s string) string {
	switch n := normalizeName(s); n {
	case "h6", "hotp6", "hotp", "hotp6digit", "hotp6digits":
		return TypeHOTP6
	case "h8", "hotp8", "hotp8digit", "hotp8digits":
		return TypeHOTP8
	case "t6", "totp6", "totp", "totp6digit", "totp6digits":
		return TypeTOTP6
	case "t8", "totp8", "totp8digit", "totp8digits":
		return TypeTOTP8
	case "yk", "yubikey", "yubikeyaes", "yubicootp":
		return TypeYubiKey
	default:
		return n
	}
}

const maxFields = 64

// ParseCSV reads hardware tokens, one a line, in the forms Duo's token
// import and vendors' seed files use (# starts a comment line):
//
//	h6, h8 (HOTP):  serial,secret[,counter]
//	t6, t8 (TOTP):  serial,secret[,step]
//	yk (YubiKey):   serial,public_id,private_id,aes_key[,…]
//
// The yk form is also Yubico's YK-KSM key provisioning format
// (serialNr,publicName,internalName,aesKey,lockCode,created,accessed),
// whose trailing columns are ignored. Secrets, private identities and AES
// keys are hex; a public identity is modhex, and required: Assent finds a
// YubiKey by the public identity its OTPs start with (Duo's three-column
// serial,private_id,aes_key form lacks it and is refused with that reason).
//
// A first line naming the columns (serial, type, secret, secret_base32,
// counter, step, public_id, private_id, aes_key, and common spellings
// such as "Serial Number" or "Secret (hex)") replaces the positions; other
// columns are ignored. With a type column, each line may have its own type.
//
// Every problem is reported with its line number in an *Error; no token is
// returned then.
func ParseCSV(r io.Reader, opts Options) ([]Token, error) {
	var ps problems
	if opts.Type != "" {
		opts.Type = normalizeType(opts.Type)
		if !ValidType(opts.Type) {
			ps.add(0, "unknown token type %q (want h6, h8, t6, t8 or yk)", opts.Type)
			return nil, ps.err()
		}
	}
	if opts.Step == 0 {
		opts.Step = DefaultStep
	}
	if opts.Step < 1 || opts.Step > MaxStep {
		ps.add(0, "TOTP step %d out of range 1..%d", opts.Step, MaxStep)
		return nil, ps.err()
	}
	switch opts.SecretEncoding {
	case EncodingAuto, EncodingHex, EncodingBase32:
	default:
		ps.add(0, "unknown secret encoding %q (want hex or base32)", opts.SecretEncoding)
		return nil, ps.err()
	}

	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tokenimport: reading CSV: %w", err)
	}
	if len(data) > MaxFileSize {
		ps.add(0, "file larger than %d bytes", MaxFileSize)
		return nil, ps.err()
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))

	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.LazyQuotes = true
	cr.ReuseRecord = true

	var (
		tokens []Token
		header map[string]int // column → index, nil when positional
		first  = true
		seen   = map[string]int{} // type/serial → line
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				ps.add(pe.Line, "%v", pe.Err)
				continue
			}
			ps.add(line, "%v", err)
			break
		}
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		if len(rec) > maxFields {
			ps.add(line, "%d fields, at most %d", len(rec), maxFields)
			continue
		}
		if allEmpty(rec) {
			continue
		}
		if first {
			first = false
			if h, ok := parseHeader(rec); ok {
				header = h
				if opts.Type == "" {
					if _, ok := header[colType]; !ok {
						ps.add(line, "no token type: give one (h6, h8, t6, t8 or yk) or add a type column")
						return nil, ps.err()
					}
				}
				continue
			}
			if opts.Type == "" {
				ps.add(0, "no token type: give one (h6, h8, t6, t8 or yk) or start the file with a header naming a type column")
				return nil, ps.err()
			}
		}
		if len(tokens) >= MaxTokens {
			ps.add(line, "more than %d tokens in one file", MaxTokens)
			break
		}
		t, ok := parseRecord(rec, header, opts, line, &ps)
		if !ok {
			continue
		}
		k := t.Type + "/" + t.Serial
		if prev, dup := seen[k]; dup {
			ps.add(line, "serial %q (%s) already on line %d", t.Serial, t.Type, prev)
			continue
		}
		seen[k] = line
		tokens = append(tokens, t)
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		ps.add(0, "no tokens in the file")
		return nil, ps.err()
	}
	return tokens, nil
}

func allEmpty(rec []string) bool {
	for _, f := range rec {
		if f != "" {
			return false
		}
	}
	return true
}

// parseHeader recognizes a header line: one of its fields names the
// serial column. Unknown columns are kept out of the map (ignored).
func parseHeader(rec []string) (map[string]int, bool) {
	h := map[string]int{}
	for i, f := range rec {
		if col, ok := columnAliases[normalizeName(f)]; ok {
			if _, dup := h[col]; !dup {
				h[col] = i
			}
		}
	}
	_, ok := h[colSerial]
	return h, ok
}

// positions gives the columns of a line without a header, by type and
// number of fields.
func positions(typ string, n int) (map[string]int, error) {
	switch {
	case IsHOTP(typ):
		if n < 2 || n > 3 {
			return nil, fmt.Errorf("%d fields, want serial,secret[,counter]", n)
		}
		return map[string]int{colSerial: 0, colSecret: 1, colCounter: 2}, nil
	case IsTOTP(typ):
		if n < 2 || n > 3 {
			return nil, fmt.Errorf("%d fields, want serial,secret[,step]", n)
		}
		return map[string]int{colSerial: 0, colSecret: 1, colStep: 2}, nil
	case typ == TypeYubiKey:
		switch {
		case n == 3:
			return map[string]int{colSerial: 0, colPrivateID: 1, colAESKey: 2}, nil
		case n >= 4:
			return map[string]int{colSerial: 0, colPublicID: 1, colPrivateID: 2, colAESKey: 3}, nil
		}
		return nil, fmt.Errorf("%d fields, want serial,public_id,private_id,aes_key", n)
	}
	return nil, fmt.Errorf("unknown token type %q", typ)
}

// parseRecord turns one line into a token, adding its problems to ps.
func parseRecord(rec []string, header map[string]int, opts Options, line int, ps *problems) (Token, bool) {
	field := func(cols map[string]int, name string) string {
		if i, ok := cols[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	typ := opts.Type
	if header != nil {
		if v := field(header, colType); v != "" {
			typ = normalizeType(v)
			if !ValidType(typ) {
				ps.add(line, "unknown token type %q (want h6, h8, t6, t8 or yk)", v)
				return Token{}, false
			}
		}
		if typ == "" {
			ps.add(line, "no token type")
			return Token{}, false
		}
	}
	cols := header
	if cols == nil {
		var err error
		if cols, err = positions(typ, len(rec)); err != nil {
			ps.add(line, "%v", err)
			return Token{}, false
		}
	}

	ok := true
	bad := func(format string, args ...any) {
		ps.add(line, format, args...)
		ok = false
	}
	t := Token{Serial: field(cols, colSerial), Type: typ}
	if err := checkSerial(t.Serial); err != nil {
		bad("%v", err)
	}
	switch {
	case IsHOTP(typ) || IsTOTP(typ):
		enc, raw := opts.SecretEncoding, field(cols, colSecret)
		if raw == "" {
			if raw = field(cols, colSecret32); raw != "" {
				enc = EncodingBase32
			}
		}
		if raw == "" {
			bad("secret is missing")
		} else if s, err := decodeSecret(raw, enc); err != nil {
			bad("secret %v", err)
		} else if err := checkOATHSecret(s); err != nil {
			bad("%v", err)
		} else {
			t.Secret = s
		}
		if IsHOTP(typ) {
			if v := field(cols, colCounter); v != "" {
				c, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					bad("counter %q is not a whole number", v)
				} else if c > MaxCounter {
					bad("counter %s is too large (at most %d)", v, uint64(MaxCounter))
				}
				t.Counter = c
			}
		} else {
			t.Step = opts.Step
			if v := field(cols, colStep); v != "" {
				s, err := strconv.Atoi(v)
				if err != nil || s < 1 || s > MaxStep {
					bad("TOTP step %q is not a number of seconds in 1..%d", v, MaxStep)
				}
				t.Step = s
			}
		}
	case typ == TypeYubiKey:
		if v := field(cols, colPublicID); v == "" {
			bad("public id is missing (a YubiKey is found by the modhex public id its OTPs start with)")
		} else {
			if len(v) > 2*yubiotp.MaxPublicIDLen {
				bad("public id of %d characters is too long (at most %d modhex characters)", len(v), 2*yubiotp.MaxPublicIDLen)
			} else if _, err := yubiotp.ModhexDecode(v); err != nil {
				bad("public id %q is %v", v, err)
			} else {
				t.PublicID = strings.ToLower(v)
			}
		}
		if v := field(cols, colPrivateID); v == "" {
			bad("private id is missing")
		} else if b, err := decodeHex(v); err != nil {
			bad("private id %v", err)
		} else if len(b) != yubiotp.PrivateIDLen {
			bad("private id of %d bytes, want %d (12 hex characters)", len(b), yubiotp.PrivateIDLen)
		} else {
			t.PrivateID = b
		}
		key := field(cols, colAESKey)
		if key == "" {
			// A header naming the AES key "Secret Key", as Yubico's tools do.
			key = field(cols, colSecret)
		}
		if key == "" {
			bad("AES key is missing")
		} else if b, err := decodeHex(key); err != nil {
			bad("AES key %v", err)
		} else if len(b) != yubiotp.KeyLen {
			bad("AES key of %d bytes, want %d (32 hex characters)", len(b), yubiotp.KeyLen)
		} else {
			t.AESKey = b
		}
	}
	return t, ok
}

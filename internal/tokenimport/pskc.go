package tokenimport

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"
	"unicode"
)

// PSKC (RFC 6030) names.
const (
	pskcNamespace = "urn:ietf:params:xml:ns:keyprov:pskc"
	xmlencNS      = "http://www.w3.org/2001/04/xmlenc#"
	// MaxPSKCDepth bounds the nesting of elements.
	MaxPSKCDepth = 32
	// maxPSKCElements bounds the elements of one file.
	maxPSKCElements = 2_000_000
)

// macAlgorithms are the MACMethod algorithms understood, by URI.
var macAlgorithms = map[string]func() hash.Hash{
	"http://www.w3.org/2000/09/xmldsig#hmac-sha1":        sha1.New,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha224": sha256.New224,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256": sha256.New,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha384": sha512.New384,
	"http://www.w3.org/2001/04/xmldsig-more#hmac-sha512": sha512.New,
}

// cbcKeySizes are the xmlenc AES-CBC algorithms, by URI, with their key size.
var cbcKeySizes = map[string]int{
	xmlencNS + "aes128-cbc": 16,
	xmlencNS + "aes192-cbc": 24,
	xmlencNS + "aes256-cbc": 32,
}

type pskcEncrypted struct {
	Method struct {
		Algorithm string `xml:"Algorithm,attr"`
	} `xml:"EncryptionMethod"`
	CipherValue string `xml:"CipherData>CipherValue"`
}

type pskcValue struct {
	PlainValue     *string        `xml:"PlainValue"`
	EncryptedValue *pskcEncrypted `xml:"EncryptedValue"`
	ValueMAC       string         `xml:"ValueMAC"`
}

type pskcKeyPackage struct {
	SerialNo string `xml:"DeviceInfo>SerialNo"`
	Key      *struct {
		ID        string `xml:"Id,attr"`
		Algorithm string `xml:"Algorithm,attr"`
		Suite     string `xml:"AlgorithmParameters>Suite"`
		Response  *struct {
			Length   string `xml:"Length,attr"`
			Encoding string `xml:"Encoding,attr"`
		} `xml:"AlgorithmParameters>ResponseFormat"`
		KeyReference string `xml:"KeyReference"`
		Data         struct {
			Secret       *pskcValue `xml:"Secret"`
			Counter      *pskcValue `xml:"Counter"`
			Time         *pskcValue `xml:"Time"`
			TimeInterval *pskcValue `xml:"TimeInterval"`
			TimeDrift    *pskcValue `xml:"TimeDrift"`
		} `xml:"Data"`
	} `xml:"Key"`
}

type pskcMACMethod struct {
	Algorithm string         `xml:"Algorithm,attr"`
	MACKey    *pskcEncrypted `xml:"MACKey"`
}

type pskcEncryptionKey struct {
	KeyName string `xml:"KeyName"`
	// DerivedKey (PBKDF2 from a password): the derived key may be given
	// as the pre-shared key.
	DerivedKey *struct{} `xml:"DerivedKey"`
	X509Data   *struct{} `xml:"X509Data"`
}

// ParsePSKC reads an RFC 6030 KeyContainer: HOTP keys
// (urn:ietf:params:xml:ns:keyprov:pskc:hotp, with Counter) and TOTP keys
// (…:pskc:totp, with TimeInterval), 6 or 8 digits (ResponseFormat Length,
// 6 when absent), HMAC-SHA1. Secrets are plain (PlainValue, base64) or
// encrypted with a pre-shared key (EncryptedValue, AES-CBC with the IV
// before the ciphertext), which key must then be (for a file encrypted
// with a key derived from a password, the derived key); an encrypted secret's
// ValueMAC is checked with the container's MACMethod key (itself encrypted
// with the pre-shared key) over the IV and ciphertext. A token's serial is
// its DeviceInfo SerialNo, else its Key Id.
//
// PIN keys (…:pskc:pin) are skipped: the device checks its PIN itself.
// Public-key encryption, key derivation by
// KeyReference and other algorithms are reported as problems. Every
// problem is reported, with the line of its KeyPackage, in an *Error, and
// no token is returned then.
func ParsePSKC(r io.Reader, key []byte) ([]Token, error) {
	var ps problems
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("tokenimport: reading PSKC: %w", err)
	}
	if len(data) > MaxFileSize {
		ps.add(0, "file larger than %d bytes", MaxFileSize)
		return nil, ps.err()
	}
	if line, err := checkXMLShape(data); err != nil {
		ps.add(line, "%v", err)
		return nil, ps.err()
	}

	p := pskcParser{psk: key, ps: &ps, serials: map[string]int{}}
	d := xml.NewDecoder(bytes.NewReader(data))
	depth, root := 0, false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, _ := d.InputPos()
			ps.add(line, "not well-formed XML: %v", err)
			return nil, ps.err()
		}
		switch se := tok.(type) {
		case xml.StartElement:
			line, _ := d.InputPos()
			depth++
			if depth == 1 {
				root = true
				if err := checkRoot(se); err != nil {
					ps.add(line, "%v", err)
					return nil, ps.err()
				}
				continue
			}
			if depth != 2 {
				continue
			}
			switch se.Name.Local {
			case "EncryptionKey":
				var ek pskcEncryptionKey
				if err := d.DecodeElement(&ek, &se); err != nil {
					ps.add(line, "EncryptionKey: %v", err)
				} else {
					p.encryptionKey(line, ek)
				}
				depth--
			case "MACMethod":
				var mm pskcMACMethod
				if err := d.DecodeElement(&mm, &se); err != nil {
					ps.add(line, "MACMethod: %v", err)
				} else {
					p.macMethod(line, mm)
				}
				depth--
			case "KeyPackage":
				var kp pskcKeyPackage
				if err := d.DecodeElement(&kp, &se); err != nil {
					ps.add(line, "KeyPackage: %v", err)
				} else {
					p.keyPackage(line, kp)
				}
				depth--
			case "Signature":
				// An enveloped signature (RFC 6030 §7) is not checked:
				// the file's origin is the administrator's to trust.
			}
		case xml.EndElement:
			depth--
		}
	}
	if !root {
		ps.add(0, "not a PSKC file: no KeyContainer element")
		return nil, ps.err()
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	if len(p.tokens) == 0 {
		ps.add(0, "no HOTP or TOTP key in the file")
		return nil, ps.err()
	}
	return p.tokens, nil
}

// checkXMLShape refuses documents nested deeper than MaxPSKCDepth or with
// too many elements, before anything is decoded into structures.
func checkXMLShape(data []byte) (int, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	depth, n := 0, 0
	for {
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			if depth != 0 {
				line, _ := d.InputPos()
				return line, errors.New("not well-formed XML: unexpected end of file")
			}
			return 0, nil
		}
		if err != nil {
			line, _ := d.InputPos()
			return line, fmt.Errorf("not well-formed XML: %v", err)
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
			n++
			if depth > MaxPSKCDepth {
				line, _ := d.InputPos()
				return line, fmt.Errorf("elements nested deeper than %d", MaxPSKCDepth)
			}
			if n > maxPSKCElements {
				line, _ := d.InputPos()
				return line, fmt.Errorf("more than %d elements", maxPSKCElements)
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			// A DTD could declare entities; PSKC has no use for one.
			line, _ := d.InputPos()
			return line, errors.New("a DOCTYPE or other directive is not allowed in a PSKC file")
		}
	}
}

func checkRoot(se xml.StartElement) error {
	if se.Name.Local != "KeyContainer" {
		return fmt.Errorf("root element is <%s>, want <KeyContainer> (RFC 6030 PSKC)", se.Name.Local)
	}
	if !strings.HasPrefix(se.Name.Space, pskcNamespace) {
		return fmt.Errorf("KeyContainer namespace is %q, want %q", se.Name.Space, pskcNamespace)
	}
	for _, a := range se.Attr {
		if a.Name.Local == "Version" && a.Name.Space == "" && a.Value != "1.0" {
			return fmt.Errorf("KeyContainer Version %q, want 1.0", a.Value)
		}
	}
	return nil
}

type pskcParser struct {
	psk []byte
	ps  *problems
	// encrypted: the container names an encryption key.
	encrypted bool
	keyName   string
	// macKey and macHash check ValueMACs; macErr says why there is none.
	macKey  []byte
	macHash func() hash.Hash
	macErr  string
	tokens  []Token
	serials map[string]int // type/serial → line
	nKeys   int
}

func (p *pskcParser) encryptionKey(line int, ek pskcEncryptionKey) {
	p.encrypted = true
	p.keyName = strings.TrimSpace(ek.KeyName)
	switch {
	case ek.DerivedKey != nil && len(p.psk) == 0:
		p.ps.add(line, "the file is encrypted with a key derived from a password (PBKDF2): give the derived key (--key HEX)")
	case ek.X509Data != nil:
		p.ps.add(line, "the file is encrypted to a certificate's public key; only pre-shared-key encryption is supported")
	case len(p.psk) == 0:
		name := ""
		if p.keyName != "" {
			name = fmt.Sprintf(" (named %q in the file)", p.keyName)
		}
		p.ps.add(line, "the file is encrypted with a pre-shared key%s: give it (--key HEX)", name)
	}
}

func (p *pskcParser) macMethod(line int, mm pskcMACMethod) {
	h, ok := macAlgorithms[strings.TrimSpace(mm.Algorithm)]
	if !ok {
		p.macErr = "unsupported MACMethod"
		p.ps.add(line, "MACMethod algorithm %q is not supported (HMAC-SHA1, -SHA224, -SHA256, -SHA384, -SHA512 are)", mm.Algorithm)
		return
	}
	if mm.MACKey == nil {
		p.macErr = "no MACKey"
		p.ps.add(line, "MACMethod has no MACKey")
		return
	}
	if len(p.psk) == 0 {
		p.macErr = "no pre-shared key"
		return // reported with EncryptionKey, or with the first encrypted value
	}
	k, err := p.decrypt(*mm.MACKey)
	if err != nil {
		p.macErr = "undecryptable MACKey"
		p.ps.add(line, "MAC key: %v", err)
		return
	}
	p.macKey, p.macHash = k, h
}

// errNoKey reports an encrypted value read without a key.
var errNoKey = errors.New("the value is encrypted: give the pre-shared key (--key HEX)")

// decrypt decrypts an xmlenc AES-CBC value with the pre-shared key. It
// returns the plaintext; the caller checks the MAC over the CipherValue.
func (p *pskcParser) decrypt(ev pskcEncrypted) ([]byte, error) {
	pt, _, err := p.decryptRaw(ev)
	return pt, err
}

func (p *pskcParser) decryptRaw(ev pskcEncrypted) (plain, cipherValue []byte, err error) {
	alg := strings.TrimSpace(ev.Method.Algorithm)
	size, ok := cbcKeySizes[alg]
	if !ok {
		return nil, nil, fmt.Errorf("encryption algorithm %q is not supported (AES-128/192/256-CBC are)", alg)
	}
	if len(p.psk) == 0 {
		return nil, nil, errNoKey
	}
	if len(p.psk) != size {
		return nil, nil, fmt.Errorf("the pre-shared key has %d bytes, %s needs %d", len(p.psk), alg[len(xmlencNS):], size)
	}
	cv, err := decodeBase64(ev.CipherValue)
	if err != nil {
		return nil, nil, fmt.Errorf("CipherValue %v", err)
	}
	if len(cv) < 2*aes.BlockSize || len(cv)%aes.BlockSize != 0 {
		return nil, nil, fmt.Errorf("CipherValue of %d bytes is not an IV and whole AES blocks", len(cv))
	}
	block, err := aes.NewCipher(p.psk)
	if err != nil {
		return nil, nil, err
	}
	pt := make([]byte, len(cv)-aes.BlockSize)
	cipher.NewCBCDecrypter(block, cv[:aes.BlockSize]).CryptBlocks(pt, cv[aes.BlockSize:])
	// XML Encryption padding: the last byte gives the padding length.
	n := int(pt[len(pt)-1])
	if n < 1 || n > aes.BlockSize {
		return nil, nil, errors.New("bad padding after decryption (wrong pre-shared key?)")
	}
	return pt[:len(pt)-n], cv, nil
}

// value returns the bytes of a PlainValue (base64) or EncryptedValue,
// checking the ValueMAC of an encrypted one.
func (p *pskcParser) value(v *pskcValue) ([]byte, error) {
	switch {
	case v.PlainValue != nil:
		return decodeBase64(*v.PlainValue)
	case v.EncryptedValue != nil:
		pt, cv, err := p.decryptRaw(*v.EncryptedValue)
		if err != nil {
			return nil, err
		}
		mac := strings.TrimSpace(v.ValueMAC)
		if mac == "" {
			return nil, errors.New("encrypted value without a ValueMAC")
		}
		if p.macKey == nil {
			if p.macErr == "" {
				return nil, errors.New("encrypted value with a ValueMAC but no MACMethod in the container")
			}
			return nil, fmt.Errorf("cannot check the ValueMAC (%s)", p.macErr)
		}
		want, err := decodeBase64(mac)
		if err != nil {
			return nil, fmt.Errorf("ValueMAC %v", err)
		}
		m := hmac.New(p.macHash, p.macKey)
		m.Write(cv)
		if !hmac.Equal(m.Sum(nil), want) {
			return nil, errors.New("ValueMAC does not match (wrong pre-shared key, or the file was altered)")
		}
		return pt, nil
	}
	return nil, errors.New("neither PlainValue nor EncryptedValue")
}

// intValue reads a PSKC integer (Counter, TimeInterval, Time): a decimal
// PlainValue, or an encrypted big-endian integer.
func (p *pskcParser) intValue(v *pskcValue) (uint64, error) {
	if v.PlainValue != nil {
		n, err := strconv.ParseUint(strings.TrimSpace(*v.PlainValue), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q is not a whole number", strings.TrimSpace(*v.PlainValue))
		}
		return n, nil
	}
	b, err := p.value(v)
	if err != nil {
		return 0, err
	}
	if len(b) > 8 {
		return 0, fmt.Errorf("encrypted integer of %d bytes", len(b))
	}
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return n, nil
}

func (p *pskcParser) keyPackage(line int, kp pskcKeyPackage) {
	k := kp.Key
	if k == nil {
		p.ps.add(line, "KeyPackage without a Key")
		return
	}
	alg := strings.ToLower(strings.TrimSpace(k.Algorithm))
	if i := strings.LastIndexAny(alg, ":#"); i >= 0 {
		alg = alg[i+1:]
	}
	serial := strings.TrimSpace(kp.SerialNo)
	if serial == "" {
		serial = strings.TrimSpace(k.ID)
	}
	where := fmt.Sprintf("key %q", k.ID)
	if serial != "" {
		where = fmt.Sprintf("key %q (serial %q)", k.ID, serial)
	}
	bad := func(format string, args ...any) { p.ps.add(line, where+": "+format, args...) }

	if alg == "pin" {
		return
	}
	if alg != "hotp" && alg != "totp" {
		bad("algorithm %q is not supported (HOTP and TOTP are)", k.Algorithm)
		return
	}
	p.nKeys++
	if p.nKeys > MaxTokens {
		if p.nKeys == MaxTokens+1 {
			p.ps.add(line, "more than %d keys in one file", MaxTokens)
		}
		return
	}
	ok := true
	fail := func(format string, args ...any) { bad(format, args...); ok = false }

	if err := checkSerial(serial); err != nil {
		fail("%v (no SerialNo nor Key Id)", err)
	}
	digits := 6
	if rf := k.Response; rf != nil {
		if enc := strings.TrimSpace(rf.Encoding); enc != "" && !strings.EqualFold(enc, "DECIMAL") {
			fail("ResponseFormat Encoding %q is not supported (DECIMAL is)", enc)
		}
		switch strings.TrimSpace(rf.Length) {
		case "6":
		case "8":
			digits = 8
		default:
			fail("ResponseFormat Length %q is not supported (6 or 8 digits)", rf.Length)
		}
	}
	if s := strings.TrimSpace(k.Suite); s != "" && !strings.EqualFold(strings.ReplaceAll(s, "-", ""), "HMACSHA1") {
		fail("suite %q is not supported (HMAC-SHA1 is)", s)
	}
	t := Token{Serial: serial}
	switch {
	case alg == "hotp" && digits == 6:
		t.Type = TypeHOTP6
	case alg == "hotp":
		t.Type = TypeHOTP8
	case digits == 6:
		t.Type = TypeTOTP6
	default:
		t.Type = TypeTOTP8
	}

	switch {
	case k.Data.Secret != nil:
		s, err := p.value(k.Data.Secret)
		if errors.Is(err, errNoKey) && p.encrypted {
			ok = false // reported once, with the EncryptionKey
		} else if err != nil {
			fail("secret: %v", err)
		} else if err := checkOATHSecret(s); err != nil {
			fail("%v", err)
		} else {
			t.Secret = s
		}
	case strings.TrimSpace(k.KeyReference) != "":
		fail("no secret: keys derived from a master key (KeyReference) are not supported")
	default:
		fail("no secret")
	}
	if alg == "hotp" {
		if k.Data.Counter != nil {
			c, err := p.intValue(k.Data.Counter)
			if err != nil {
				fail("counter: %v", err)
			} else if c > MaxCounter {
				fail("counter %d is too large (at most %d)", c, uint64(MaxCounter))
			}
			t.Counter = c
		}
	} else {
		t.Step = DefaultStep
		if k.Data.TimeInterval != nil {
			s, err := p.intValue(k.Data.TimeInterval)
			switch {
			case err != nil:
				fail("time interval: %v", err)
			case s < 1 || s > MaxStep:
				fail("time interval %d out of range 1..%d seconds", s, MaxStep)
			default:
				t.Step = int(s)
			}
		}
		if k.Data.Time != nil {
			if t0, err := p.intValue(k.Data.Time); err != nil {
				fail("time: %v", err)
			} else if t0 != 0 {
				fail("time origin (Time) %d is not supported (TOTP counts from 0, the Unix epoch)", t0)
			}
		}
	}
	if !ok {
		return
	}
	key := t.Type + "/" + t.Serial
	if prev, dup := p.serials[key]; dup {
		bad("serial %q (%s) already used by the key package on line %d", t.Serial, t.Type, prev)
		return
	}
	p.serials[key] = line
	p.tokens = append(p.tokens, t)
}

// decodeBase64 decodes standard base64, ignoring white space (PSKC files
// wrap long values).
func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return nil, errors.New("is empty")
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if b, err2 := base64.RawStdEncoding.DecodeString(s); err2 == nil {
			return b, nil
		}
		return nil, fmt.Errorf("is not base64 (%d characters)", len(s))
	}
	return b, nil
}

package tokenimport

import (
	"strings"
	"testing"
)

func TestParseCSV(t *testing.T) {
	t.Parallel()
	const b32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // base32 of "12345678901234567890"
	tests := []struct {
		name string
		opts Options
		in   string
		want []string // tokenString of each token
	}{
		{"hotp, Duo's form", Options{Type: "h6"}, "S1," + rfcSecret + "\nS2," + rfcSecret + ",42\n",
			[]string{"h6 S1 " + rfcSecret + " c=0 s=0   ", "h6 S2 " + rfcSecret + " c=42 s=0   "}},
		{"hotp 8, comments, blank lines, CRLF, BOM, spaces", Options{Type: "h8"},
			"\ufeff# seeds from the vendor\r\n\r\n S1 , " + strings.ToUpper(rfcSecret) + " , 7 \r\n",
			[]string{"h8 S1 " + rfcSecret + " c=7 s=0   "}},
		{"totp with default and given steps", Options{Type: "t6"}, "T1," + rfcSecret + "\nT2," + rfcSecret + ",60\n",
			[]string{"t6 T1 " + rfcSecret + " c=0 s=30   ", "t6 T2 " + rfcSecret + " c=0 s=60   "}},
		{"totp step option", Options{Type: "t8", Step: 60}, "T1," + rfcSecret + "\n",
			[]string{"t8 T1 " + rfcSecret + " c=0 s=60   "}},
		{"base32, unambiguous", Options{Type: "h6"}, "S1," + b32 + "\nS2," + strings.ToLower(b32) + "\n",
			[]string{"h6 S1 " + rfcSecret + " c=0 s=0   ", "h6 S2 " + rfcSecret + " c=0 s=0   "}},
		{"base32 marked and dashed", Options{Type: "h6"}, "S1,base32:GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ\n",
			[]string{"h6 S1 " + rfcSecret + " c=0 s=0   "}},
		{"base32 by option", Options{Type: "h6", SecretEncoding: "base32"}, "S1," + b32 + "\n",
			[]string{"h6 S1 " + rfcSecret + " c=0 s=0   "}},
		{"hex mark", Options{Type: "h6", SecretEncoding: "base32"}, "S1,hex:" + rfcSecret + "\n",
			[]string{"h6 S1 " + rfcSecret + " c=0 s=0   "}},
		{"yubikey, YK-KSM provisioning format", Options{Type: "yubikey"},
			"# ykksm 1\n" +
				"4711,dlcfffckrcde,ca62baca62ba,ecde18dbe76fbd0c33330f1c354871db,be70aeca62ba,2009-01-22 00:25:11,\n" +
				"4713,DLCFFFCKRCDEDLCF,ca62baca62ba,ecde18dbe76fbd0c33330f1c354871db,be70aeca62ba,2009-01-22 00:25:11,2009-02-13 00:05:40,0\n",
			[]string{
				"yk 4711  c=0 s=0 dlcfffckrcde ca62baca62ba ecde18dbe76fbd0c33330f1c354871db",
				"yk 4713  c=0 s=0 dlcfffckrcdedlcf ca62baca62ba ecde18dbe76fbd0c33330f1c354871db",
			}},
		{"header with type column and other columns", Options{},
			"Serial Number,Type,Secret (hex),Counter,Manufacturer,Public ID,Private ID,AES key\n" +
				"S1,h6," + rfcSecret + ",3,Acme,,,\n" +
				"S2,TOTP 8-digit," + rfcSecret + ",,Acme,,,\n" +
				"S3,yk,,,Yubico,vvcccccccccb,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db\n",
			[]string{"h6 S1 " + rfcSecret + " c=3 s=0   ", "t8 S2 " + rfcSecret + " c=0 s=30   ", "yk S3  c=0 s=0 vvcccccccccb 8792ebfe26cc ecde18dbe76fbd0c33330f1c354871db"}},
		{"header, base32 column, reordered", Options{Type: "t6"}, "secret_base32,interval,serial\n" + b32 + ",60,T9\n",
			[]string{"t6 T9 " + rfcSecret + " c=0 s=60   "}},
		{"header for yubikeys naming the AES key Secret Key", Options{Type: "yk"}, "serial,public id,private id,secret key\nY1,vvcccccccccb,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db\n",
			[]string{"yk Y1  c=0 s=0 vvcccccccccb 8792ebfe26cc ecde18dbe76fbd0c33330f1c354871db"}},
		{"same serial, other type", Options{}, "serial,type,secret\nS1,h6," + rfcSecret + "\nS1,t6," + rfcSecret + "\n",
			[]string{"h6 S1 " + rfcSecret + " c=0 s=0   ", "t6 S1 " + rfcSecret + " c=0 s=30   "}},
	}
	for _, tc := range tests {
		toks, err := ParseCSV(strings.NewReader(tc.in), tc.opts)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		var got []string
		for _, tk := range toks {
			got = append(got, tokenString(tk))
		}
		if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestParseCSVProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts Options
		in   string
		errs []string
	}{
		{"no type", Options{}, "S1," + rfcSecret + "\n", []string{"no token type: give one"}},
		{"header without type", Options{}, "serial,secret\nS1," + rfcSecret + "\n", []string{"line 1: no token type"}},
		{"bad type option", Options{Type: "sms"}, "S1,x\n", []string{`unknown token type "sms"`}},
		{"bad step option", Options{Type: "t6", Step: 100000}, "S1,x\n", []string{"TOTP step 100000 out of range"}},
		{"bad encoding option", Options{Type: "t6", SecretEncoding: "base64"}, "S1,x\n", []string{`unknown secret encoding "base64"`}},
		{"empty", Options{Type: "h6"}, "# nothing\n\n", []string{"no tokens in the file"}},
		{"every line's problems", Options{Type: "h6"},
			"S1," + rfcSecret + "\n" + // fine
				"S2\n" + // too few fields
				"S3,zz!!\n" + // neither hex nor base32
				"S4,31323334\n" + // too short
				"S5," + rfcSecret + ",-1\n" + // bad counter
				"S1," + rfcSecret + "\n" + // duplicate
				"," + rfcSecret + "\n" + // no serial
				"S8," + rfcSecret + ",1,2\n" + // too many fields
				"S9,abc\n" + // odd hex, not base32 either
				"S\x01," + rfcSecret + "\n" + // control character
				"S11,nope:" + rfcSecret + "\n" + // unknown mark
				"S12," + strings.Repeat("ab", 129) + "\n", // too long
			[]string{
				"line 2: 1 fields, want serial,secret[,counter]",
				"line 3: secret is neither hex nor base32",
				"line 4: secret of 4 bytes is too short",
				`line 5: counter "-1" is not a whole number`,
				`line 6: serial "S1" (h6) already on line 1`,
				"line 7: serial is empty",
				"line 8: 4 fields",
				"line 9: secret is neither hex nor base32",
				"line 10: serial",
				`line 11: secret unknown encoding mark "nope"`,
				"line 12: secret of 129 bytes is too long",
			}},
		{"hex forced", Options{Type: "h6", SecretEncoding: "hex"}, "S1,GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n", []string{"line 1: secret is not hex"}},
		{"totp step", Options{Type: "t6"}, "S1," + rfcSecret + ",0\nS2," + rfcSecret + ",abc\n",
			[]string{`line 1: TOTP step "0"`, `line 2: TOTP step "abc"`}},
		{"yubikey problems", Options{Type: "yk"},
			"Y1,vvcccccccccb,8792ebfe26,ecde18dbe76fbd0c33330f1c354871db\n" +
				"Y2,vvcccccccccb,8792ebfe26cc,ecde18dbe76fbd0c\n" +
				"Y3,xyz,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db\n" +
				"Y4,,,\n" +
				"Y5\n" +
				"Y6," + strings.Repeat("c", 34) + ",8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db\n" +
				"Y7,vvcccccccccb,8792ebfe26cg,ecde18dbe76fbd0c33330f1c354871dx\n" +
				"Y8,8792ebfe26cc,ecde18dbe76fbd0c33330f1c354871db\n" +
				"4712,,ca62baca62ba,ecde18dbe76fbd0c33330f1c354871db,be70aeca62ba,2009-01-22 00:25:11,2009-02-13 00:05:40\n",
			[]string{
				"line 1: private id of 5 bytes, want 6",
				"line 2: AES key of 8 bytes, want 16",
				`line 3: public id "xyz" is not modhex`,
				"line 4: public id is missing", "line 4: private id is missing", "line 4: AES key is missing",
				"line 5: 1 fields, want serial,public_id,private_id,aes_key",
				"line 6: public id of 34 characters is too long",
				"line 7: private id is not hex", "line 7: AES key is not hex",
				"line 8: public id is missing (a YubiKey is found by the modhex public id its OTPs start with)",
				"line 9: public id is missing",
			}},
		{"counter too large", Options{Type: "h6"}, "S1," + rfcSecret + ",4611686018427387905\n", []string{"line 1: counter 4611686018427387905 is too large"}},
		{"serial characters", Options{Type: "h6"}, "S 1," + rfcSecret + "\n" + strings.Repeat("s", 65) + "," + rfcSecret + "\n",
			[]string{`line 1: serial "S 1" has a character other than letters, digits and ._:/+-`, "line 2: serial of 65 bytes is too long"}},
		{"header, unknown type on a line", Options{}, "serial,type,secret\nS1,sms," + rfcSecret + "\nS2,," + rfcSecret + "\n",
			[]string{`line 2: unknown token type "sms"`, "line 3: no token type"}},
		{"too many fields", Options{Type: "h6"}, "S1," + strings.Repeat("x,", 70) + "\n", []string{"line 1: 72 fields, at most 64"}},
	}
	for _, tc := range tests {
		toks, err := ParseCSV(strings.NewReader(tc.in), tc.opts)
		checkProblems(t, tc.name, toks, err, tc.errs)
	}
}

func TestParseCSVLimits(t *testing.T) {
	t.Parallel()
	toks, err := ParseCSV(strings.NewReader(strings.Repeat("#", MaxFileSize+1)), Options{Type: "h6"})
	checkProblems(t, "too large", toks, err, []string{"file larger than"})

	// Problems past the first maxProblems are counted, not listed.
	var b strings.Builder
	for range maxProblems + 5 {
		b.WriteString("S,zz\n")
	}
	_, err = ParseCSV(strings.NewReader(b.String()), Options{Type: "h6"})
	e, ok := err.(*Error)
	if !ok || len(e.Problems) != maxProblems || e.More != 5 || !strings.Contains(err.Error(), "and 5 more") {
		t.Fatalf("problems beyond the limit: %v", err)
	}
}

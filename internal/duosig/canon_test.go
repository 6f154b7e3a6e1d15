package duosig

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
)

// Inputs of spec §1.10 vectors a)–c).
const (
	vecIKey = "DIWJ8X6AEYOR5OMC6TQ1"
	vecSKey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
	vecDate = "Tue, 21 Aug 2012 17:29:18 -0000"
	vecHost = "api-xxxxxxxx.duosecurity.com"
)

func TestCanonParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"zero", nil, ""},
		{"empty", url.Values{}, ""},
		{"one", url.Values{"realname": {"First Last"}}, "realname=First%20Last"},
		{"two", url.Values{"realname": {"First Last"}, "username": {"root"}}, "realname=First%20Last&username=root"},
		{"printable ascii", url.Values{
			"digits":      {"0123456789"},
			"letters":     {"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"},
			"punctuation": {"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"},
			"whitespace":  {"\t\n\x0b\x0c\r "},
		}, "digits=0123456789&letters=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ&punctuation=%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~&whitespace=%09%0A%0B%0C%0D%20"},
		{"common prefix", url.Values{"foo_bar": {"2"}, "foo": {"1"}}, "foo=1&foo_bar=2"},
		{"unicode values", url.Values{
			"bar": {"\u2815\uaaa3\u37cf\u4bb7\u36e9\ucc05\u668e\u8162\uc2bd\ua1f1"},
			"baz": {"\u0df3\u84bd\u5669\u9985\ub8a4\uac3a\u7be7\u6f69\u934a\ub91c"},
			"foo": {"\ud4ce\ud6d6\u7938\u50c0\u8a20\u8f15\ufd0b\u8024\u5cb3\uc655"},
			"qux": {"\u8b97\uc846-\u828e\u831a\uccca\ua2d4\u8c3e\ub8b2\u99be"},
		}, "bar=%E2%A0%95%EA%AA%A3%E3%9F%8F%E4%AE%B7%E3%9B%A9%EC%B0%85%E6%9A%8E%E8%85%A2%EC%8A%BD%EA%87%B1&baz=%E0%B7%B3%E8%92%BD%E5%99%A9%E9%A6%85%EB%A2%A4%EA%B0%BA%E7%AF%A7%E6%BD%A9%E9%8D%8A%EB%A4%9C&foo=%ED%93%8E%ED%9B%96%E7%A4%B8%E5%83%80%E8%A8%A0%E8%BC%95%EF%B4%8B%E8%80%A4%E5%B2%B3%EC%99%95&qux=%E8%AE%97%EC%A1%86-%E8%8A%8E%E8%8C%9A%EC%B3%8A%EA%8B%94%E8%B0%BE%EB%A2%B2%E9%A6%BE"},
		// Repeated keys (C# log paging) sort by encoded value.
		{"repeated key", url.Values{"next_offset": {"b", "a"}, "limit": {"10"}}, "limit=10&next_offset=a&next_offset=b"},
		// Sorting is on the encoded key: "%21" sorts before "A".
		{"encoded key order", url.Values{"A": {"1"}, "!": {"2"}, "~": {"3"}}, "%21=2&A=1&~=3"},
		{"empty value", url.Values{"a": {""}}, "a="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := CanonParams(tt.params); got != tt.want {
				t.Errorf("CanonParams = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestVectors checks spec §1.10 a)–c) and e).
func TestVectors(t *testing.T) {
	t.Parallel()
	accountList := url.Values{"realname": {"First Last"}, "username": {"root"}}
	check := Request{Method: "GET", Host: vecHost, Path: "/auth/v2/check", Date: vecDate}
	tests := []struct {
		name    string
		version int
		digest  Digest
		req     Request
		wantSig string // hex, or the full Authorization header if it starts with "Basic "
	}{
		{"a v2 sha512", 2, SHA512, Request{Method: "POST", Host: vecHost, Path: "/accounts/v1/account/list", Params: accountList, Date: vecDate},
			"Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MWJmZmI4OTI0MzQ4ZjdkYjdkYTllN2Q3ZDc0OWRlZDkzYWFmZDAyZDhlOTA0OTYwZGE3Yjk2YzU3NTEwMjIwMTg1YTY0YTI4MjdlZThmMjRhYzVkMzA4MDJhOWVlOTdlNTlkZTQ0YjMwNGIxODI0MmYwZDU5NmQxNWE4MTIyYWY="},
		{"a v2 sha1", 2, SHA1, Request{Method: "POST", Host: vecHost, Path: "/accounts/v1/account/list", Params: accountList, Date: vecDate},
			"2d97d6166319781b5a3a07af39d366f491234edc"},
		{"b v5", 5, SHA512, Request{Method: "POST", Host: vecHost, Path: "/accounts/v1/account/list",
			Params: url.Values{"realname": {"First Last"}}, Body: []byte(`{"txid":"f22b1678-252a-4070-b176-0ca2be7319fd"}`), Date: vecDate},
			"Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6NzhmNDMyN2Y4MzExNzNjYzc4ZDA5MDdlOTEzZTNjNWEyOGZlNzJkZDQ1NDVhMzQyNTg2YmI2NzE4MWYyYmEzOTNkMjA5MTFlODcwMzYyZjZmYWJhM2RjNmY3ZTlkYjVlOTNhZWQyZjNiZmMxMTBjNmRhZGFmZjRkYzYxNzllMGI="},
		{"c v1 sha1", 1, SHA1, check, "075d37d4c57312e3de480b2e0d7713c72a635bd1"},
		{"c v2 sha1", 2, SHA1, check, "7853b89caba1fc31caee236cdf1de4922fef899f"},
		{"c v2 sha512", 2, SHA512, check, "2da6ea8a7fcee59edeae46512da92c44be7fff870c34a93e219d487e2e49d790488b3a436d9175357799be45bc923a599cfce92b7178a58dd694f60a794d47e9"},
		{"c v5", 5, SHA512, check, "def3dd5beb009592aaa48072f086ab05547491e88c3afd99fa6177c0b697027e645df3a0580d41e9e62fbf503964079363491c744c4d574761f3cc9d3303ceda"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			canon, err := Canonicalize(tt.version, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			got := Sign(tt.digest, vecSKey, canon)
			if strings.HasPrefix(tt.wantSig, "Basic ") {
				got = Authorization(vecIKey, got)
			}
			if got != tt.wantSig {
				t.Errorf("canonical %q\n got %s\nwant %s", canon, got, tt.wantSig)
			}
		})
	}
}

func TestCanonicalizeLines(t *testing.T) {
	t.Parallel()
	const jsonString = `{"alpha":["a","b","c","d"],"data":"abc123","info":{"another":2,"test":1}}`
	bodyHash := sha512Hex([]byte(jsonString))
	base := Request{Method: "POST", Host: "foO.BaR52.cOm", Path: "/Foo/BaR2/qux", Body: []byte(jsonString)}
	tests := []struct {
		name    string
		version int
		date    string
		hdr     http.Header
		want    string
	}{
		{"v4", 4, "Tue, 04 Jul 2017 14:12:00", nil,
			"Tue, 04 Jul 2017 14:12:00\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n" + bodyHash},
		// Spec §1.10 e).
		{"v5 one header", 5, "Tue, 17 Nov 2020 14:12:00", http.Header{"X-Duo-Header-1": {"header_value_1"}},
			"Tue, 17 Nov 2020 14:12:00\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n" + bodyHash +
				"\n630b4bfe7e9abd03da2eee8f0a5d4e60a254ec880a839bcc2223bb5b9443e8ef24d58f0254f1f5934bf8c017ebd0fd5b1acf86766bdbe74185e712a4092df3ed"},
		{"v5 lowers then sorts", 5, "Tue, 17 Nov 2020 14:12:00", http.Header{"x-duo-A": {"header_value_1"}, "X-Duo-B": {"header_value_2"}},
			"Tue, 17 Nov 2020 14:12:00\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n" + bodyHash +
				"\n60be11a30e0756f2ee2afdce1db849b987dcf86c1133394bd7bbbc9877920330c4d78aceacbb377ab8cbd9a8efe6a410fed4047376635ac71226ab46ca10d2b1"},
		{"v5 ignores other headers", 5, "D", http.Header{"Content-Type": {"x"}},
			"D\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n" + bodyHash + "\n" + emptySHA512},
		{"v2 no params", 2, "D", nil, "D\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n"},
		{"v1 ignores date", 1, "D", nil, "POST\nfoo.bar52.com\n/Foo/BaR2/qux\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := base
			r.Date, r.XDuoHeaders = tt.date, tt.hdr
			got, err := Canonicalize(tt.version, r)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	for _, v := range []int{0, 3, 6, -1} {
		if _, err := Canonicalize(v, base); err == nil {
			t.Errorf("Canonicalize(%d) succeeded", v)
		}
	}
}

// unicodeVector is testdata/python_unicode_vector.json, spec §1.10 d).
type unicodeVector struct {
	Date, Host, Method, Path, SKey, IKey string
	Params                               url.Values
	CanonV1                              string `json:"canon_v1"`
	CanonV2                              string `json:"canon_v2"`
	SigSHA1                              string `json:"sig_v2_sha1"`
	SigSHA512                            string `json:"sig_v2_sha512"`
}

func loadUnicodeVector(t testing.TB) unicodeVector {
	b, err := os.ReadFile("testdata/python_unicode_vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var v unicodeVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestUnicodeVector(t *testing.T) {
	t.Parallel()
	v := loadUnicodeVector(t)
	r := Request{Method: v.Method, Host: v.Host, Path: v.Path, Params: v.Params, Date: v.Date}
	for _, c := range []struct {
		version int
		want    string
	}{{1, v.CanonV1}, {2, v.CanonV2}} {
		got, err := Canonicalize(c.version, r)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("v%d canonical:\n got %q\nwant %q", c.version, got, c.want)
		}
	}
	if got := Sign(SHA1, v.SKey, v.CanonV2); got != "f01811cbbf9561623ab45b893096267fd46a5178" || got != v.SigSHA1 {
		t.Errorf("SHA1 = %s", got)
	}
	if got := Sign(SHA512, v.SKey, v.CanonV2); got != v.SigSHA512 || !strings.HasPrefix(got, "0508065035a03b2a") {
		t.Errorf("SHA512 = %s", got)
	}
}

func TestCanonDevice(t *testing.T) {
	t.Parallel()
	got := CanonDevice(Request{Method: "get", Host: "API-X.example.com", Path: "/push/v2/device/transactions",
		Date: vecDate, Params: url.Values{"fips_status": {"1"}, "akey": {"DAKEY"}, "hsm_status": {"true"}, "name": {"a b"}}})
	want := vecDate + "\nGET\napi-x.example.com\n/push/v2/device/transactions\nakey=DAKEY&fips_status=1&hsm_status=true&name=a+b"
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

package adminapi

import (
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

func TestParsePaging(t *testing.T) {
	for _, tc := range []struct {
		q       string
		want    paging
		wantErr string
	}{
		{"", paging{Limit: 100}, ""},
		{"limit=300&offset=600", paging{Limit: 300, Offset: 600}, ""},
		{"limit=1000", paging{Limit: 300}, ""}, // cut to Duo's maximum
		{"limit=0", paging{}, "limit"},
		{"limit=x", paging{}, "limit"},
		{"offset=-1", paging{}, "offset"},
		{"offset=1e3", paging{}, "offset"},
	} {
		v, _ := url.ParseQuery(tc.q)
		got, err := parsePaging(v, defaultListLimit, maxListLimit)
		if tc.wantErr != "" {
			var e *httpapi.Error
			if !errors.As(err, &e) || e.Code != httpapi.CodeInvalidParams || e.Detail != tc.wantErr {
				t.Errorf("parsePaging(%q) = %v, want 40002 %s", tc.q, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parsePaging(%q) = %+v, %v; want %+v", tc.q, got, err, tc.want)
		}
	}
}

func TestMetaFor(t *testing.T) {
	for _, tc := range []struct {
		p              paging
		n, total       int
		next, prev     int // -1: absent
		wantTotalCheck int
	}{
		{paging{Limit: 100}, 100, 350, 100, -1, 350},
		{paging{Limit: 100, Offset: 300}, 50, 350, -1, 200, 350},
		{paging{Limit: 100, Offset: 400}, 0, 350, -1, 300, 350},
		{paging{Limit: 100}, 0, 0, -1, -1, 0},
	} {
		m := metaFor(tc.p, tc.n, tc.total)
		get := func(p *int) int {
			if p == nil {
				return -1
			}
			return *p
		}
		if get(m.NextOffset) != tc.next || get(m.PrevOffset) != tc.prev || m.TotalObjects != tc.wantTotalCheck {
			t.Errorf("metaFor(%+v, %d, %d) = next %d prev %d total %d", tc.p, tc.n, tc.total, get(m.NextOffset), get(m.PrevOffset), m.TotalObjects)
		}
	}
}

func TestParseAuthLogV2(t *testing.T) {
	const base = "mintime=1700000000500&maxtime=1700000100000"
	for _, tc := range []struct {
		name    string
		q       string
		check   func(q store.AuthLogQuery) bool
		wantErr bool
	}{
		{"defaults", base, func(q store.AuthLogQuery) bool {
			// ms rounded inward to whole seconds: ts*1000 >= mintime, ts*1000 <= maxtime.
			return q.Limit == 100 && q.Desc && q.Min.Equal(time.Unix(1700000001, 0)) && q.Max.Equal(time.Unix(1700000101, 0))
		}, false},
		{"asc, limit", base + "&sort=ts:asc&limit=1000", func(q store.AuthLogQuery) bool { return !q.Desc && q.Limit == 1000 }, false},
		{"next_offset comma-joined", base + "&next_offset=1700000050000,abc", func(q store.AuthLogQuery) bool {
			return q.After.Time.Equal(time.Unix(1700000050, 0)) && q.After.TxID == "abc"
		}, false},
		{"next_offset repeated", base + "&next_offset=1700000050000&next_offset=abc", func(q store.AuthLogQuery) bool {
			return q.After.TxID == "abc"
		}, false},
		{"filters repeated and joined", base + "&users=DU1&users=DU2,DU3&results=success&results=denied&factors=duo_mobile_passcode&applications[]=DIX",
			func(q store.AuthLogQuery) bool {
				return slices.Equal(q.UserIDs, []string{"DU1", "DU2", "DU3"}) && slices.Equal(q.Results, []string{"allow", "deny"}) &&
					slices.Equal(q.Factors, []string{"passcode"}) && slices.Equal(q.IKeys, []string{"DIX"})
			}, false},
		{"unknown filter value matches nothing", base + "&results=maybe", func(q store.AuthLogQuery) bool {
			return len(q.Results) == 1 && q.Results[0] != "maybe" && q.Results[0] != ""
		}, false},
		{"missing mintime", "maxtime=1700000100000", nil, true},
		{"missing maxtime", "mintime=1700000100000", nil, true},
		{"maxtime not after mintime", "mintime=5&maxtime=5", nil, true},
		{"seconds are not refused but negative is", "mintime=-1&maxtime=5", nil, true},
		{"limit too large", base + "&limit=1001", nil, true},
		{"bad sort", base + "&sort=user", nil, true},
		{"next_offset one value", base + "&next_offset=1700000050000", nil, true},
		{"next_offset not a number", base + "&next_offset=x,abc", nil, true},
		{"year 10000", "mintime=0&maxtime=253402300800000", nil, true},
	} {
		v, _ := url.ParseQuery(tc.q)
		q, err := parseAuthLogV2(v)
		if tc.wantErr {
			var e *httpapi.Error
			if !errors.As(err, &e) || e.Code != httpapi.CodeInvalidParams {
				t.Errorf("%s: err = %v, want 40002", tc.name, err)
			}
			continue
		}
		if err != nil || !tc.check(q) {
			t.Errorf("%s: %+v, %v", tc.name, q, err)
		}
	}
}

func TestParseMintime(t *testing.T) {
	for q, want := range map[string]int64{"": 0, "mintime=1700000000": 1700000000} {
		v, _ := url.ParseQuery(q)
		got, err := parseMintime(v)
		if err != nil || got.Unix() != want {
			t.Errorf("parseMintime(%q) = %v, %v", q, got, err)
		}
	}
	for _, q := range []string{"mintime=x", "mintime=-5", "mintime=99999999999999"} {
		v, _ := url.ParseQuery(q)
		if _, err := parseMintime(v); err == nil {
			t.Errorf("parseMintime(%q) accepted", q)
		}
	}
}

// FuzzAdminParams feeds arbitrary query strings to the Admin API's paging
// and log-filter parsers: they never panic, refuse with 40002 only, and
// what they accept is within Duo's bounds.
func FuzzAdminParams(f *testing.F) {
	for _, s := range []string{
		"", "limit=300&offset=100", "limit=-1", "offset=99999999999999999999",
		"mintime=1700000000000&maxtime=1700000100000&limit=1000&sort=ts:asc",
		"mintime=1700000000000&maxtime=1700000100000&next_offset=1700000050000,5bea1c1e-612c-4f1d-b310-75fd31385b15",
		"mintime=1700000000000&maxtime=1700000100000&next_offset=1&next_offset=2&next_offset=3",
		"mintime=0&maxtime=1&users=DU1,DU2&users[]=DU3&results=fraud&factors=bypass_code&reasons=user_approved",
		"mintime=1700000000", "mintime=%zz", "mintime=1&maxtime=2",
		"type=h6&serial=H-1&secret=3132333435363738393031323334353637383930&counter=5",
		"type=t8&serial=T&secret=zz&totp_step=60", "type=yk&serial=cccccccccccb&private_id=010203040506&aes_key=000102030405060708090a0b0c0d0e0f",
		"type=h6&serial=x&counter=18446744073709551616", "type=t6&serial=x&public_id=ccc",
		"name=staff&desc=all&status=bypass", "name=&push_enabled=1", "status=locked+out",
		"mintime=1700000000000&maxtime=1700000100000&next_offset=1700000050000,42&sort=ts:asc",
		"mintime=1700000000000&maxtime=1700000100000&next_offset=1700000050000&next_offset=-1",
		"mintime=0&maxtime=1&groups=DG1,DG2&groups[]=%25",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		check := func(err error) {
			var e *httpapi.Error
			if err != nil && (!errors.As(err, &e) || e.Code != httpapi.CodeInvalidParams) {
				t.Fatalf("%q: error %v is not a 40002", raw, err)
			}
		}
		nt, err := parseNewToken(v)
		check(err)
		if err == nil && (nt.Kind == "" || nt.Serial == "" || (nt.Kind != store.TokenYubiKey && (nt.PrivateID != nil || nt.AESKey != nil))) {
			t.Fatalf("%q: token %+v accepted", raw, nt)
		}
		up, err := groupParams(v)
		check(err)
		if err == nil && (up.Name != nil) != v.Has("name") {
			t.Fatalf("%q: group name %v", raw, up.Name)
		}
		p, err := parsePaging(v, defaultListLimit, maxListLimit)
		check(err)
		if err == nil && (p.Limit < 1 || p.Limit > maxListLimit || p.Offset < 0) {
			t.Fatalf("%q: paging %+v out of bounds", raw, p)
		}
		q, err := parseAuthLogV2(v)
		check(err)
		if err == nil {
			// A window within one second holds no whole second: Min == Max.
			if q.Limit < 1 || q.Limit > maxLogLimit || q.Min.After(q.Max) || len(q.UserIDs) > maxFilterValues {
				t.Fatalf("%q: query %+v out of bounds", raw, q)
			}
		}
		aq, err := parseActivity(v)
		check(err)
		if err == nil && (aq.Limit < 1 || aq.Limit > maxLogLimit || aq.Min.After(aq.Max) || aq.After.ID < 0) {
			t.Fatalf("%q: activity query %+v out of bounds", raw, aq)
		}
		_, err = parseMintime(v)
		check(err)
	})
}

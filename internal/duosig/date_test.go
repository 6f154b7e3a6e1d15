package duosig

import (
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	t.Parallel()
	ref := time.Date(2012, 8, 21, 17, 29, 18, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time // zero means an error is expected
	}{
		{"Tue, 21 Aug 2012 17:29:18 -0000", ref},
		{"Tue, 21 Aug 2012 17:29:18 +0000", ref},
		{"Tue, 21 Aug 2012 13:29:18 -0400", ref},
		{"Tue, 21 Aug 2012 22:59:18 +0530", ref},
		{"Tue, 21 Aug 2012 22:59:18 +05:30", ref},
		{"Tue, 21 Aug 2012 17:29:18 GMT", ref},
		{"Tue, 21 Aug 2012 17:29:18 UT", ref},
		{"Tue, 21 Aug 2012 17:29:18 UTC", ref},
		{"Tue, 21 Aug 2012 17:29:18 Z", ref},
		{"Tue, 21 Aug 2012 13:29:18 EDT", ref},
		{"Tue, 21 Aug 2012 09:29:18 pst", ref},
		{"Tue, 21 Aug 2012 17:29:18 A", ref}, // military zones count as -0000
		{"Tue, 21 Aug 2012 22:59:18 GMT+0530", ref},
		{"21 Aug 2012 17:29:18 +0000", ref},
		{"Tuesday, 21 August 2012 17:29:18 +0000", ref},
		{"Tue,21 Aug 2012 17:29:18 +0000", ref},
		{"  Tue,   21   Aug  2012\t17:29:18    +0000  ", ref},
		{"Tue, 21 Aug 12 17:29:18 +0000", ref},
		{"Tue, 21 Aug 112 17:29:18 +0000", ref},
		{"tue, 21 aug 2012 17:29:18 +0000", ref},
		{"Tue, 21 Aug 2012 17:29:18 +0000 (UTC)", ref},
		{"Tuesday, 21-Aug-12 17:29:18 GMT", ref},
		{"Tue, 21 Aug 2012 17:29:18", ref}, // no zone: UTC
		{"Tue, 21 Aug 2012 17:29 +0000", ref.Add(-18 * time.Second)},
		{"Wed, 1 Aug 2012 07:05:09 +0000", time.Date(2012, 8, 1, 7, 5, 9, 0, time.UTC)},
		{"Wed, 01 Aug 2012 7:05:09 +0000", time.Date(2012, 8, 1, 7, 5, 9, 0, time.UTC)},
		{"Sat, 31 Dec 2016 23:59:60 +0000", time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Thu, 29 Feb 2024 00:00:00 +0000", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},

		{"", time.Time{}},
		{"garbage", time.Time{}},
		{"Tue, 21 Aug 2012", time.Time{}},
		{"Tue, 32 Aug 2012 17:29:18 +0000", time.Time{}},
		{"Thu, 29 Feb 2023 00:00:00 +0000", time.Time{}},
		{"Tue, 21 Foo 2012 17:29:18 +0000", time.Time{}},
		{"Tue, 21 Aug 20125 17:29:18 +0000", time.Time{}},
		{"Tue, 21 Aug 2012 24:00:00 +0000", time.Time{}},
		{"Tue, 21 Aug 2012 17:60:00 +0000", time.Time{}},
		{"Tue, 21 Aug 2012 17:29:18 +000", time.Time{}},
		{"Tue, 21 Aug 2012 17:29:18 +0060", time.Time{}},
		{"Tue, 21 Aug 2012 17:29:18 +0000 extra", time.Time{}},
		{"Tue, 21 Aug 2012 17:29:18 GMT7", time.Time{}},
		{"2012-08-21T17:29:18Z", time.Time{}},
		{"1345570158", time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseDate(tt.in)
			if tt.want.IsZero() {
				if err == nil {
					t.Errorf("got %v, want error", got)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

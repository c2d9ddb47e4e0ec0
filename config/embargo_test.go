package config

import (
	"testing"
	"time"
)

func TestEmbargoUntil(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct{ spec, built, want string }{
		{"10:00", "2026-03-28T08:00:00Z", "2026-03-28T10:00:00+01:00"}, // CET
		{"10:00", "2026-03-28T09:00:00Z", "2026-03-29T10:00:00+02:00"}, // 10:00 CET passed: the next day, CEST from 02:00
		{"10:00", "2026-03-28T09:00:00+01:00", "2026-03-28T10:00:00+01:00"},
		{"90s", "2026-12-03T10:00:00Z", "2026-12-03T10:01:30Z"},
	} {
		got, err := EmbargoUntil(tt.spec, at(tt.built))
		if err != nil || !got.Equal(at(tt.want)) {
			t.Errorf("EmbargoUntil(%q, %s) = %s, %v; want %s", tt.spec, tt.built, got, err, tt.want)
		}
	}
	if got, err := EmbargoUntil("", time.Now()); err != nil || !got.IsZero() {
		t.Errorf("no embargo: %s %v", got, err)
	}
	for _, bad := range []string{"25:00", "10.00", "-1h", "soon"} {
		if _, err := EmbargoUntil(bad, time.Now()); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

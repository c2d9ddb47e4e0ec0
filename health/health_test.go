package health

import (
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
)

func TestJudge(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	th := Thresholds{WarnAfter: 36 * time.Hour, ErrorAfter: 72 * time.Hour, SourceToo: true, Failures: 3}
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	tests := []struct {
		name string
		r    Record
		want string
		why  string
	}{
		{"never checked", Record{}, Unknown, "never checked"},
		{"fresh", Record{LastCheck: ago(time.Hour), LastSuccess: ago(time.Hour), SourceUpdated: ago(30 * time.Hour)}, OK, ""},
		{"our check is old", Record{LastCheck: ago(40 * time.Hour), LastSuccess: ago(40 * time.Hour)}, Warn, "last successful check 40h0m0s ago"},
		{"the source stopped updating", Record{LastCheck: ago(time.Hour), LastSuccess: ago(time.Hour), SourceUpdated: ago(100 * time.Hour)}, Error, "last update at the source 100h0m0s ago"},
		{"two failures are not failing yet", Record{LastCheck: ago(time.Hour), LastSuccess: ago(3 * time.Hour), Failures: 2, LastError: "x"}, OK, ""},
		{"three are", Record{LastCheck: ago(time.Hour), LastSuccess: ago(3 * time.Hour), Failures: 3, LastError: "HTTP 503"}, Failing, "3 failed checks in a row: HTTP 503"},
		{"never succeeded", Record{LastCheck: ago(time.Hour), Failures: 1}, Error, "no check has succeeded"},
	}
	for _, tt := range tests {
		got, why := Judge(tt.r, th, now)
		if got != tt.want || !strings.Contains(why, tt.why) {
			t.Errorf("%s: %s %q; want %s %q", tt.name, got, why, tt.want, tt.why)
		}
	}
	// A source judged on our checks only ignores its own update date.
	r := Record{LastCheck: ago(time.Hour), LastSuccess: ago(time.Hour), SourceUpdated: ago(1000 * time.Hour)}
	if got, _ := Judge(r, Thresholds{WarnAfter: time.Hour * 36, ErrorAfter: time.Hour * 72}, now); got != OK {
		t.Errorf("source date judged when it should not: %s", got)
	}
}

func TestApply(t *testing.T) {
	var r Record
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r.Apply(Check{Error: "down", ErrorKind: "SourceUnavailable"}, now, "wf", "run1")
	r.Apply(Check{Error: "down", ErrorKind: "SourceUnavailable"}, now.Add(time.Hour), "wf", "run2")
	if r.Failures != 2 || r.LastError != "down" || !r.LastSuccess.IsZero() || r.Run != "run2" {
		t.Errorf("after two failures: %+v", r)
	}
	r.Apply(Check{Changed: false}, now.Add(2*time.Hour), "wf", "run3")
	if r.Failures != 0 || !r.LastSuccess.Equal(now.Add(2*time.Hour)) || !r.LastChange.IsZero() {
		t.Errorf("after an unchanged check: %+v", r)
	}
	r.Apply(Check{Changed: true}, now.Add(3*time.Hour), "wf", "run4")
	if !r.LastChange.Equal(now.Add(3 * time.Hour)) {
		t.Errorf("after new data: %+v", r)
	}
}

func TestSourceUpdated(t *testing.T) {
	for _, tt := range []struct {
		st   lake.State
		want string
	}{
		{lake.State{LastModified: "Fri, 24 Oct 2025 21:00:00 GMT"}, "2025-10-24T21:00:00Z"},
		{lake.State{Signal: "2025-10-24T23:00:00+0200"}, "2025-10-24T21:00:00Z"},                      // Eurostat UPDATE_DATA
		{lake.State{Signal: "2025-10-24T10:15:30.123456"}, "2025-10-24T10:15:30.123456Z"},             // CKAN metadata_modified
		{lake.State{Signal: "rows=123;max_updated=2025-11-01T09:00:00.000Z"}, "2025-11-01T09:00:00Z"}, // a token holding a time
		{lake.State{Signal: "totals-sha256=abc"}, "0001-01-01T00:00:00Z"},                             // none
	} {
		if got := SourceUpdated(tt.st).Format(time.RFC3339Nano); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.st, got, tt.want)
		}
	}
}

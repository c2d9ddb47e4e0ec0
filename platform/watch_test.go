package platform

import (
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/activities"
)

func TestWatcherSaysEachAttemptOnceAndItsProgress(t *testing.T) {
	var said []string
	w := &watcher{say: func(s string) { said = append(said, s) }, names: map[string]string{"5": "attivati: Fetch"},
		byEvent: map[int64]string{}, attempts: map[string]int32{}, beats: map[string]string{}}
	beat, _ := dc.ToPayloads(map[string]any{"Pages": []string{"p0", "p1"}, "Requests": 3})
	w.pending("5", "Fetch", 1, "", time.Time{}, beat)
	w.pending("5", "Fetch", 1, "", time.Time{}, beat) // the same progress: said once
	next := time.Now().Add(40 * time.Second)
	w.pending("5", "Fetch", 2, "SourceUnavailable lombardia/attivati: GET …: connection refused\n", next, nil)
	w.pending("5", "Fetch", 2, "SourceUnavailable lombardia/attivati: GET …: connection refused\n", next, nil)
	res, _ := dc.ToPayloads(activities.FetchResult{Changed: true, Bytes: 2048})
	w.completed("attivati: Fetch", res)
	h, _ := dc.ToPayloads(activities.HarmonizeResult{Rows: 1999})
	w.completed("attivati: Harmonize", h)
	want := []string{"attivati: Fetch: 2 pages stored, 3 requests",
		"attivati: Fetch: attempt 1 failed: SourceUnavailable lombardia/attivati: GET …: connection refused; attempt 2 in 4",
		"attivati: Fetch: new data, 2048 bytes", "attivati: Harmonize: 1999 rows"}
	if len(said) != len(want) {
		t.Fatalf("said %q, want %q", said, want)
	}
	for i := range want {
		if !strings.HasPrefix(said[i], want[i]) {
			t.Errorf("line %d: %q, want %q…", i, said[i], want[i])
		}
	}
}

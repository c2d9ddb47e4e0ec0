package gc

import (
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

func TestRemovable(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	running := now.Add(-2 * time.Hour)
	o := Options{Grace: 24 * time.Hour, KeepRaw: 30 * 24 * time.Hour, Now: now, OldestRunning: running}
	live := map[string]bool{"blobs/sha256/a": true, "harmonized/x/live.parquet": true}
	exists := map[string]bool{"blobs/sha256/a": true, "harmonized/x/live.parquet": true}
	tests := []struct {
		key      string
		age      time.Duration
		why, old bool
	}{
		{"blobs/sha256/a", 100 * 24 * time.Hour, false, false},                   // referenced: never
		{"blobs/sha256/b", 25 * time.Hour, true, true},                           // unreferenced, past the grace period
		{"blobs/sha256/c", 23 * time.Hour, true, false},                          // within the grace period
		{"staging/r/datapackage.json", 25 * time.Hour, true, true},               // a build left behind
		{"work/fetch/s/d/p1", time.Hour, true, false},                            // written after a running workflow began
		{"raw/s/d/x.json", 25 * time.Hour, true, false},                          // a rejected download, kept for inspection
		{"raw/s/d/y.json", 31 * 24 * time.Hour, true, true},                      // … for 30 days
		{"hashes/harmonized/x/live.parquet.json", 100 * time.Hour, false, false}, // the hash of a live object
		{"hashes/harmonized/x/gone.parquet.json", 100 * time.Hour, true, true},
		{"hashes/state/x.json", 100 * time.Hour, false, false}, // of an object gc never scans
	}
	for _, tt := range tests {
		why, old := removable(objectstore.Info{Key: tt.key, LastModified: now.Add(-tt.age)}, live, exists, o)
		if (why != "") != tt.why || old != tt.old {
			t.Errorf("%s, %v old: why %q, removable %v; want unreferenced %v, removable %v", tt.key, tt.age, why, old, tt.why, tt.old)
		}
	}
}

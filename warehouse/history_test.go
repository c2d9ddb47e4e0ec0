package warehouse

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
)

// The current snapshot wins over history for the same observation, and of two history files the one of
// lower rank; history rows come first, in the files' order.
func TestCombineObservationsMergesHistoryWithoutDuplicates(t *testing.T) {
	at := func(sha string, rows ...connectors.Observation) string {
		out, _, err := harmonizeAs(t, Snapshot{Source: "s", Dataset: "d", RawSHA256: sha}, rows)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	current := at("cur", obs("ITC4C", "2020", 20, 0), obs("ITC4C", "2021", 21, 1))
	older := at("old", obs("ITC4C", "2018", 180, 0), obs("ITC4C", "2019", 190, 1), obs("ITC4C", "2020", 200, 2))
	newer := at("new", obs("ITC4C", "2019", 19, 0), obs("ITC4C", "2020", 2000, 1))
	early := at("early", obs("ITC4C", "2017", 17, 0))
	db := openDB(t)
	out := filepath.Join(t.TempDir(), "observations.parquet")
	// In period order: 2017, 2018–2020 (fetched first), 2019–2020 (fetched last: rank 0).
	rows, err := db.CombineObservations(context.Background(), []string{current},
		[]HistoryFile{{Path: early, Rank: 2}, {Path: older, Rank: 1}, {Path: newer, Rank: 0}}, out)
	if err != nil {
		t.Fatal(err)
	}
	got := queryRows(t, db.db, "SELECT period || '=' || value || '@' || raw_sha256 FROM read_parquet('"+out+"')")
	want := "2017=17.0@early 2018=180.0@old 2019=19.0@new 2020=20.0@cur 2021=21.0@cur"
	if rows != 5 || strings.Join(got, " ") != want {
		t.Errorf("%d rows: %v\nwant %s", rows, got, want)
	}
}

package warehouse

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// ObservationKey identifies an observation: no two rows of a release's observations share it.
var ObservationKey = []string{"source", "dataset", "indicator", "breakdown", "unit", "territory", "period", "sex", "age", "education", "sector", "citizenship"}

// HistoryFile is a snapshot of a range of a dataset's history (a backfill's chunk).
type HistoryFile struct {
	Path string
	// Rank orders history files for the same observation: the lowest wins (the latest fetched).
	Rank int
}

// CombineObservations writes the observations of a release: every row of the current snapshots, and
// the rows of the history files (given in period order) that none of them holds, an observation found
// in several history files taken from the one of lowest Rank. History rows come first, in the files'
// order, then the current rows ordered by source, dataset and raw position; with no history the table
// is the current snapshots' union, as CombineParquet writes it.
func (d *DB) CombineObservations(ctx context.Context, current []string, history []HistoryFile, out string) (int64, error) {
	if len(history) == 0 {
		return d.CombineParquet(ctx, TableSpec{Inputs: current, Out: out, OrderBy: "source, dataset, raw_position"})
	}
	if len(current) == 0 {
		return 0, errors.New("combine observations: no current snapshot")
	}
	files := make([]string, len(current))
	for i, f := range current {
		files[i] = quoteLiteral(f)
	}
	// rank_: 0 for the current snapshots; place_: a history file's place in period order, after them.
	parts := []string{fmt.Sprintf("SELECT *, 0 AS rank_, %d AS place_ FROM read_parquet([%s], union_by_name = true)", len(history), strings.Join(files, ", "))}
	for i, h := range history {
		parts = append(parts, fmt.Sprintf("SELECT *, %d AS rank_, %d AS place_ FROM read_parquet(%s)", h.Rank+1, i, quoteLiteral(h.Path)))
	}
	q := fmt.Sprintf(`SELECT * EXCLUDE (rank_, place_) FROM (%s)
		QUALIFY row_number() OVER (PARTITION BY %s ORDER BY rank_) = 1
		ORDER BY source, dataset, place_, raw_position`, strings.Join(parts, " UNION ALL BY NAME "), strings.Join(ObservationKey, ", "))
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	return copyToParquet(ctx, conn, q, out)
}

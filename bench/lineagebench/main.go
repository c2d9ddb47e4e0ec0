// Command lineagebench measures the lineage of one labour_flows cell: a CO export of N events (generated
// once into bench/out/, as make bench does) harmonized into labour_events and built into labour_flows,
// then a cell (Milano, fixed-term, sector C, both sexes, the busiest month) recounted from the events with
// warehouse.RecountFlow, as `osservatorio lineage` does once the release's files are in its cache. Each
// count is timed cold (the first question) and warm (the median of five).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/cogen"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
	"github.com/osservatorio-lombardia/osservatorio/worker"
)

func main() {
	sizes := flag.String("events", "1000000,25000000", "event counts, comma-separated")
	dir := flag.String("dir", "bench/out", "where generated exports are kept")
	flag.Parse()
	fmt.Printf("%-10s %-12s %-12s %-10s %s\n", "EVENTS", "COLD", "WARM", "MATCH", "CELL")
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err == nil {
			err = measure(n, *dir)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "lineagebench:", err)
			os.Exit(1)
		}
	}
}

func measure(n int, dir string) error {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	csv := filepath.Join(dir, fmt.Sprintf("co-attivati-%d.csv", n))
	if _, err := os.Stat(csv); err != nil {
		f, err := os.Create(csv)
		if err != nil {
			return err
		}
		_, err = cogen.Write(f, cogen.Options{Events: n, Seed: 42})
		f.Close()
		if err != nil {
			return err
		}
	}
	work, err := os.MkdirTemp(dir, "lineage-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	db, err := warehouse.Open(ctx, warehouse.Options{TempDir: work, MemoryLimit: worker.DuckDBMemoryLimit})
	if err != nil {
		return err
	}
	defer db.Close()
	events, part := filepath.Join(work, "events.parquet"), filepath.Join(work, "part.parquet")
	sha := strings.Repeat("0", 64)
	if _, err := db.HarmonizeCO(ctx, warehouse.CORequest{CSVPath: csv, EventType: "attivazione", RawSHA256: sha,
		RefDate: time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC), EventsOut: events, FlowsOut: part}); err != nil {
		return err
	}
	if _, err := db.BuildFlows(ctx, []string{part}, work); err != nil {
		return err
	}
	_, cells, err := db.Select(ctx, []string{filepath.Join(work, "labour_flows.parquet")}, []warehouse.Cond{
		{Column: "territory", Op: "=", Value: "015"}, {Column: "contract_class", Op: "=", Value: "fixed_term"},
		{Column: "sex", Op: "=", Value: "T"}, {Column: "sector_section", Op: "=", Value: "C"}}, 1_000_000)
	if err != nil || len(cells) == 0 {
		return fmt.Errorf("no cell to trace (%v)", err)
	}
	cell := slices.MaxFunc(cells, func(a, b map[string]any) int { return int(toInt(a["attivazioni"]) - toInt(b["attivazioni"])) })
	parts := []warehouse.EventPart{{Path: events, Name: "data/labour_events/x.parquet", RawSHA256: sha}}
	var times []time.Duration
	var counts []warehouse.MeasureCount
	for range 6 {
		start := time.Now()
		if counts, _, err = db.RecountFlow(ctx, "labour_flows", parts, cell, 5); err != nil {
			return err
		}
		times = append(times, time.Since(start))
	}
	warm := append([]time.Duration(nil), times[1:]...)
	slices.Sort(warm)
	match := "yes"
	for _, c := range counts {
		if c.Published != c.Recount {
			match = "NO"
		}
	}
	fmt.Printf("%-10d %-12s %-12s %-10s %s %s %v age %v citizenship %v: %d hires\n", n, times[0].Round(time.Millisecond), warm[len(warm)/2].Round(time.Millisecond),
		match, cell["territory"], cell["period"], cell["contract_class"], cell["age_class"], cell["citizenship_group"], toInt(cell["attivazioni"]))
	return nil
}

func toInt(v any) int64 {
	if x, ok := v.(int64); ok {
		return x
	}
	return 0
}

package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/lineage"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

func (a *app) lineageCmd() *cobra.Command {
	var where string
	var limit, sample int
	c := &cobra.Command{
		Use:   "lineage VERSION TABLE --where \"territory='015' AND period='2023-01'\"",
		Short: "Where a published figure comes from: the rule that made it, its raw rows, their sidecars and runs",
		Long: `lineage answers, for the rows of a release table that match --where (column = 'value' … joined by AND; each
row also has file and row, its 0-based position in its file): the SQL files, code lists and code version
that made them (sha256, as the release recorded them); for observations and labour_events the raw object
and the row in it; for a labour_flows cell every measure recounted from the release's events, a sample of
those events with their raw rows, and each raw export's sidecar (URL, request, status, headers, time,
sha256) and the Temporal runs that fetched and harmonized it. Tables: ` + strings.Join(lineage.Tables(), ", ") + `.
Positions: ` + lineage.Positions + `.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			conds, err := warehouse.ParseWhere(where)
			if where == "" {
				conds, err = nil, nil
			}
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			p, db, done, err := a.openReleaseDB(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer done()
			tr := &lineage.Tracer{Releases: p.Releases, DB: db, Cache: p.ReleaseCache()}
			ans, err := tr.Trace(cmd.Context(), lineage.Query{Version: args[0], Table: args[1], Where: conds, Limit: limit, Sample: sample})
			if errors.Is(err, lineage.ErrTable) {
				return &ExitError{Code: 2, Err: err}
			}
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(ans)
			}
			a.printLineage(ans)
			return nil
		},
	}
	c.Flags().StringVar(&where, "where", "", "which rows: column = 'value' [AND …]")
	c.Flags().IntVar(&limit, "limit", 10, "figures to trace")
	c.Flags().IntVar(&sample, "sample", 5, "events shown per measure of a flow cell")
	return c
}

func (a *app) printLineage(ans *lineage.Answer) {
	w := a.stdout
	fmt.Fprintf(w, "release %s, table %s: %d row(s) match; %d traced\n", ans.Version, ans.Table, ans.Matched, len(ans.Figures))
	fmt.Fprintf(w, "rule: harmonizer %d, code %s %s (go %s, duckdb %s)\n", ans.Rule.HarmonizerVersion, ans.Rule.Build.Module, orDash(ans.Rule.Build.Revision), ans.Rule.Build.Go, ans.Rule.Build.DuckDB)
	for _, f := range sortedKeysOf(ans.Rule.SQL) {
		fmt.Fprintf(w, "  %s sha256 %s\n", f, ans.Rule.SQL[f])
	}
	fmt.Fprintf(w, "  %d code lists (sha256 each with --json)\n", len(ans.Rule.CodeLists))
	fmt.Fprintf(w, "positions: %s\n", ans.Positions)
	for i, f := range ans.Figures {
		fmt.Fprintf(w, "\n[%d] %s\n", i+1, rowText(f.Row))
		if f.Raw != nil {
			a.printRaw(*f.Raw)
		}
		for _, m := range f.Measures {
			mark := "="
			if m.Published != m.Recount {
				mark = "≠"
			}
			fmt.Fprintf(w, "  %-18s published %d %s recounted %d (%s)\n", m.Column, m.Published, mark, m.Recount, m.Rule)
		}
		for _, e := range f.Events {
			fmt.Fprintf(w, "  event %-18s raw %s… row %d (part %s row %d)\n", e.Measure, e.RawSHA256[:12], e.RawRow, e.Part, e.PartRow)
		}
		for _, r := range f.Sources {
			a.printRaw(r)
		}
	}
}

func (a *app) printRaw(r lineage.Raw) {
	pos := ""
	if r.Position != nil {
		pos = fmt.Sprintf(" row %d", *r.Position)
	}
	fmt.Fprintf(a.stdout, "  raw %s%s (%s)\n", r.Key, pos, r.Dataset)
	if s := r.Sidecar; s != nil {
		fmt.Fprintf(a.stdout, "    %s %s → HTTP %d, %d bytes, sha256 %s, fetched %s by %s/%s\n", s.Method, s.URL, s.Status, s.Bytes, s.SHA256, s.FetchedAt.Format("2006-01-02T15:04:05Z07:00"), orDash(s.Workflow), orDash(s.Run))
		if s.Period != "" {
			fmt.Fprintf(a.stdout, "    a backfill's range: periods %s\n", strings.Replace(s.Period, "/", " to ", 1))
		}
	}
	if r.Harmonized != "" {
		fmt.Fprintf(a.stdout, "    harmonized and accepted by %s into %s\n", r.Harmonized, r.SnapshotKey)
	}
	if r.SidecarError != "" {
		fmt.Fprintf(a.stdout, "    sidecar: %s\n", r.SidecarError)
	}
}

func rowText(row map[string]any) string {
	var parts []string
	for _, k := range sortedKeysOf(row) {
		if v := row[k]; v != nil && fmt.Sprint(v) != "" {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return strings.Join(parts, " ")
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (a *app) rawCmd() *cobra.Command {
	c := &cobra.Command{Use: "raw", Short: "Raw objects as fetched: their sidecar, and rows at given positions"}
	var rows string
	show := &cobra.Command{
		Use:   "show KEY [--rows 0,41]",
		Short: "Print a raw object's sidecar (URL, request, status, headers, time, sha256) and, with --rows, those data rows",
		Long:  "Rows are " + lineage.Positions + "; for a CSV the header comes first.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key := args[0]
			if !strings.HasPrefix(key, "raw/") || strings.Contains(key, "..") || strings.HasSuffix(key, ".meta.json") {
				return &ExitError{Code: 2, Err: fmt.Errorf("%q is not a raw object key (raw/<source>/<dataset>/<sha256>.<ext>)", key)}
			}
			var want []int64
			for _, s := range strings.Split(rows, ",") {
				if s = strings.TrimSpace(s); s == "" {
					continue
				}
				n, err := strconv.ParseInt(s, 10, 64)
				if err != nil || n < 0 {
					return &ExitError{Code: 2, Err: fmt.Errorf("--rows %q: want 0-based positions like 0,41", rows)}
				}
				want = append(want, n)
			}
			p, err := a.open()
			if err != nil {
				return err
			}
			var side lake.Sidecar
			if err := p.Bucket.GetJSON(cmd.Context(), lake.SidecarKey(key), &side); errors.Is(err, objectstore.ErrNotFound) {
				return &ExitError{Code: 2, Err: fmt.Errorf("no raw object %s", key)}
			} else if err != nil {
				return err
			}
			found, err := rawRows(cmd.Context(), p.Bucket, key, want)
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(map[string]any{"key": key, "sidecar": side, "rows": found, "positions": lineage.Positions})
			}
			if err := a.printJSON(side); err != nil {
				return err
			}
			for _, n := range want {
				fmt.Fprintf(a.stdout, "row %d: %s\n", n, found[strconv.FormatInt(n, 10)])
			}
			return nil
		},
	}
	show.Flags().StringVar(&rows, "rows", "", "0-based data rows to print, comma-separated")
	c.AddCommand(show)
	return c
}

// rawRows reads the given data rows (lines after the header) of a raw text object.
// It counts lines: a quoted field holding a line break shifts the count (the CO exports have none).
func rawRows(ctx context.Context, b *objectstore.Bucket, key string, want []int64) (map[string]string, error) {
	out := map[string]string{}
	if len(want) == 0 {
		return out, nil
	}
	rc, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	last := slices.Max(want)
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for line := int64(-1); line <= last && sc.Scan(); line++ {
		if line >= 0 && slices.Contains(want, line) {
			out[strconv.FormatInt(line, 10)] = sc.Text()
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}

package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// newRowsLandAsASegment appends 300 rows to the CO dataset "cessati" at the source and refreshes: the new
// raw object holds only them, the state lists it after the accepted segments, only they are harmonized,
// the release stores only the files that changed, and its flow tables are byte for byte those of
// harmonizing everything again from one raw file.
func newRowsLandAsASegment(t *testing.T, ctx context.Context) {
	before, ok, err := shared.p.Lake.State(ctx, "lombardia", "cessati")
	if err != nil || !ok {
		t.Fatalf("state: %v %v", ok, err)
	}
	prevVersion := latestVersion(t)
	sodaOverride(t, "nwz3-p6vm", 1764000100, cessatiWithCopies(t))
	res, err := refreshSource(t, "lombardia")
	if err != nil {
		t.Fatal(err)
	}
	r := report(t, res, "cessati")
	if !r.Changed || !strings.Contains(r.Reason, "incremental: 300 rows") || r.Rows != before.Rows+300 || r.Harmonized != 300 {
		t.Fatalf("report = %+v; want 300 new rows harmonized of %d", r, before.Rows+300)
	}
	after, _, _ := shared.p.Lake.State(ctx, "lombardia", "cessati")
	had, has := before.EventSegments(), after.EventSegments()
	if len(has) != len(had)+1 || has[len(has)-1].RawKey != r.RawKey || after.RawKey != r.RawKey {
		t.Fatalf("segments %d → %d; the last is %s, want %s", len(had), len(has), has[len(has)-1].RawKey, r.RawKey)
	}
	for i := range had {
		if has[i].RawKey != had[i].RawKey || !slices.Equal(has[i].SnapshotParts, had[i].SnapshotParts) {
			t.Errorf("segment %d changed: %+v → %+v", i, had[i], has[i])
		}
	}
	raw := getObject(t, ctx, r.RawKey)
	if n := strings.Count(raw, "\n"); n != 301 || r.Bytes != int64(len(raw)) || r.Bytes*5 > before.RawBytes {
		t.Errorf("the new raw object has %d lines, %d bytes (the base %d); want the header and the 300 new rows only", n, len(raw), before.RawBytes)
	}
	var side lake.Sidecar
	if err := shared.p.Bucket.GetJSON(ctx, lake.SidecarKey(r.RawKey), &side); err != nil || side.Follows != before.RawKey {
		t.Errorf("sidecar follows %q (%v), want %s", side.Follows, err, before.RawKey)
	}
	if res.Release == nil {
		t.Fatal("no release")
	}
	version := res.Release.Version
	onlyChangedFilesStored(t, ctx, prevVersion, version)
	m, err := shared.p.Releases.Get(ctx, version)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range m.Sources {
		if s.Dataset == "cessati" && (len(s.Raws()) != len(has) || s.Raws()[len(has)-1].RawKey != r.RawKey || s.Rows != r.Rows) {
			t.Errorf("the manifest's source lists %+v", s.Raws())
		}
	}
	if code, out, errs := osv(t, ctx, "verify", version); code != 0 {
		t.Errorf("verify %s: %d %s%s", version, code, out, errs)
	}
	sameAsFromScratch(t, ctx, version, after)
}

// sameAsFromScratch harmonizes the dataset's segments again as one raw file and rebuilds the flow tables
// with it in place of their parts: every flow table equals the release's byte for byte, and so do the
// events but for raw_sha256 (each row points into the segment holding it).
// cessatiWithCopies is the recorded "cessati" table and, after it, a copy of its first 300 rows, each with
// its own id and written after every watermark before this step.
func cessatiWithCopies(t *testing.T) string {
	t.Helper()
	recorded := recordedTable(t, "nwz3-p6vm")
	lines := strings.Split(strings.TrimSuffix(recorded, "\n"), "\n")
	var b strings.Builder
	b.WriteString(recorded)
	for i, line := range lines[1:301] {
		f := strings.SplitN(line, ",", 4)
		fmt.Fprintf(&b, "row-nwz3-seg-%04d,2026-01-15T08:00:00.000Z,2026-01-15T08:00:00.000Z,%s\n", i, f[3])
	}
	return b.String()
}

func sameAsFromScratch(t *testing.T, ctx context.Context, version string, st lake.State) {
	dir := t.TempDir()
	whole, err := os.Create(filepath.Join(dir, "whole.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var segEvents []string
	for i, g := range st.EventSegments() {
		text := getObject(t, ctx, g.RawKey)
		if i > 0 {
			text = text[strings.Index(text, "\n")+1:]
		}
		whole.WriteString(text)
		for k, key := range g.SnapshotParts {
			p := filepath.Join(dir, fmt.Sprintf("seg-%d-%d.parquet", i, k))
			if err := shared.p.Bucket.GetFile(ctx, key, p); err != nil {
				t.Fatal(err)
			}
			segEvents = append(segEvents, "'"+p+"'")
		}
	}
	whole.Close()
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	events, flowsPart := filepath.Join(dir, "events.parquet"), filepath.Join(dir, "flows-part.parquet")
	if _, err := db.HarmonizeCO(ctx, warehouse.CORequest{CSVPath: whole.Name(), EventType: "cessazione", RawSHA256: strings.Repeat("0", 64),
		RefDate: st.FetchedAt, EventsOut: events, FlowsOut: flowsPart}); err != nil {
		t.Fatal(err)
	}
	var differ int64
	q := fmt.Sprintf(`SELECT count(*) FROM ((SELECT * EXCLUDE (raw_sha256) FROM read_parquet('%s') EXCEPT ALL SELECT * EXCLUDE (raw_sha256) FROM read_parquet([%s]))
		UNION ALL (SELECT * EXCLUDE (raw_sha256) FROM read_parquet([%s]) EXCEPT ALL SELECT * EXCLUDE (raw_sha256) FROM read_parquet('%s')))`,
		events, strings.Join(segEvents, ","), strings.Join(segEvents, ","), events)
	if err := db.SQL().QueryRowContext(ctx, q).Scan(&differ); err != nil || differ != 0 {
		t.Errorf("events from scratch and from the segments differ in %d rows (%v)", differ, err)
	}
	// The flows: this dataset's parts replaced by the one from scratch, the other datasets' as stored.
	parts := []string{flowsPart}
	states, err := shared.p.Lake.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range states {
		if o.Table != "labour_events" || o.Dataset == st.Dataset {
			continue
		}
		for i, g := range o.EventSegments() {
			p := filepath.Join(dir, fmt.Sprintf("flows-%s-%d.parquet", o.Dataset, i))
			if err := shared.p.Bucket.GetFile(ctx, g.FlowsPart, p); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, p)
		}
	}
	out := filepath.Join(dir, "flows")
	os.MkdirAll(out, 0o755)
	if _, err := db.BuildFlows(ctx, parts, out); err != nil {
		t.Fatal(err)
	}
	m, err := shared.p.Releases.Get(ctx, version)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range warehouse.FlowTables {
		years, err := db.SplitByYear(ctx, filepath.Join(out, table+".parquet"), filepath.Join(out, table))
		if err != nil {
			t.Fatal(err)
		}
		r, _ := m.Resource(table)
		files := r.Files()
		if len(files) != len(years) || len(years) < 2 {
			t.Fatalf("%s: %d files published, %d years from scratch", table, len(files), len(years))
		}
		for i, y := range years {
			if files[i].Path != "data/"+table+"/"+y.Year+".parquet" || files[i].Hash != "sha256:"+fileSHA256(t, y.Path) {
				t.Errorf("%s of %s differs from the one built from scratch", files[i].Path, version)
			}
		}
	}
	t.Logf("flow tables of %s from %d segments equal, byte for byte, those from one raw file", version, len(st.EventSegments()))
}

func getObject(t *testing.T, ctx context.Context, key string) string {
	t.Helper()
	r, err := shared.p.Bucket.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func latestVersion(t *testing.T) string {
	t.Helper()
	vs := versions(t)
	return vs[len(vs)-1]
}

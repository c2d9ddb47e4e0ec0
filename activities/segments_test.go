package activities_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/cogen"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

var fetched = time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)

// A CO dataset in two segments: the second harmonization takes the first segment as it was (nothing
// harmonized again) and only the new rows; the flows summed from both segments' parts are the bytes of
// the flows of the two exports harmonized as one; the state records both segments in order.
func TestSegmentsAreHarmonizedOnce(t *testing.T) {
	ctx := context.Background()
	acts, b, env := coActivities(t, "segments-test")
	work := acts.WorkDir
	harmonize := func(ref activities.RawRef, earlier []activities.RawRef) activities.HarmonizeResult {
		t.Helper()
		val, err := env.ExecuteActivity(acts.Harmonize, activities.HarmonizeInput{Source: "lombardia", Dataset: "attivati",
			RawKey: ref.Key, SHA256: ref.SHA256, FetchedAt: fetched, Earlier: earlier})
		if err != nil {
			t.Fatal(err)
		}
		var res activities.HarmonizeResult
		if err := val.Get(&res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	base := land(t, ctx, b, 3000, 1, time.Time{})
	delta := land(t, ctx, b, 120, 2, time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC))

	first := harmonize(base.ref, nil)
	if len(first.Segments) != 1 || first.Harmonized != 3000 || first.Rows != 3000 {
		t.Fatalf("base: %d segments, %d harmonized of %d", len(first.Segments), first.Harmonized, first.Rows)
	}
	second := harmonize(delta.ref, []activities.RawRef{base.ref})
	if len(second.Segments) != 2 || second.Harmonized != 120 || second.Rows != 3120 {
		t.Fatalf("increment: %d segments, %d harmonized of %d; want 120 of 3120", len(second.Segments), second.Harmonized, second.Rows)
	}
	if got, want := second.Segments[0].SnapshotParts, first.Segments[0].SnapshotParts; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the base segment's parts changed: %v, were %v", got, want)
	}
	if _, err := env.ExecuteActivity(acts.Accept, activities.AcceptInput{Source: "lombardia", Dataset: "attivati",
		Fetch: activities.FetchResult{RawKey: delta.ref.Key, SHA256: delta.ref.SHA256, FetchedAt: fetched, Earlier: []activities.RawRef{base.ref}}, Harmonize: second}); err != nil {
		t.Fatal(err)
	}
	st, _, err := acts.Lake.State(ctx, "lombardia", "attivati")
	if segs := st.EventSegments(); err != nil || len(segs) != 2 || segs[0].RawKey != base.ref.Key || segs[1].RawKey != delta.ref.Key || st.Rows != 3120 {
		t.Fatalf("state: %+v (%v)", segs, err)
	}

	// From scratch: both exports as one file, harmonized once.
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	whole := filepath.Join(work, "whole.csv")
	os.WriteFile(whole, append(base.csv, delta.csv[bytes.IndexByte(delta.csv, '\n')+1:]...), 0o644)
	part := filepath.Join(work, "whole-flows.parquet")
	if _, err := db.HarmonizeCO(ctx, warehouse.CORequest{CSVPath: whole, EventType: "attivazione", RawSHA256: strings.Repeat("0", 64),
		RefDate: fetched, EventsOut: filepath.Join(work, "whole-events.parquet"), FlowsOut: part}); err != nil {
		t.Fatal(err)
	}
	var parts []string
	for i, g := range st.Segments {
		p := filepath.Join(work, "part-"+string(rune('a'+i))+".parquet")
		if err := b.GetFile(ctx, g.FlowsPart, p); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, p)
	}
	fromSegments, fromScratch := filepath.Join(work, "segments"), filepath.Join(work, "scratch")
	os.MkdirAll(fromSegments, 0o755)
	os.MkdirAll(fromScratch, 0o755)
	if _, err := db.BuildFlows(ctx, parts, fromSegments); err != nil {
		t.Fatal(err)
	}
	if _, err := db.BuildFlows(ctx, []string{part}, fromScratch); err != nil {
		t.Fatal(err)
	}
	for _, table := range warehouse.FlowTables {
		a, _ := os.ReadFile(filepath.Join(fromSegments, table+".parquet"))
		c, _ := os.ReadFile(filepath.Join(fromScratch, table+".parquet"))
		if len(a) == 0 || !bytes.Equal(a, c) {
			t.Errorf("%s from the segments (%d bytes) differs from the one from scratch (%d bytes)", table, len(a), len(c))
		}
	}
}

type landed struct {
	ref activities.RawRef
	csv []byte
}

// land writes a synthetic CO export (from the given date on, or cogen's default range) as a raw object.
func land(t *testing.T, ctx context.Context, b *objectstore.Bucket, events int, seed uint64, from time.Time) landed {
	t.Helper()
	var buf bytes.Buffer
	o := cogen.Options{Events: events, Seed: seed}
	if !from.IsZero() {
		o.From, o.To = from, from.AddDate(0, 1, -1)
	}
	if _, err := cogen.Write(&buf, o); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	sha := hex.EncodeToString(sum[:])
	key := lake.RawKey("lombardia", "attivati", sha, "csv")
	if err := b.Put(ctx, key, bytes.NewReader(buf.Bytes()), int64(buf.Len()), objectstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	return landed{ref: activities.RawRef{Key: key, SHA256: sha, Bytes: int64(buf.Len()), FetchedAt: fetched}, csv: buf.Bytes()}
}

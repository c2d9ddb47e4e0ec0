package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/gc"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// gcKeepsWhatIsNeeded plants leftovers (an unreferenced blob, snapshot, staged build, work file, stale
// hash and raw object), then objects of a "running" workflow, and collects two days later: the leftovers
// go (the raw object stays, kept for inspection), the running workflow's objects stay, and every release,
// slice and dataset state still has all it references. The steps after this one rebuild, pull, slice
// and trace on what gc left.
func gcKeepsWhatIsNeeded(t *testing.T, ctx context.Context) {
	b := shared.p.Bucket
	put := func(key string) {
		if err := b.Put(ctx, key, strings.NewReader("left over"), 9, objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	leftovers := []string{lake.BlobKey("sha256:" + strings.Repeat("0", 64)), "harmonized/eurostat/x/observations-orphan.parquet",
		"staging/abandoned-build/datapackage.json", "work/fetch/lombardia/attivati/page-000001.csv", "hashes/harmonized/gone.parquet.json",
		"codelists/" + strings.Repeat("1", 64) + ".csv"}
	rejected := "raw/eurostat/x/" + strings.Repeat("2", 64) + ".json"
	for _, k := range append(leftovers, rejected) {
		put(k)
	}
	time.Sleep(50 * time.Millisecond)
	running := time.Now()
	time.Sleep(50 * time.Millisecond)
	ofRunning := []string{"work/fetch/lombardia/cessati/page-000001.csv", "staging/embargoed-build/data/labels.parquet"}
	for _, k := range ofRunning {
		put(k)
	}

	// Today, with the real running workflows: everything is young, nothing would go.
	code, out, errs := osv(t, ctx, "gc", "--dry-run", "--json")
	var today gc.Report
	if code != 0 || fromCLI(out, &today) != nil || len(today.Removed) != 0 || today.Referenced == 0 {
		t.Fatalf("gc --dry-run today: exit %d %s%s; want nothing removable", code, out, errs)
	}

	later := gc.Options{Now: time.Now().Add(48 * time.Hour), OldestRunning: running}
	later.DryRun = true
	dry, err := gc.Run(ctx, b, later)
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, o := range dry.Removed {
		listed[o.Key] = true
	}
	for _, k := range leftovers {
		if !listed[k] {
			t.Errorf("%s: not listed by the dry run", k)
		}
	}
	for _, k := range append(ofRunning, rejected) {
		if listed[k] {
			t.Errorf("%s: listed, but a running workflow wrote it or it is a rejected download kept for inspection", k)
		}
	}
	for _, k := range leftovers {
		if ok, _ := b.Exists(ctx, k); !ok {
			t.Errorf("%s removed by a dry run", k)
		}
	}
	later.DryRun = false
	rep, err := gc.Run(ctx, b, later)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gc two days later: removed %d objects (%d bytes), kept %d referenced (%d bytes) and %d young",
		len(rep.Removed), rep.RemovedBytes, rep.Referenced, rep.ReferencedB, rep.KeptYoung)
	for _, k := range leftovers {
		if ok, _ := b.Exists(ctx, k); ok {
			t.Errorf("%s survived gc", k)
		}
	}
	for _, k := range append(ofRunning, rejected) {
		if ok, _ := b.Exists(ctx, k); !ok {
			t.Errorf("%s removed by gc", k)
		}
		b.Remove(ctx, k)
	}
	everythingReferencedIsThere(t, ctx)
}

// everythingReferencedIsThere checks every published release and slice verifies and every object a
// dataset state names exists.
func everythingReferencedIsThere(t *testing.T, ctx context.Context) {
	b := shared.p.Bucket
	versions, err := shared.p.Releases.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range versions {
		m, err := shared.p.Releases.Get(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range release.Verify(ctx, b, release.Prefix(v), m) {
			if !c.OK {
				t.Errorf("release %s after gc: %+v", v, c)
			}
		}
	}
	states, err := shared.p.Lake.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		for _, k := range append([]string{st.RawKey, lake.SidecarKey(st.RawKey), st.SnapshotKey}, st.SnapshotParts...) {
			if ok, _ := b.Exists(ctx, k); !ok {
				t.Errorf("state %s/%s names %s, gone after gc", st.Source, st.Dataset, k)
			}
		}
	}
}

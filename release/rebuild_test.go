package release_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// A release built with other code lists than this binary's (as after a code list changed) rebuilds
// identical from the files it recorded; without them, the rebuild says which list changed and that the
// labels' rows differ. On a real MinIO and DuckDB.
func TestRebuildReadsTheRecordedCodeLists(t *testing.T) {
	ctx := context.Background()
	b := devstacktest.Bucket(t, "release-test")
	store := release.NewStore(b)
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	then := changedCodeLists(t)
	_, err = store.Build(ctx, nil, release.BuildOptions{Name: "test", ReleaseID: "r1", Plan: release.Plan{Version: "1.0.0", Bump: "major"},
		WorkDir: t.TempDir(), DB: db.WithCodes(then)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Publish(ctx, "r1", "1.0.0"); err != nil {
		t.Fatal(err)
	}

	rep, err := store.Rebuild(ctx, "1.0.0", release.BuildOptions{WorkDir: t.TempDir(), DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Identical || !strings.HasPrefix(rep.CodeLists, "recorded") || len(rep.Why) != 0 {
		t.Errorf("rebuild with the recorded code lists: %+v; want identical, recorded, no notes", rep)
	}

	sums, _ := then.Digests()
	if err := b.Remove(ctx, lake.CodeListKey(sums["dim_sex.csv"])); err != nil {
		t.Fatal(err)
	}
	rep, err = store.Rebuild(ctx, "1.0.0", release.BuildOptions{WorkDir: t.TempDir(), DB: db})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Identical || !strings.Contains(rep.CodeLists, "dim_sex.csv") || !strings.Contains(strings.Join(rep.Why, "\n"), "code list dim_sex.csv changed since") {
		t.Errorf("rebuild without the recorded dim_sex.csv: identical %v, code lists %q, notes %q", rep.Identical, rep.CodeLists, rep.Why)
	}
	for _, f := range rep.Files {
		if f.Path == "data/labels.parquet" && (f.Identical || !strings.HasPrefix(f.Content, "rows differ: 1 only")) {
			t.Errorf("labels: %+v; want one row only in the published file", f)
		}
	}
}

// changedCodeLists is this binary's code lists with one label changed, as a later edit would.
func changedCodeLists(t *testing.T) *codelist.Set {
	dir := t.TempDir()
	emb := codelist.Embedded()
	names, err := emb.Files()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		data, _ := emb.ReadFile(name)
		if name == "dim_sex.csv" {
			data = []byte(strings.Replace(string(data), "F,Femmine,Females", "F,Donne,Women", 1))
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return codelist.FromFS(os.DirFS(dir))
}

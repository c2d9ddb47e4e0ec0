package explore_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/explore"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// On a release holding a small labour_flows table (in the blob store, as published): totals are the
// sex = T rows summed over the other dimensions, a breakdown by sex takes M and F, one by territory every
// territory, and a territory that is not Lombardy's is a question, not an error of the platform.
func TestFlows(t *testing.T) {
	ctx := context.Background()
	b := devstacktest.Bucket(t, "explore-test")
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	file := filepath.Join(t.TempDir(), "labour_flows.parquet")
	_, err = db.SQL().ExecContext(ctx, `COPY (SELECT * FROM (VALUES
		('015', '2024-01', 'fixed_term', 'C', 'T', 'Y25-34', 'IT', 10, 4, 1, 0, 0, 6),
		('015', '2024-01', 'permanent',  'C', 'T', 'Y25-34', 'IT', 5, 2, 0, 1, 0, 4),
		('015', '2024-01', 'permanent',  'C', 'M', 'Y25-34', 'IT', 3, 1, 0, 1, 0, 3),
		('015', '2024-01', 'permanent',  'C', 'F', 'Y25-34', 'IT', 2, 1, 0, 0, 0, 1),
		('015', '2024-02', 'permanent',  'C', 'T', 'Y25-34', 'IT', 7, 9, 0, 0, 0, -2),
		('016', '2024-01', 'permanent',  'C', 'T', 'Y25-34', 'IT', 1, 1, 0, 0, 0, 0))
		t(territory, period, contract_class, sector_section, sex, age_class, citizenship_group,
		  attivazioni, cessazioni, proroghe, trasformazioni_in, trasformazioni_out, saldo)) TO '`+file+`' (FORMAT parquet)`)
	if err != nil {
		t.Fatal(err)
	}
	labels := filepath.Join(t.TempDir(), "labels.parquet")
	if _, err := db.SQL().ExecContext(ctx, `COPY (SELECT * FROM (VALUES ('sex', 'F', 'Femmine', 'Females'), ('sex', 'M', 'Maschi', 'Males'))
		t(dimension, code, label_it, label_en)) TO '`+labels+`' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	// Population: Istat's figure where both give one, Eurostat's for 2022, thousands scaled; a breakdown
	// by sex and another indicator left out.
	obs := filepath.Join(t.TempDir(), "observations.parquet")
	if _, err := db.SQL().ExecContext(ctx, `COPY (SELECT * FROM (VALUES
		('eurostat', 'demo_r_pjangrp3', 'population', '', 0, '015', 'A', '2022', 'T', 'TOTAL', 'TOTAL', 'TOTAL', 3240000.0, 'PERS'),
		('eurostat', 'demo_r_pjangrp3', 'population', '', 0, '015', 'A', '2023', 'T', 'TOTAL', 'TOTAL', 'TOTAL', 3245000.0, 'PERS'),
		('istat', 'popolazione_province', 'population', '', 3, '015', 'A', '2023', 'T', 'TOTAL', 'TOTAL', 'TOTAL', 3247.5, 'PERS'),
		('istat', 'popolazione_province', 'population', '', 3, '015', 'A', '2023', 'M', 'TOTAL', 'TOTAL', 'TOTAL', 1600.0, 'PERS'),
		('istat', 'disoccupazione_province', 'unemployment_rate', 'duration_unemployment=TOTAL', 0, '015', 'A', '2023', 'T', 'Y15-74', 'TOTAL', 'TOTAL', 5.1, 'PC'),
		('istat', 'disoccupazione_province', 'unemployment_rate', 'duration_unemployment=GE12M', 0, '015', 'A', '2023', 'T', 'Y15-74', 'TOTAL', 'TOTAL', 2.0, 'PC'),
		('istat', 'disoccupazione_province', 'unemployment_rate', '', 0, '015', 'A', '2023', 'T', 'Y15-24', 'TOTAL', 'TOTAL', 19.0, 'PC'),
		('istat', 'popolazione_province', 'population', '', 3, '016', 'A', '2023', 'T', 'TOTAL', 'TOTAL', 'TOTAL', 1100.0, 'PERS'))
		t(source, dataset, indicator, breakdown, unit_mult, territory, freq, period, sex, age, education, citizenship, value, unit)) TO '`+obs+`' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	m := release.Manifest{Name: "t", Version: "1.0.0", Osservatorio: release.Extra{Files: release.StoredAsBlobs}}
	for name, path := range map[string]string{"labour_flows": file, "labels": labels, "observations": obs} {
		size, sum := fileHash(t, path)
		hash := "sha256:" + sum
		if err := b.PutFile(ctx, lake.BlobKey(hash), path, objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		m.Resources = append(m.Resources, release.Resource{Name: name, Path: release.Paths{"data/" + name + ".parquet"}, Format: "parquet", Bytes: size, Hash: hash})
	}
	data, _ := release.Encode(&m)
	if err := b.Put(ctx, release.Prefix("1.0.0")+release.ManifestName, bytesReader(data), int64(len(data)), objectstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	e := &explore.Explorer{Releases: release.NewStore(b), DB: db, Cache: t.TempDir()}
	got := func(territory, by string) string {
		t.Helper()
		fs, err := e.Flows(ctx, "1.0.0", territory, "month", by)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(fs)
	}
	if g, want := got("015", ""), "[{2024-01   15 6 1 1 0 10} {2024-02   7 9 0 0 0 -2}]"; g != want {
		t.Errorf("totals %s, want %s", g, want)
	}
	if g, want := got("015", "sex"), "[{2024-01 F Femmine 2 1 0 0 0 1} {2024-01 M Maschi 3 1 0 1 0 3}]"; g != want {
		t.Errorf("by sex %s, want %s", g, want)
	}
	if g, want := got("", "territory"), "[{2024-01 015  15 6 1 1 0 10} {2024-01 016  1 1 0 0 0 0} {2024-02 015  7 9 0 0 0 -2}]"; g != want {
		t.Errorf("by territory %s, want %s", g, want)
	}
	pop, err := e.Populations(ctx, "1.0.0", "015")
	if g, want := fmt.Sprint(pop), "[{2022 3.24e+06 eurostat demo_r_pjangrp3} {2023 3.2475e+06 istat popolazione_province}]"; err != nil || g != want {
		t.Errorf("population %s (%v), want %s", g, err, want)
	}
	// The official rates: the standard age class only (Y15-74 for unemployment), a breakdown only by totals
	// as the total, no indicators table here.
	rates, err := e.Indicators(ctx, "1.0.0", "015")
	if g, want := fmt.Sprint(rates), "[{unemployment_rate unemployment_rate Y15-74 2023 5.1 PC istat disoccupazione_province}]"; err != nil || g != want {
		t.Errorf("indicators %s (%v), want %s", g, err, want)
	}
	for _, bad := range [][3]string{{"001", "month", ""}, {"015", "week", ""}, {"015", "month", "secret"}} {
		if _, err := e.Flows(ctx, "1.0.0", bad[0], bad[1], bad[2]); !errors.Is(err, explore.ErrQuestion) {
			t.Errorf("%v: %v, want ErrQuestion", bad, err)
		}
	}
}

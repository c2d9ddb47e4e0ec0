package warehouse

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
)

func obs(geo, period string, v float64, pos int64) connectors.Observation {
	return connectors.Observation{Indicator: "x", Geo: geo, Period: period, Freq: "A", Value: &v, Position: pos}
}

func harmonize(t *testing.T, rows []connectors.Observation) (string, Stats, error) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(t.TempDir(), "o.parquet")
	st, err := db.HarmonizeObservations(ctx, Snapshot{Source: "s", Dataset: "d", RawSHA256: "abc"}, func(emit func(connectors.Observation) error) error {
		for _, r := range rows {
			if err := emit(r); err != nil {
				return err
			}
		}
		return nil
	}, out)
	return out, st, err
}

func TestHarmonizeMapsTerritoriesAndIsDeterministic(t *testing.T) {
	rows := []connectors.Observation{obs("ITC4C", "2020", 1, 0), obs("ITC45", "2021", 2, 1), obs("IT108", "2019", 3, 2), obs("itc4", "2022", 4, 3)}
	out1, st, err := harmonize(t, rows)
	if err != nil {
		t.Fatal(err)
	}
	if st.Rows != 4 || st.FirstPeriod != "2019" || st.LastPeriod != "2022" {
		t.Errorf("stats = %+v", st)
	}
	out2, _, err := harmonize(t, rows)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(out1)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("the same rows gave different Parquet bytes")
	}
	db, _ := Open(context.Background(), Options{})
	defer db.Close()
	rs, err := db.SQL().Query("SELECT territory, territory_nuts FROM read_parquet('" + out1 + "') ORDER BY raw_position")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []string
	for rs.Next() {
		var terr, nuts string
		rs.Scan(&terr, &nuts)
		got = append(got, terr+"/"+nuts)
	}
	want := "015/ITC4C 015/ITC4C 108/ITC4D 03/ITC4"
	if strings.Join(got, " ") != want {
		t.Errorf("territories = %v, want %s", got, want)
	}
}

func TestHarmonizeRejectsUnknownTerritory(t *testing.T) {
	_, _, err := harmonize(t, []connectors.Observation{obs("ITC4C", "2020", 1, 0), obs("FR10", "2020", 1, 1)})
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "FR10") {
		t.Fatalf("err = %v, want BadInput naming FR10", err)
	}
}

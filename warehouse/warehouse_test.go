package warehouse

import (
	"bytes"
	"context"
	"fmt"
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
	return harmonizeAs(t, Snapshot{Source: "s", Dataset: "d", RawSHA256: "abc"}, rows)
}

func harmonizeAs(t *testing.T, snap Snapshot, rows []connectors.Observation) (string, Stats, error) {
	t.Helper()
	ctx := context.Background()
	db, err := Open(ctx, Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := filepath.Join(t.TempDir(), "o.parquet")
	st, err := db.HarmonizeObservations(ctx, snap, func(emit func(connectors.Observation) error) error {
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

// Every row leaves with codes of the common model, a unit and its power of ten: from the observation
// (UNIT_MULT), the unit code (Eurostat's THS) or the configuration; a code no list has is kept verbatim,
// flagged in the row and counted.
func TestHarmonizeMapsCodesUnitsAndFlagsTheRest(t *testing.T) {
	three := 3
	v := 1.0
	rows := []connectors.Observation{
		{Indicator: "LF", Unit: "NR", UnitMult: &three, Geo: "ITC4C", Period: "2024", Freq: "A", Sex: "9", Age: "Y15-74", Education: "99", Citizenship: "TOTAL", Value: &v, Position: 0},
		{Indicator: "UNEM_R", Unit: "PC", Geo: "ITC4C", Period: "2024", Freq: "A", Sex: "2", Age: "Y15-74", Education: "7", Value: &v, Position: 1},
		{Indicator: "JAN", Geo: "ITC4C", Period: "2024", Freq: "A", Value: &v, Position: 2},
	}
	out, st, err := harmonizeAs(t, Snapshot{Source: "istat", Dataset: "x", RawSHA256: "abc", Unit: "PERS"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	db, _ := Open(context.Background(), Options{})
	defer db.Close()
	rs, err := db.SQL().Query("SELECT indicator, unit, unit_mult, sex, age, education, citizenship, unmapped FROM read_parquet('" + out + "') ORDER BY raw_position")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var got []string
	for rs.Next() {
		var ind, unit, sex, age, edu, cit, unm string
		var mult int
		rs.Scan(&ind, &unit, &mult, &sex, &age, &edu, &cit, &unm)
		got = append(got, strings.Join([]string{ind, unit, fmt.Sprint(mult), sex, age, edu, cit, unm}, " "))
	}
	want := []string{
		"labour_force NR 3 T Y15-74 TOTAL TOTAL ",
		"unemployment_rate PC 0 F Y15-74 7 TOTAL education",
		"population PERS 0 T TOTAL TOTAL TOTAL ",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("rows\n %s\nwant\n %s", strings.Join(got, "\n "), strings.Join(want, "\n "))
	}
	if len(st.Unmapped) != 1 || st.Unmapped[0] != (Unmapped{Column: "education", Label: "7", Count: 1}) {
		t.Errorf("unmapped = %+v", st.Unmapped)
	}

	// Eurostat's THS carries the thousands; no configured unit and none from the source: an empty unit.
	out, st, err = harmonizeAs(t, Snapshot{Source: "eurostat", Dataset: "nama_10r_3empers", RawSHA256: "abc"}, []connectors.Observation{
		{Indicator: "nama_10r_3empers", Unit: "THS", Geo: "ITC4", Period: "2023", Freq: "A", Value: &v, Position: 0},
		{Indicator: "nama_10r_3empers", Geo: "ITC4", Period: "2022", Freq: "A", Value: &v, Position: 1}})
	if err != nil || len(st.Unmapped) != 0 {
		t.Fatalf("%v %+v", err, st.Unmapped)
	}
	var units string
	if err := db.SQL().QueryRow("SELECT string_agg(COALESCE(unit, 'NULL') || '×10^' || unit_mult, ' ' ORDER BY raw_position) FROM read_parquet('" + out + "')").Scan(&units); err != nil {
		t.Fatal(err)
	}
	if units != "PERS×10^3 NULL×10^0" {
		t.Errorf("units %s, want PERS×10^3 NULL×10^0 (an empty unit is NULL, for the release gate)", units)
	}
}

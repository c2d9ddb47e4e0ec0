package integration

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// commonModel checks the latest release, once every source has been refreshed through the platform, as an
// analyst comparing sources would: every coded column of observations holds a code of its list or is
// flagged, every row has a unit, every indicator an Italian label, units in thousands say so, and the
// manifest credits every source.
func commonModel(t *testing.T, ctx context.Context) {
	m, err := shared.p.Releases.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	table := func(name string) string { return tableFrom(t, ctx, m.Version, name) }
	obs, indicators, labels, flows := table("observations"), table("indicators"), table("labels"), table("labour_flows")
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	model, err := codelist.LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	strs := func(q string) []string {
		t.Helper()
		rows, err := db.SQL().QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	sources := strs("SELECT DISTINCT source FROM " + obs + " ORDER BY 1")
	if strings.Join(sources, ",") != "eurostat,inail,inps,istat,mim,mlps,mur" {
		t.Errorf("sources in observations: %v", sources)
	}
	age := regexp.MustCompile(codelist.AgePattern)
	for _, dim := range codelist.Dimensions {
		for _, row := range strs(fmt.Sprintf(`SELECT DISTINCT COALESCE(%s, '<null>') || '|' || unmapped || '|' || source FROM %s`, dim, obs)) {
			parts := strings.SplitN(row, "|", 3)
			code, flagged := parts[0], strings.Contains(","+parts[1]+",", ","+dim+",")
			_, listed := model.Codes(dim)[code]
			if dim == codelist.Age {
				listed = listed || age.MatchString(code)
			}
			if !listed && !flagged {
				t.Errorf("%s: %s %q is neither in its code list nor flagged", parts[2], dim, code)
			}
		}
	}
	if n := strs("SELECT count(*)::VARCHAR FROM " + obs + " WHERE unit IS NULL OR unit = ''"); n[0] != "0" {
		t.Errorf("%s rows without a unit", n[0])
	}
	if bad := strs("SELECT indicator || ' ' || source FROM " + indicators + " WHERE label_it IS NULL OR label_it = ''"); len(bad) > 0 {
		t.Errorf("indicators without an Italian label: %v", bad)
	}
	// Figures in thousands say so: Eurostat's in the unit code (THS → PERS × 10³). (Istat's, on the series
	// or the data set, are proven on the demo's flows by `make demo` and in the connector's tests: this
	// stack refreshes one Istat flow, to spare its rate limit.)
	if got := strs("SELECT DISTINCT unit || ' ' || unit_mult FROM " + obs + " WHERE dataset = 'nama_10r_3empers'"); len(got) != 1 || got[0] != "PERS 3" {
		t.Errorf("employment in thousands: %v, want PERS 3", got)
	}
	// The same thing measured by two sources has one indicator id; sex is coded alike.
	if got := strs("SELECT DISTINCT source FROM " + obs + " WHERE indicator = 'unemployment_rate' AND sex = 'T' ORDER BY 1"); strings.Join(got, ",") != "eurostat,istat" {
		t.Errorf("unemployment_rate comes from %v", got)
	}
	if got := strs("SELECT DISTINCT period || ' ' || freq FROM " + obs + " WHERE source = 'mim'"); len(got) != 1 || got[0] != "2024-25 SY" {
		t.Errorf("MIM school years: %v", got)
	}
	// An analyst reads a figure with its labels.
	read := strs(`SELECT i.label_it || ', ' || l.label_it || ', ' || o.territory_name || ', ' || o.period || ': ' || o.value || ' ' || u.label_it
		FROM ` + obs + ` o JOIN ` + indicators + ` i USING (source, dataset, indicator, unit, unit_mult)
		JOIN ` + labels + ` l ON l.dimension = 'age' AND l.code = o.age
		JOIN ` + labels + ` u ON u.dimension = 'unit' AND u.code = o.unit
		WHERE o.source = 'istat' AND o.indicator = 'unemployment_rate' AND o.territory = '015' AND o.sex = 'T' AND o.period = '2024'`)
	if len(read) != 1 || !strings.HasPrefix(read[0], "Tasso di disoccupazione, 15-74 anni, Milano, 2024: ") || !strings.HasSuffix(read[0], " Percentuale") {
		t.Errorf("reading a figure: %v", read)
	}
	// The labour flows carry names, the region and sex totals.
	if got := strs("SELECT DISTINCT territory || ' ' || territory_name FROM " + flows + " WHERE territory IN ('03', '015') ORDER BY 1"); strings.Join(got, ",") != "015 Milano,03 Lombardia" {
		t.Errorf("flow territories: %v", got)
	}
	if got := strs("SELECT DISTINCT sex FROM " + flows + " ORDER BY 1"); !strings.Contains(strings.Join(got, ","), "T") {
		t.Errorf("flow sexes: %v", got)
	}
	// Every source is credited, per source and in the package's licences.
	for _, s := range m.Sources {
		if len(s.Licenses) == 0 || s.Attribution == "" {
			t.Errorf("%s/%s: licence %v, attribution %q", s.Source, s.Dataset, s.Licenses, s.Attribution)
		}
	}
	var names []string
	for _, l := range m.Licenses {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "CC-BY-4.0,IODL-2.0" {
		t.Errorf("package licences: %v", names)
	}
	if r, ok := m.Resource("observations"); !ok || len(r.Schema.Fields) == 0 {
		t.Error("no observations schema")
	} else {
		for _, f := range r.Schema.Fields {
			if f.Name == "sex" && len(f.Categories) != len(model.Codes(codelist.Sex)) {
				t.Errorf("sex categories: %+v", f.Categories)
			}
		}
	}
	rep, err := shared.p.Releases.Checks(ctx, m.Version)
	if err != nil || rep.Errors != 0 {
		t.Errorf("release checks: %+v, %v", rep, err)
	}
}

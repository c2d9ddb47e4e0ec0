package istat

import (
	"context"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
)

var ds = connectors.Dataset{Source: Name, ID: "disoccupazione_province", Code: "151_914_DF_DCCV_TAXDISOCCU1_8", Since: "2018",
	Filters: map[string][]string{"FREQ": {"A"}, "REF_AREA": {"ITC4C", "ITC41"}, "DATA_TYPE": {"UNEM_R"}, "SEX": {"9"}}}

func TestCheckLearnsTheKeyAndParseFilters(t *testing.T) {
	var paths []string
	var acceptHdr string
	m := mirror.New(mirror.Recorded())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.RequestURI())
		if strings.Contains(r.URL.Path, "/data/") {
			acceptHdr = r.Header.Get("Accept")
		}
		m.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := New(srv.URL+"/istat", httpfetch.New(httpfetch.Options{}))
	ctx := context.Background()
	sig, err := s.Check(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Token != "2026-03-12T10:00:00.000Z" {
		t.Errorf("LAST_UPDATE = %q", sig.Token)
	}
	if sig.Structure == nil || sig.Structure.Territory != "REF_AREA" {
		t.Fatalf("structure = %+v", sig.Structure)
	}
	ds := ds
	ds.Structure = sig.Structure // as the platform hands it back
	req, err := s.DataRequest(ds)
	if err != nil {
		t.Fatal(err)
	}
	// FREQ, REF_AREA, DATA_TYPE, SEX, AGE, EDU_LEV_HIGHEST, CITIZENSHIP, DURATION_UNEMPLOYMENT: from the DSD.
	want := srv.URL + "/istat/data/151_914_DF_DCCV_TAXDISOCCU1_8/A.ITC41+ITC4C.UNEM_R.9....?startPeriod=2018"
	if req.URL != want {
		t.Errorf("url =\n %s\nwant\n %s", req.URL, want)
	}
	resp, err := s.client.Get(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if acceptHdr != accept["generic"] {
		t.Errorf("Accept = %q", acceptHdr)
	}
	var got []connectors.Observation
	if err := s.Parse(ctx, ds, resp.Body, func(o connectors.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 14 { // 2 provinces × 7 years, SEX 9 only
		t.Fatalf("%d observations, want 14", len(got))
	}
	o := got[0]
	if o.Geo != "ITC41" || o.Sex != "9" || o.Indicator != "UNEM_R" || o.Unit != "PC" || o.Period != "2018" || o.Value == nil ||
		o.Breakdown != "duration_unemployment=TOTAL" || o.Education != "99" || o.Citizenship != "TOTAL" {
		t.Errorf("first = %+v", o)
	}
	if last := got[6]; last.Period != "2024" || last.Status != "p" {
		t.Errorf("2024 = %+v, want provisional", last)
	}
	for _, p := range paths {
		if strings.Contains(p, "endPeriod") {
			t.Errorf("endPeriod sent: %s", p)
		}
	}
}

func TestKeyFollowsTheDSD(t *testing.T) {
	got := Key([]string{"FREQ", "REF_AREA", "DATA_TYPE", "SEX"}, map[string][]string{"sex": {"9", "1"}, "FREQ": {"A"}})
	if got != "A...1+9" {
		t.Errorf("key = %q", got)
	}
}

func TestInspect(t *testing.T) {
	s := New("", nil)
	if err := s.Inspect(ds, 200, http.Header{}, []byte("<!DOCTYPE html><html>")); !fault.Is(err, fault.BadInput) {
		t.Errorf("HTML: %v", err)
	}
	csvDS := ds
	csvDS.Format = "csv"
	if err := s.Inspect(csvDS, 200, http.Header{}, []byte("<message:GenericData")); !fault.Is(err, fault.BadInput) {
		t.Errorf("XML when CSV was asked: %v", err)
	}
	if err := s.Inspect(csvDS, 200, http.Header{}, []byte("DATAFLOW,FREQ\n")); err != nil {
		t.Errorf("CSV: %v", err)
	}
}

// TestEveryConfiguredFlowAgainstTheMirror runs each Istat dataset of the default configuration through
// its change check, its DSD-built key and its parser, against the recorded mirror.
func TestEveryConfiguredFlowAgainstTheMirror(t *testing.T) {
	cfg, err := config.Parse("default", deploy.DefaultConfig, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mirror.New(mirror.Recorded()))
	defer srv.Close()
	s := New(srv.URL+"/istat", httpfetch.New(httpfetch.Options{}))
	ctx := context.Background()
	flows := cfg.Sources["istat"].Datasets
	if len(flows) < 7 {
		t.Fatalf("%d Istat datasets configured, want the six LFS provincial views and the population", len(flows))
	}
	for _, d := range flows {
		ds := connectors.Dataset{Source: Name, ID: d.ID, Code: d.Code, Filters: d.Filters, Since: d.Since, Format: d.Format}
		sig, err := s.Check(ctx, ds)
		if err != nil {
			t.Errorf("%s: check: %v", d.ID, err)
			continue
		}
		ds.Structure = sig.Structure
		req, err := s.DataRequest(ds)
		if err != nil {
			t.Errorf("%s: %v", d.ID, err)
			continue
		}
		resp, err := s.client.Get(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		provinces := map[string]bool{}
		err = s.Parse(ctx, ds, resp.Body, func(o connectors.Observation) error {
			provinces[o.Geo] = true
			return nil
		})
		resp.Body.Close()
		if err != nil || len(provinces) != 12 {
			t.Errorf("%s: %d provinces, %v", d.ID, len(provinces), err)
		}
	}
}

func parseIstat(t *testing.T, ds connectors.Dataset, file string) []connectors.Observation {
	t.Helper()
	f, err := os.Open("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []connectors.Observation
	if err := New("", nil).Parse(context.Background(), ds, f, func(o connectors.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	return got
}

// UNIT_MULT reaches every observation wherever the message attaches it: on the series (StructureSpecific)
// or once on the data set (GenericData), as UNIT_MEAS does on the series.
func TestUnitMultAtSeriesAndDataSetLevel(t *testing.T) {
	for file, format := range map[string]string{"ss-series-unit-mult-constructed.xml": "structurespecific", "generic-dataset-unit-mult-constructed.xml": "generic"} {
		got := parseIstat(t, connectors.Dataset{Source: Name, ID: "x", Format: format}, file)
		if len(got) != map[string]int{"structurespecific": 4, "generic": 2}[format] {
			t.Fatalf("%s: %d observations", file, len(got))
		}
		for _, o := range got {
			if o.UnitMult == nil || *o.UnitMult != 3 || o.Unit != "NR" || o.Geo != "ITC4C" || strings.Contains(o.Breakdown, "unit") {
				t.Errorf("%s: %+v (unit mult %v)", file, o, o.UnitMult)
			}
		}
	}
}

// An SDMX-CSV whose territory dimension is ITTER107 (real esploradati answer for 41_983) gives the
// territory, not an empty one with the code in the breakdown: from the DSD's territory dimension, and
// without a DSD from the territory concepts the columns name.
func TestTerritoryInITTER107(t *testing.T) {
	csvDS := connectors.Dataset{Source: Name, ID: "incidenti", Code: "41_983", Format: "csv"}
	for name, structure := range map[string]*connectors.Structure{
		"from the DSD": {Dimensions: []string{"FREQ", "ESITO", "ITTER107", "TIPO_DATO"}, Territory: "ITTER107"},
		"without one":  nil,
	} {
		ds := csvDS
		ds.Structure = structure
		got := parseIstat(t, ds, "esploradati-41_983-sdmx-csv-1.0-palermo.csv")
		if len(got) == 0 {
			t.Fatalf("%s: nothing parsed", name)
		}
		for _, o := range got {
			if o.Geo != "082053" || strings.Contains(o.Breakdown, "itter107") {
				t.Fatalf("%s: %+v", name, o)
			}
		}
	}
}

// A backfill chunk sends endPeriod one year early (esploradati's is off by one) and keeps only its periods.
func TestBackfillChunkAsksForItsYears(t *testing.T) {
	m := mirror.New(mirror.Recorded())
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.RawQuery
		m.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := New(srv.URL+"/istat", httpfetch.New(httpfetch.Options{}))
	chunk := ds
	chunk.Since, chunk.Until = "2019", "2020"
	chunk.Structure = &connectors.Structure{Dimensions: []string{"FREQ", "REF_AREA", "DATA_TYPE", "SEX", "AGE", "EDU_LEV_HIGHEST", "CITIZENSHIP", "DURATION_UNEMPLOYMENT"}, Territory: "REF_AREA"}
	req, err := s.DataRequest(chunk)
	if err != nil || !s.Backfills(chunk) {
		t.Fatal(err)
	}
	resp, err := s.client.Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if asked != "endPeriod=2019&startPeriod=2019" {
		t.Errorf("query = %s, want startPeriod=2019&endPeriod=2019 (which returns 2019 and 2020)", asked)
	}
	years := map[string]int{}
	if err := s.Parse(context.Background(), chunk, resp.Body, func(o connectors.Observation) error { years[o.Period]++; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(years) != 2 || years["2019"] != 2 || years["2020"] != 2 {
		t.Errorf("observations by year = %v, want 2 in 2019 and 2020 only", years)
	}
}

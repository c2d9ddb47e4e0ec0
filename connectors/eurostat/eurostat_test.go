package eurostat

import (
	"context"
	"io"
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

func mirrored(t *testing.T) *Source {
	t.Helper()
	srv := httptest.NewServer(mirror.New(mirror.Recorded()))
	t.Cleanup(srv.Close)
	return New(srv.URL+"/eurostat", httpfetch.New(httpfetch.Options{}))
}

func TestCheckReadsUpdateData(t *testing.T) {
	s := mirrored(t)
	sig, err := s.Check(context.Background(), connectors.Dataset{Source: Name, ID: "lfst_r_lfu3rt"})
	if err != nil {
		t.Fatal(err)
	}
	if sig.Token != "2025-04-24T23:00:00+0200" {
		t.Errorf("token = %q", sig.Token)
	}
	if !strings.HasSuffix(sig.URL, "/sdmx/2.1/dataflow/ESTAT/LFST_R_LFU3RT/latest") {
		t.Errorf("url = %q", sig.URL)
	}
}

func TestDataRequestFilters(t *testing.T) {
	s := New("https://ec.europa.eu/eurostat/api/dissemination/", nil)
	req, err := s.DataRequest(connectors.Dataset{ID: "lfst_r_lfu3rt", Since: "2015",
		Filters: map[string][]string{"geo": {"ITC4"}, "age": {"Y15-74", "Y15-24"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := "https://ec.europa.eu/eurostat/api/dissemination/statistics/1.0/data/lfst_r_lfu3rt?age=Y15-74&age=Y15-24&format=JSON&geo=ITC4&lang=EN&sinceTimePeriod=2015"
	if req.URL != want {
		t.Errorf("url =\n %s\nwant\n %s", req.URL, want)
	}
}

func parseMirror(t *testing.T, dataset string) []connectors.Observation {
	t.Helper()
	f, err := mirror.Recorded().Open("eurostat/statistics/1.0/data/" + dataset + ".json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []connectors.Observation
	err = New("", nil).Parse(context.Background(), connectors.Dataset{ID: dataset}, f, func(o connectors.Observation) error {
		got = append(got, o)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestParseUnemploymentRates(t *testing.T) {
	got := parseMirror(t, "lfst_r_lfu3rt")
	if len(got) != 90 {
		t.Fatalf("rows = %d, want 90", len(got))
	}
	first := got[0]
	if first.Geo != "ITC4" || first.Period != "2015" || first.Freq != "A" || first.Sex != "F" || first.Age != "Y15-24" ||
		first.Education != "TOTAL" || first.Unit != "PC" || first.Indicator != "lfst_r_lfu3rt" || first.Breakdown != "" {
		t.Errorf("first = %+v", first)
	}
	breaks := 0
	for _, o := range got {
		if o.Period == "2021" && o.Status != "b" {
			t.Errorf("%+v: 2021 is a break in series", o)
		}
		if o.Status == "b" {
			breaks++
		}
	}
	if breaks != 9 {
		t.Errorf("breaks = %d, want 9", breaks)
	}
}

func TestParseKeepsExtraDimensionsAndMissingCells(t *testing.T) {
	got := parseMirror(t, "nama_10r_3empers")
	var statusOnly int
	for _, o := range got {
		if o.Breakdown != "wstatus=EMP" || o.Sector != "TOTAL" {
			t.Fatalf("%+v: want breakdown wstatus=EMP and sector TOTAL", o)
		}
		if o.Value == nil {
			statusOnly++
		}
	}
	if statusOnly != 0 {
		t.Errorf("status-only cells = %d", statusOnly)
	}
}

func TestInspect(t *testing.T) {
	legacyFooter, err := os.ReadFile("testdata/legacy-async-footer-413.xml")
	if err != nil {
		t.Fatal(err)
	}
	json := http.Header{"Content-Type": {"application/json"}}
	tests := []struct {
		name   string
		status int
		header http.Header
		body   string
		want   fault.Kind
	}{
		{"dataset", 200, json, `{"version":"2.0","class":"dataset","value":{}}`, ""},
		{"html page", 200, http.Header{"Content-Type": {"text/html"}}, `<!DOCTYPE html><html>Maintenance</html>`, fault.BadInput},
		{"html without type", 200, http.Header{}, "\n<html><body>Error</body></html>", fault.BadInput},
		{"too big", 413, json, `{"error":[{"status":413,"label":"EXTRACTION_TOO_BIG"}]}`, fault.BadInput},
		{"error document", 200, json, `{"error":[{"status":400,"label":"INVALID_DIMENSION"}]}`, fault.BadInput},
		{"queued", 200, json, `{"warning":{"status":413,"label":"ASYNCHRONOUS_RESPONSE"}}`, fault.Deferred},
		{"legacy footer", 200, http.Header{}, string(legacyFooter), fault.Deferred},
		{"not json", 200, json, `garbage`, fault.BadInput},
	}
	s := New("", nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Inspect(connectors.Dataset{ID: "x"}, tt.status, tt.header, []byte(tt.body))
			if got := fault.KindOf(err); got != tt.want {
				t.Errorf("kind = %q (%v), want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseLegacyBundleIsBadInput(t *testing.T) {
	f, err := os.Open("testdata/legacy-wdds-jsonstat-nama_gdp_c-geo_IT_FR.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = New("", nil).Parse(context.Background(), connectors.Dataset{ID: "nama_gdp_c"}, f, func(connectors.Observation) error { return nil })
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "not a JSON-stat 2.0 dataset") {
		t.Fatalf("err = %v, want BadInput naming the format", err)
	}
}

func TestParseMissingGeoIsSchemaChange(t *testing.T) {
	doc := `{"version":"2.0","class":"dataset","id":["time"],"size":[1],"value":[1],"dimension":{"time":{"category":{"index":["2020"]}}}}`
	err := New("", nil).Parse(context.Background(), connectors.Dataset{ID: "x"}, io.NopCloser(strings.NewReader(doc)), func(connectors.Observation) error { return nil })
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), `"geo" missing`) {
		t.Fatalf("err = %v", err)
	}
}

func TestNormalizePeriod(t *testing.T) {
	tests := []struct{ in, want, freq string }{
		{"2023", "2023", "A"}, {"2023-Q1", "2023-Q1", "Q"}, {"2023Q4", "2023-Q4", "Q"}, {"2023-01", "2023-01", "M"},
		{"2023M11", "2023-11", "M"}, {"2023-S2", "2023-S2", "S"}, {"2023W05", "2023-W05", "W"}, {"2023-01-31", "2023-01-31", "D"},
		{" 2013 ", "2013", "A"},
	}
	for _, tt := range tests {
		got, freq, err := NormalizePeriod(tt.in)
		if err != nil || got != tt.want || freq != tt.freq {
			t.Errorf("NormalizePeriod(%q) = %q, %q, %v; want %q, %q", tt.in, got, freq, err, tt.want, tt.freq)
		}
	}
	for _, bad := range []string{"2023-Q5", "2023-13", "23", "2023-X1", ""} {
		if _, _, err := NormalizePeriod(bad); err == nil {
			t.Errorf("NormalizePeriod(%q): no error", bad)
		}
	}
}

func parseFile(t *testing.T, ds connectors.Dataset, name string) ([]connectors.Observation, error) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []connectors.Observation
	err = New("", nil).Parse(context.Background(), ds, f, func(o connectors.Observation) error {
		got = append(got, o)
		return nil
	})
	return got, err
}

func TestParseTSVFiltersAndFlags(t *testing.T) {
	ds := connectors.Dataset{ID: "lfst_r_lfu3rt", Format: FormatTSV, Filters: map[string][]string{"geo": {"ITC4"}}}
	got, err := parseFile(t, ds, "lfst_r_lfu3rt-constructed.tsv")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Sex, Period, Status string
		Value               float64
		Null                bool
	}
	var rows []row
	for _, o := range got {
		r := row{Sex: o.Sex, Period: o.Period, Status: o.Status, Null: o.Value == nil}
		if o.Value != nil {
			r.Value = *o.Value
		}
		if o.Geo != "ITC4" {
			t.Errorf("ITC1 was not filtered out: %+v", o)
		}
		rows = append(rows, r)
	}
	want := []row{
		{"F", "2021", "b", 6.8, false}, {"F", "2023", "", 5.9, false},
		{"T", "2021", "b", 5.9, false}, {"T", "2022", "", 5.0, false}, {"T", "2023", "c", 0, true},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
}

func TestParseStructureSpecific(t *testing.T) {
	ds := connectors.Dataset{ID: "nama_10_gdp", Format: FormatSDMXSS}
	got, err := parseFile(t, ds, "NAMA_10_GDP-structurespecific-2.1.xml")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Geo != "LU" || got[0].Unit != "CP_MEUR" || got[0].Breakdown != "na_item=B1GQ" || *got[3].Value != 54142.3 {
		t.Errorf("observations = %+v", got)
	}
}

func TestTSVRejectsMalformedRows(t *testing.T) {
	ds := connectors.Dataset{ID: "x", Format: FormatTSV}
	for name, doc := range map[string]string{
		"no header":      "A,PC,ITC4\t1\n",
		"short row":      "freq,geo\\TIME_PERIOD\t2020 \t2021 \nA,ITC4\t1\n",
		"not a number":   "freq,geo\\TIME_PERIOD\t2020 \nA,ITC4\tabc\n",
		"bad period":     "freq,geo\\TIME_PERIOD\t20X0 \nA,ITC4\t1\n",
		"too many codes": "freq,geo\\TIME_PERIOD\t2020 \nA,ITC4,X\t1\n",
	} {
		err := New("", nil).Parse(context.Background(), ds, strings.NewReader(doc), func(connectors.Observation) error { return nil })
		if !fault.Is(err, fault.BadInput) {
			t.Errorf("%s: %v, want BadInput", name, err)
		}
	}
}

func FuzzParseTSV(f *testing.F) {
	data, err := os.ReadFile("testdata/lfst_r_lfu3rt-constructed.tsv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	ds := connectors.Dataset{ID: "x", Format: FormatTSV}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = New("", nil).Parse(context.Background(), ds, strings.NewReader(string(data)), func(o connectors.Observation) error {
			if o.Period == "" {
				t.Fatal("observation without a period")
			}
			return nil
		})
	})
}

func TestDataRequestPerFormat(t *testing.T) {
	s := New("https://example.test/api/dissemination", nil)
	tests := map[string]string{
		FormatTSV:    "https://example.test/api/dissemination/sdmx/2.1/data/LFST_R_LFU3RT?format=TSV&startPeriod=2015",
		FormatSDMXSS: "https://example.test/api/dissemination/sdmx/2.1/data/LFST_R_LFU3RT?format=SDMX_2.1_STRUCTURED&startPeriod=2015",
	}
	for f, want := range tests {
		req, err := s.DataRequest(connectors.Dataset{ID: "lfst_r_lfu3rt", Since: "2015", Format: f})
		if err != nil || req.URL != want {
			t.Errorf("%s: %s, %v", f, req.URL, err)
		}
	}
	if _, err := s.DataRequest(connectors.Dataset{ID: "x", Format: "csv3"}); !fault.Is(err, fault.BadInput) {
		t.Errorf("unknown format: %v", err)
	}
	tsv := connectors.Dataset{ID: "x", Format: FormatTSV}
	if err := s.Inspect(tsv, 200, http.Header{}, []byte("freq,geo\\TIME_PERIOD\t2020 \n")); err != nil {
		t.Errorf("TSV rejected: %v", err)
	}
	if err := s.Inspect(tsv, 200, http.Header{}, []byte("{\"error\":1}")); !fault.Is(err, fault.BadInput) {
		t.Errorf("JSON accepted as TSV: %v", err)
	}
}

func TestSDMXCSV20(t *testing.T) {
	ds := connectors.Dataset{ID: "lfst_r_lfe2emprt", Format: FormatSDMXCSV, Since: "2015", Filters: map[string][]string{"geo": {"ITC4", "ITC4C"}, "age": {"Y15-64"}}}
	req, err := New("https://example.test/api/dissemination", nil).DataRequest(ds)
	if err != nil {
		t.Fatal(err)
	}
	want := "https://example.test/api/dissemination/sdmx/3.0/data/dataflow/ESTAT/LFST_R_LFE2EMPRT/1.0/*?c%5Bage%5D=Y15-64&c%5Bgeo%5D=ITC4%2CITC4C&c%5BTIME_PERIOD%5D=ge%3A2015"
	if req.URL != want || req.Header.Get("Accept") != "application/vnd.sdmx.data+csv;version=2.0.0" {
		t.Errorf("request = %s %v", req.URL, req.Header)
	}
	got, err := parseFile(t, ds, "lfst_r_lfe2emprt-constructed-sdmx-csv-2.0.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[1].Status != "p" || *got[1].Value != 70.1 || got[2].Value != nil || got[2].Status != "c" || got[0].Sex != "T" {
		t.Errorf("observations = %+v", got)
	}
}

// SDMX-CSV 2.0 may be written with ';', decimal commas and code: label cells; the since period is applied
// on read, whatever the endpoint did with it.
func TestSDMXCSV20SemicolonLabelsAndSince(t *testing.T) {
	ds := connectors.Dataset{ID: "lfst_r_lfe2emprt", Format: FormatSDMXCSV, Since: "2015", Filters: map[string][]string{"geo": {"ITC4"}}}
	got, err := parseFile(t, ds, "lfst_r_lfe2emprt-constructed-sdmx-csv-2.0-semicolon-labels.csv")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("%d observations, want 3 (2014 before since, ITC1 filtered): %+v", len(got), got)
	}
	o := got[1]
	if o.Period != "2023" || *o.Value != 70.1 || o.Status != "p" || o.Sex != "T" || o.Age != "Y15-64" || o.Unit != "PC" || o.Geo != "ITC4" || o.Breakdown != "" {
		t.Errorf("observation = %+v", o)
	}
	if got[2].Value != nil || got[2].Status != "c" || got[2].Sex != "F" {
		t.Errorf("confidential = %+v", got[2])
	}
}

func TestTSVIsFilteredBySince(t *testing.T) {
	ds := connectors.Dataset{ID: "lfst_r_lfu3rt", Format: FormatTSV, Since: "2022", Filters: map[string][]string{"geo": {"ITC4"}}}
	got, err := parseFile(t, ds, "lfst_r_lfu3rt-constructed.tsv")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if o.Period < "2022" {
			t.Errorf("period %s published before since 2022", o.Period)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d observations, want 3", len(got))
	}
}

func TestBefore(t *testing.T) {
	for _, c := range []struct {
		period, since string
		want          bool
	}{{"2014", "2015", true}, {"2015", "2015", false}, {"2014-Q4", "2015", true}, {"2015-Q1", "2015", false},
		{"2015-Q1", "2015-06", true}, {"2015-Q2", "2015-06", true}, {"2015-Q3", "2015-06", false}, {"2015-05", "2015-Q2", false},
		{"2016-S1", "2016-07", true}, {"2016", "", false}} {
		if got := Before(c.period, c.since); got != c.want {
			t.Errorf("Before(%s, %s) = %v", c.period, c.since, got)
		}
	}
}

// A backfill chunk asks each endpoint for its period range and keeps only it on read.
func TestBackfillChunkRequestsAndKeepsItsPeriods(t *testing.T) {
	s := New("https://example.test/api/dissemination", nil)
	chunk := connectors.Dataset{ID: "lfst_r_lfu3rt", Since: "2017", Until: "2018", Filters: map[string][]string{"geo": {"ITC4"}}}
	for f, want := range map[string]string{
		FormatJSONStat: "https://example.test/api/dissemination/statistics/1.0/data/lfst_r_lfu3rt?format=JSON&geo=ITC4&lang=EN&sinceTimePeriod=2017&untilTimePeriod=2018",
		FormatTSV:      "https://example.test/api/dissemination/sdmx/2.1/data/LFST_R_LFU3RT?endPeriod=2018&format=TSV&startPeriod=2017",
		FormatSDMXCSV:  "https://example.test/api/dissemination/sdmx/3.0/data/dataflow/ESTAT/LFST_R_LFU3RT/1.0/*?c%5Bgeo%5D=ITC4&c%5BTIME_PERIOD%5D=ge%3A2017%2Ble%3A2018",
	} {
		ds := chunk
		ds.Format = f
		if req, err := s.DataRequest(ds); err != nil || req.URL != want {
			t.Errorf("%s: %s, %v\nwant %s", f, req.URL, err, want)
		}
	}
	if !s.Backfills(chunk) {
		t.Error("Eurostat datasets not backfillable")
	}
	// The recording answers every period (2015–2024), as an endpoint that ignored the range would.
	f, err := mirror.Recorded().Open("eurostat/statistics/1.0/data/lfst_r_lfu3rt.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var got []connectors.Observation
	if err := s.Parse(context.Background(), chunk, f, func(o connectors.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	years := map[string]bool{}
	for _, o := range got {
		years[o.Period] = true
	}
	if len(got) == 0 || len(years) != 2 || !years["2017"] || !years["2018"] {
		t.Errorf("%d observations in periods %v, want 2017 and 2018 only", len(got), years)
	}
}

func TestAfter(t *testing.T) {
	for _, c := range []struct {
		period, until string
		want          bool
	}{{"2019", "2018", true}, {"2018", "2018", false}, {"2018-Q4", "2018", false}, {"2019-Q1", "2018", true},
		{"2018-Q3", "2018-06", true}, {"2018-Q2", "2018-06", false}, {"2018-07", "2018-Q2", true}, {"2018-06", "2018-S1", false},
		{"2018", "2018-06", false}, {"2030", "", false}} {
		if got := After(c.period, c.until); got != c.want {
			t.Errorf("After(%s, %s) = %v", c.period, c.until, got)
		}
	}
}

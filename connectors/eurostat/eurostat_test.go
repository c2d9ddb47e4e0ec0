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

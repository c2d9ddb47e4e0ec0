package istat

import (
	"context"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"net/http"
	"net/http/httptest"
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
	if o.Geo != "ITC41" || o.Sex != "T" || o.Indicator != "UNEM_R" || o.Unit != "PC" || o.Period != "2018" || o.Value == nil ||
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
		if _, err := s.Check(ctx, ds); err != nil {
			t.Errorf("%s: check: %v", d.ID, err)
			continue
		}
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

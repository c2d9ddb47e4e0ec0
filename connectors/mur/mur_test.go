package mur

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
)

var ds = connectors.Dataset{Source: Name, ID: "iscritti_residenza", Code: "iscritti", Resource: "07_iscrittixresidenza.csv"}

func TestResolveFetchAndParse(t *testing.T) {
	srv := httptest.NewServer(mirror.New(mirror.Recorded()))
	defer srv.Close()
	s := New(srv.URL+"/mur", httpfetch.New(httpfetch.Options{}))
	ctx := context.Background()
	sig, err := s.Check(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Token != "2026-03-02T09:12:00.000000" {
		t.Errorf("signal = %q, want the resource's last_modified", sig.Token)
	}
	req, err := s.DataRequest(ds)
	if err != nil || !strings.HasPrefix(req.URL, srv.URL+"/mur/dataset/") {
		t.Fatalf("request = %+v, %v: the resource must be fetched from the configured site", req, err)
	}
	resp, err := s.files.Client.Get(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []connectors.Observation
	if err := s.Parse(ctx, ds, resp.Body, func(o connectors.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	// 3 years × 3 universities × 12 Lombardy provinces × 2 sexes; Torino (1) skipped.
	if len(got) != 216 {
		t.Fatalf("%d observations, want 216", len(got))
	}
	seen := map[string]bool{}
	for _, o := range got {
		seen[o.Geo] = true
		if o.Indicator != "iscritti" || o.Period < "2022" || o.Freq != "SY" || len(o.Period) != 7 || o.Period[4] != '-' || !strings.Contains(o.Breakdown, "ateneocod=") {
			t.Fatalf("observation %+v", o)
		}
	}
	for _, want := range []string{"012", "015", "017", "097", "108"} {
		if !seen[want] {
			t.Errorf("province %s missing: leading zeros not restored?", want)
		}
	}
}

func TestParseRejectsChangedSchema(t *testing.T) {
	err := New("", nil).Parse(context.Background(), ds, strings.NewReader("AnnoA;Provincia;Totale\r\n2024/2025;15;10\r\n"), func(connectors.Observation) error { return nil })
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "schema changed") {
		t.Errorf("err = %v", err)
	}
	if err := New("", nil).Inspect(ds, 200, http.Header{"Content-Type": {"text/html"}}, []byte("<html>")); !fault.Is(err, fault.BadInput) {
		t.Errorf("HTML: %v", err)
	}
}

// TestEnrolmentsAndGraduatesFromTheirPackages: first-year enrolments by residence and graduates by the
// site of their university, each found in its own package (a recording per package id in the mirror).
func TestEnrolmentsAndGraduatesFromTheirPackages(t *testing.T) {
	srv := httptest.NewServer(mirror.New(mirror.Recorded()))
	defer srv.Close()
	s := New(srv.URL+"/mur", httpfetch.New(httpfetch.Options{}))
	ctx := context.Background()
	for _, tt := range []struct {
		ds        connectors.Dataset
		indicator string
		geos      int
	}{
		{connectors.Dataset{Source: Name, ID: "immatricolati_residenza", Code: "immatricolati", Resource: "12_immatricolatixresidenzasedecorsogruppo.csv"}, "immatricolati", 12},
		{connectors.Dataset{Source: Name, ID: "laureati_sede", Code: "laureati", Resource: "02_laureatixateneo.csv"}, "laureati", 4},
	} {
		if _, err := s.Check(ctx, tt.ds); err != nil {
			t.Fatalf("%s: %v", tt.ds.ID, err)
		}
		req, _ := s.DataRequest(tt.ds)
		if !strings.Contains(req.URL, tt.ds.Code) {
			t.Errorf("%s: %s is not in its package", tt.ds.ID, req.URL)
		}
		resp, err := s.files.Client.Get(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		geos := map[string]bool{}
		err = s.Parse(ctx, tt.ds, resp.Body, func(o connectors.Observation) error {
			if o.Indicator != tt.indicator {
				t.Errorf("%s: indicator %s", tt.ds.ID, o.Indicator)
			}
			geos[o.Geo] = true
			return nil
		})
		resp.Body.Close()
		// Residence outside Lombardy (Torino 001, Ancona 058) and Cattolica's Piacenza site (033) are left out.
		if err != nil || len(geos) != tt.geos || geos["001"] || geos["033"] {
			t.Errorf("%s: provinces %v, %v", tt.ds.ID, geos, err)
		}
	}
}

func TestAcademicYear(t *testing.T) {
	for in, want := range map[string]string{"2024/2025": "2024-25 SY", "2009/2010": "2009-10 SY", "2099/2100": "2099-00 SY", "2024": "2024 A"} {
		p, f, err := academicYear(in)
		if err != nil || p+" "+f != want {
			t.Errorf("academicYear(%q) = %s %s, %v; want %s", in, p, f, err, want)
		}
	}
	for _, bad := range []string{"2024/2026", "24/25", "anno"} {
		if _, _, err := academicYear(bad); err == nil {
			t.Errorf("academicYear(%q): no error", bad)
		}
	}
}

package mlps

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

var ds = connectors.Dataset{Source: Name, ID: "co_regione_genere", Code: "rapporti-di-lavoro-attivati-e-cessati-per-regione-e-genere",
	Resource: "rapporti_attivati_cessati_regione_genere.csv",
	Columns:  map[string]string{"period": "ANNO", "quarter": "TRIMESTRE", "geo": "REGIONE", "sex": "GENERE", "values": "RAPPORTI_ATTIVATI, RAPPORTI_CESSATI"}}

func TestCheckFindsTheFileAndReadsIt(t *testing.T) {
	var asked []string
	mux := http.NewServeMux()
	mux.HandleFunc("/opendata/api/3/action/package_show", func(w http.ResponseWriter, r *http.Request) {
		asked = append(asked, r.URL.Query().Get("id"))
		http.ServeFile(w, r, "testdata/package_show-rapporti-attivati-cessati.json")
	})
	mux.HandleFunc("/mirror/SpodCkanApi/dataset/rapporti-attivati-cessati/resource/a1b2c3d4/download/rapporti_attivati_cessati_regione_genere.csv", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "testdata/rapporti_attivati_cessati_regione_genere.csv")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := httpfetch.New(httpfetch.Options{})

	// Without a files URL the file is fetched where the catalogue says; with one, from the same path there.
	s := New(srv.URL+"/opendata", "", client)
	if _, err := s.Check(context.Background(), ds); err != nil {
		t.Fatal(err)
	}
	if req, _ := s.DataRequest(ds); !strings.HasPrefix(req.URL, "https://dati.lavoro.gov.it/SpodCkanApi/") {
		t.Errorf("file URL %s", req.URL)
	}
	s = New(srv.URL+"/opendata", srv.URL+"/mirror", client)
	sig, err := s.Check(context.Background(), ds)
	if err != nil || sig.Token != "2025-09-30T10:12:40.000000" || asked[0] != ds.Code {
		t.Fatalf("signal %+v, %v, asked %v", sig, err, asked)
	}
	req, _ := s.DataRequest(ds)
	resp, err := client.Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []connectors.Observation
	if err := s.Parse(context.Background(), ds, resp.Body, func(o connectors.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	// Lombardia only: 2 years × 4 quarters × 2 sexes × 2 measures.
	if len(got) != 32 {
		t.Fatalf("%d observations, want 32", len(got))
	}
	if o := got[0]; o.Geo != "03" || o.Period != "2023-Q1" || o.Sex != "M" || o.Indicator != "co_regione_genere.rapporti_attivati" || *o.Value != 374879 {
		t.Errorf("first %+v", o)
	}
}

func TestTheWAFsHTMLIsRejected(t *testing.T) {
	s := New("", "", nil)
	err := s.Inspect(ds, 200, http.Header{"Content-Type": {"text/html"}}, []byte("<html><body>Request Rejected</body></html>"))
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "WAF") {
		t.Errorf("%v", err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>Request Rejected</body></html>"))
	}))
	defer srv.Close()
	if _, err := New(srv.URL, "", httpfetch.New(httpfetch.Options{})).Check(context.Background(), ds); !fault.Is(err, fault.BadInput) {
		t.Errorf("package_show answered with HTML: %v", err)
	}
}

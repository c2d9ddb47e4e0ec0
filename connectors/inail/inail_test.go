package inail

import (
	"context"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
)

func TestRecordsOfTheRealAPIResponse(t *testing.T) {
	f, err := os.Open("testdata/DatiConCadenzaMensileInfortuni-Liguria-2019-11-first30.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := Records(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 30 || recs[0].Genere != "F" || recs[0].LuogoAccadimento != "008" || recs[0].DataMorte != nil || recs[1].SettoreAttivitaEconomica != "P 85" {
		t.Errorf("records: %d, first %+v", len(recs), recs[0])
	}
	// Liguria is outside the crosswalk: nothing is counted, nothing fails.
	for _, r := range recs {
		if _, ok, err := keyOf(r); ok || err != nil {
			t.Errorf("%+v counted (%v)", r, err)
		}
	}
}

func TestKey(t *testing.T) {
	dead := "03/05/2025"
	k, ok, err := keyOf(Record{DataAccadimento: "01/05/2025", LuogoAccadimento: "015", Genere: "M", SettoreAttivitaEconomica: "F 43", DataMorte: &dead})
	if err != nil || !ok || k != (key{prov: "015", month: "2025-05", sex: "M", section: "F", fatal: "S"}) {
		t.Errorf("key = %+v, %v, %v", k, ok, err)
	}
	if _, _, err := keyOf(Record{DataAccadimento: "2025-05-01", LuogoAccadimento: "015"}); err == nil {
		t.Error("an ISO date was accepted")
	}
}

func TestParseTheMirroredArchive(t *testing.T) {
	srv := httptest.NewServer(mirror.New(mirror.Recorded()))
	defer srv.Close()
	s := New(srv.URL+"/inail", nil, nil)
	ds := connectors.Dataset{Source: Name, ID: "infortuni_mensili", Code: "Lombardia"}
	req, _ := s.DataRequest(ds)
	resp, err := httpfetch.New(httpfetch.Options{}).Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var total float64
	var n int
	err = s.Parse(context.Background(), ds, resp.Body, func(o connectors.Observation) error {
		total += *o.Value
		n++
		if o.Freq != "M" || len(o.Period) != 7 || o.Indicator != "infortuni_denunciati" {
			t.Fatalf("observation %+v", o)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2000 || n == 0 {
		t.Errorf("%d observations counting %.0f injuries, want 2000", n, total)
	}
	if err := s.Inspect(ds, 200, nil, []byte("<html>")); !fault.Is(err, fault.BadInput) {
		t.Errorf("HTML accepted: %v", err)
	}
	bad := strings.NewReader("not a zip")
	if err := s.Parse(context.Background(), ds, bad, func(connectors.Observation) error { return nil }); !fault.Is(err, fault.BadInput) {
		t.Errorf("garbage parsed: %v", err)
	}
}

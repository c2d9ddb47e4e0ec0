package inps

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

var ds = connectors.Dataset{Source: Name, ID: "precariato_assunzioni", Code: "378",
	Query:   map[string][]string{"rows": {"Anno-", "Mese-"}, "cols": {"Regione", "Tipologia contrattuale"}},
	Filters: map[string][]string{"anno": {"2025"}}}

func TestQueryIsCompactJSONSentByPOST(t *testing.T) {
	var body []byte
	var method, ctype string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, ctype = r.Method, r.Header.Get("Content-Type")
		body, _ = io.ReadAll(r.Body)
		http.ServeFile(w, r, "testdata/precariato-assunzioni-getDatiOsservatorio.json")
	}))
	defer srv.Close()
	s := New(srv.URL, httpfetch.New(httpfetch.Options{}))
	req, err := s.DataRequest(ds)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpfetch.New(httpfetch.Options{}).Get(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var compact bytes.Buffer
	json.Compact(&compact, body)
	if method != http.MethodPost || ctype != "application/json" || !bytes.Equal(compact.Bytes(), body) {
		t.Errorf("%s %s %s", method, ctype, body)
	}
	want := `{"id_osservatorio":"378","language":"","totalRow":false,"totalColumn":false,"subtotalRow":false,"subtotalColumn":false,` +
		`"selections":{"rows":[{"id":"Anno-","label":"Anno-","order":1,"expand":"","hide":false,"aggregate":false},{"id":"Mese-","label":"Mese-","order":2,"expand":"","hide":false,"aggregate":false}],` +
		`"cols":[{"id":"Regione","label":"Regione","order":1,"expand":"","hide":false,"aggregate":true},{"id":"Tipologia contrattuale","label":"Tipologia contrattuale","order":2,"expand":"","hide":false,"aggregate":true}],` +
		`"measures":[{"id":"_FREQ_SUM","label":"_FREQ_SUM","order":1}],"filters":[{"id":"anno","label":"anno","values":["2025"]}]}}`
	if string(body) != want {
		t.Errorf("body\n%s\nwant\n%s", body, want)
	}
}

func TestCheckHashesTheTotalsByPeriod(t *testing.T) {
	totals, _ := os.ReadFile("testdata/precariato-assunzioni-totals-by-period.json")
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q Query
		json.NewDecoder(r.Body).Decode(&q)
		asked = append(asked, q.Selections.Rows[0].ID+"+"+q.Selections.Rows[1].ID+" cols:"+string(rune('0'+len(q.Selections.Cols))))
		w.Write(totals)
	}))
	defer srv.Close()
	s := New(srv.URL, httpfetch.New(httpfetch.Options{}))
	a, err := s.Check(context.Background(), ds)
	if err != nil || !strings.HasPrefix(a.Token, "totals-sha256=") {
		t.Fatalf("%+v %v", a, err)
	}
	b, _ := s.Check(context.Background(), ds)
	totals = bytes.Replace(totals, []byte(`"Settembre"`), []byte(`"Ottobre"`), 1)
	c, _ := s.Check(context.Background(), ds)
	if a.Token != b.Token || a.Token == c.Token {
		t.Errorf("tokens %s %s %s: same answer, same token; a new month, a new one", a.Token, b.Token, c.Token)
	}
	if asked[0] != "Anno-+Mese- cols:0" {
		t.Errorf("the check asked %s, want the period rows and no columns", asked[0])
	}
}

func TestParseTheObservatoryAnswer(t *testing.T) {
	f, _ := os.Open("testdata/precariato-assunzioni-getDatiOsservatorio.json")
	defer f.Close()
	var got []connectors.Observation
	if err := New("", nil).Parse(context.Background(), ds, f, func(o connectors.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 9*6 {
		t.Fatalf("%d observations, want 54 (Lombardy: 9 months × 6 contracts)", len(got))
	}
	o := got[0]
	if o.Geo != "03" || o.Period != "2025-01" || o.Freq != "M" || o.Breakdown != "Tipologia contrattuale=Tempo indeterminato" || *o.Value != 20077 || o.Indicator != "precariato_assunzioni" || o.Position != 1 {
		t.Errorf("first %+v (value %v)", o, *o.Value)
	}
	if last := got[len(got)-1]; last.Period != "2025-09" || last.Position <= o.Position {
		t.Errorf("last %+v", last)
	}
}

func TestBadAnswers(t *testing.T) {
	s := New("", nil)
	for name, body := range map[string]string{
		"html":       "<!DOCTYPE html><html>Servizio non disponibile</html>",
		"changed":    `{"data":[{"righe":[]}]}`,
		"no geo":     `{"values":[{"rows":[{"values":[{"id":"Anno-","value":"2025"}],"columns":[{"values":[{"id":"Sesso","value":"M"}],"measures":[{"id":"_FREQ_SUM","value":"1"}]}]}]}]}`,
		"bad number": `{"values":[{"rows":[{"values":[{"id":"Anno-","value":"2025"}],"columns":[{"values":[{"id":"Regione","value":"Lombardia"}],"measures":[{"id":"_FREQ_SUM","value":"12,3,4"}]}]}]}]}`,
		"truncated":  `{"values":[{"rows":[{"values":[{"id":"Anno-","val`,
	} {
		err := s.Inspect(ds, 200, nil, []byte(body))
		if err == nil {
			err = s.Parse(context.Background(), ds, strings.NewReader(body), func(connectors.Observation) error { return nil })
		}
		if !fault.Is(err, fault.BadInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseTheOpenDataCSV(t *testing.T) {
	f, _ := os.Open("testdata/ID-9999-precariato-regioni.csv")
	defer f.Close()
	csvDS := connectors.Dataset{Source: Name, ID: "precariato_trimestrale", Code: "ID-9999", Format: FormatCSV,
		Columns: map[string]string{"period": "Trimestre, Anno", "geo": "Regione", "values": "Assunzioni, Cessazioni", "breakdown": "Tipologia contrattuale"}}
	s := New("http://inps.example", nil)
	if req, _ := s.DataRequest(csvDS); req.URL != "http://inps.example/docallegati/Mig/OpenData/CSV/ID-9999.csv" || req.Body != nil {
		t.Errorf("request %+v", req)
	}
	var got []connectors.Observation
	if err := s.Parse(context.Background(), csvDS, f, func(o connectors.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 6 || got[0].Period != "2025-Q1" || *got[0].Value != 61234 || got[0].Indicator != "precariato_trimestrale.assunzioni" || got[5].Period != "2025-Q2" {
		t.Errorf("%d observations: %+v", len(got), got)
	}
}

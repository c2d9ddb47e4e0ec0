package inail

import (
	"bytes"
	"context"
	"github.com/osservatorio-lombardia/osservatorio/connectors/connectorstest"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// apiServer answers like INAIL's REST API from the real Liguria answer (see connectorstest.INAILAPI); status,
// when it gives a status for a month, answers that month with it and an HTML page instead.
func apiServer(t *testing.T, lastData string, status func(month string) int) (*httptest.Server, *[]string) {
	real, err := os.ReadFile("testdata/DatiConCadenzaMensileInfortuni-Liguria-2019-11-first30.json")
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	api := connectorstest.INAILAPI(real, lastData, func(m string) { asked = append(asked, m) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if m := q.Get("AnnoAccadimento") + "-" + q.Get("MeseAccadimento"); status != nil && status(m) != 0 {
			w.WriteHeader(status(m))
			w.Write([]byte("<html>Service Unavailable</html>"))
			return
		}
		api(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &asked
}

func TestAPIDownloadsEachMonthAndSkipsMonthsWithoutData(t *testing.T) {
	srv, asked := apiServer(t, "2025-02", nil)
	now := func() time.Time { return time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC) }
	s := New(srv.URL, httpfetch.New(httpfetch.Options{WaitMin: time.Millisecond, WaitMax: time.Millisecond}), now)
	ds := connectors.Dataset{Source: Name, ID: "infortuni_api", Code: "Lombardia", Format: FormatAPI, Since: "2024-12"}
	sink := &connectorstest.MemSink{}
	cur, err := s.Download(context.Background(), ds, connectors.Cursor{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*asked, ","); got != "2024-12,2025-01,2025-02,2025-03" {
		t.Errorf("months asked: %s (one call each, from since to the current month)", got)
	}
	if cur.Rows != 3 || !strings.Contains(cur.Note, `1 not yet available ("Dati non trovati")`) || len(sink.Checkpoints) != 4 {
		t.Errorf("cursor %+v, %d checkpoints", cur, len(sink.Checkpoints))
	}
	if err := s.Inspect(ds, 200, nil, sink.Buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if s.Extension(ds) != "json" {
		t.Errorf("extension %s", s.Extension(ds))
	}
	perMonth := map[string]float64{}
	err = s.Parse(context.Background(), ds, bytes.NewReader(sink.Buf.Bytes()), func(o connectors.Observation) error {
		if o.Geo != "015" || o.Freq != "M" {
			t.Errorf("observation %+v", o)
		}
		perMonth[o.Period] += *o.Value
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(perMonth) != 3 || perMonth["2024-12"] != 30 || perMonth["2025-02"] != 30 {
		t.Errorf("injuries per month: %v, want 30 in each of the three months with data", perMonth)
	}
	// The raw object keeps INAIL's answer verbatim, pretty-printing included.
	if !strings.Contains(sink.Buf.String(), `"risposta":{`+"\n"+`  "DatiConCadenzaMensileInfortuni" : [ {`) {
		t.Errorf("answer not kept verbatim: %.200s", sink.Buf.String())
	}
}

func TestAPIWindowIsTheLast18Months(t *testing.T) {
	s := New("", nil, func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) })
	months, err := s.window("")
	if err != nil || len(months) != 18 || months[0] != "2025-06" || months[17] != "2026-11" {
		t.Errorf("window %v %v", months, err)
	}
	if m, _ := s.window("2026-10"); len(m) != 2 {
		t.Errorf("since 2026-10: %v", m)
	}
	if _, err := s.window("2027-01"); !fault.Is(err, fault.BadInput) {
		t.Errorf("since in the future: %v", err)
	}
}

func TestAPIFailuresAreClassified(t *testing.T) {
	now := func() time.Time { return time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC) }
	ds := connectors.Dataset{Source: Name, ID: "infortuni_api", Format: FormatAPI, Since: "2025-01"}
	client := httpfetch.New(httpfetch.Options{WaitMin: time.Millisecond, WaitMax: time.Millisecond})
	srv, _ := apiServer(t, "2025-02", func(m string) int {
		if m == "2025-02" {
			return http.StatusInternalServerError // a 500 that is not "Dati non trovati"
		}
		return 0
	})
	if _, err := New(srv.URL, client, now).Download(context.Background(), ds, connectors.Cursor{}, &connectorstest.MemSink{}); !fault.Is(err, fault.SourceUnavailable) {
		t.Errorf("a real server error: %v", err)
	}
	srv, _ = apiServer(t, "2025-02", func(m string) int { return http.StatusForbidden })
	if _, err := New(srv.URL, client, now).Download(context.Background(), ds, connectors.Cursor{}, &connectorstest.MemSink{}); !fault.Is(err, fault.BadInput) {
		t.Errorf("403: %v", err)
	}
	if err := New("", nil, nil).Parse(context.Background(), ds, strings.NewReader(`[{"mese":"2025-01","risposta":{"DatiConCadenzaMensileInfortuni":[`), func(connectors.Observation) error { return nil }); !fault.Is(err, fault.BadInput) {
		t.Errorf("truncated raw object: %v", err)
	}
}

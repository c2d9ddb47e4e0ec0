package inail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

type memSink struct {
	buf  bytes.Buffer
	cps  []connectors.Cursor
	urls []string
}

func (m *memSink) Resumed() (connectors.Cursor, bool) { return connectors.Cursor{}, false }
func (m *memSink) AppendRaw(context.Context, string, *connectors.RowFilter) (int64, error) {
	return 0, fmt.Errorf("not used")
}
func (m *memSink) Sent(u string) { m.urls = append(m.urls, u) }
func (m *memSink) Page(_ context.Context, body io.Reader, next func() connectors.Cursor) error {
	if _, err := io.Copy(&m.buf, body); err != nil {
		return err
	}
	m.cps = append(m.cps, next())
	return nil
}

var (
	place = regexp.MustCompile(`"LuogoAccadimento" : "\d+"`)
	date  = regexp.MustCompile(`"DataAccadimento" : "\d\d/\d\d/\d{4}"`)
)

// apiServer answers like INAIL's REST API: the real Liguria answer moved to Milano and to the month
// asked, for months up to lastData; "Dati non trovati" with HTTP 500 after it.
func apiServer(t *testing.T, lastData string, status func(month string) int) (*httptest.Server, *[]string) {
	real, err := os.ReadFile("testdata/DatiConCadenzaMensileInfortuni-Liguria-2019-11-first30.json")
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/api/OpenData/DatiConCadenzaMensileInfortuni" || q.Get("Regione") != "Lombardia" {
			http.NotFound(w, r)
			return
		}
		m := q.Get("AnnoAccadimento") + "-" + q.Get("MeseAccadimento")
		asked = append(asked, m)
		if status != nil && status(m) != 0 {
			w.WriteHeader(status(m))
			w.Write([]byte("<html>Service Unavailable</html>"))
			return
		}
		if m > lastData {
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("Dati non trovati"))
			return
		}
		body := place.ReplaceAll(real, []byte(`"LuogoAccadimento" : "015"`))
		body = date.ReplaceAll(body, []byte(fmt.Sprintf(`"DataAccadimento" : "01/%s/%s"`, q.Get("MeseAccadimento"), q.Get("AnnoAccadimento"))))
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &asked
}

func TestAPIDownloadsEachMonthAndSkipsMonthsWithoutData(t *testing.T) {
	srv, asked := apiServer(t, "2025-02", nil)
	now := func() time.Time { return time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC) }
	s := New(srv.URL, httpfetch.New(httpfetch.Options{WaitMin: time.Millisecond, WaitMax: time.Millisecond}), now)
	ds := connectors.Dataset{Source: Name, ID: "infortuni_api", Code: "Lombardia", Format: FormatAPI, Since: "2024-12"}
	sink := &memSink{}
	cur, err := s.Download(context.Background(), ds, connectors.Cursor{}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(*asked, ","); got != "2024-12,2025-01,2025-02,2025-03" {
		t.Errorf("months asked: %s (one call each, from since to the current month)", got)
	}
	if cur.Rows != 3 || !strings.Contains(cur.Note, `1 not yet available ("Dati non trovati")`) || len(sink.cps) != 4 {
		t.Errorf("cursor %+v, %d checkpoints", cur, len(sink.cps))
	}
	if err := s.Inspect(ds, 200, nil, sink.buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if s.Extension(ds) != "json" {
		t.Errorf("extension %s", s.Extension(ds))
	}
	perMonth := map[string]float64{}
	err = s.Parse(context.Background(), ds, bytes.NewReader(sink.buf.Bytes()), func(o connectors.Observation) error {
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
	if !strings.Contains(sink.buf.String(), `"risposta":{`+"\n"+`  "DatiConCadenzaMensileInfortuni" : [ {`) {
		t.Errorf("answer not kept verbatim: %.200s", sink.buf.String())
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
	if _, err := New(srv.URL, client, now).Download(context.Background(), ds, connectors.Cursor{}, &memSink{}); !fault.Is(err, fault.SourceUnavailable) {
		t.Errorf("a real server error: %v", err)
	}
	srv, _ = apiServer(t, "2025-02", func(m string) int { return http.StatusForbidden })
	if _, err := New(srv.URL, client, now).Download(context.Background(), ds, connectors.Cursor{}, &memSink{}); !fault.Is(err, fault.BadInput) {
		t.Errorf("403: %v", err)
	}
	if err := New("", nil, nil).Parse(context.Background(), ds, strings.NewReader(`[{"mese":"2025-01","risposta":{"DatiConCadenzaMensileInfortuni":[`), func(connectors.Observation) error { return nil }); !fault.Is(err, fault.BadInput) {
		t.Errorf("truncated raw object: %v", err)
	}
}

package lombardia

import (
	"context"
	"encoding/csv"
	"fmt"
	"github.com/osservatorio-lombardia/osservatorio/connectors/connectorstest"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
)

// table writes a recorded SODA table of n rows: row i has :id row-%07d and the given created/updated stamps.
func table(n int, stamp func(i int) (created, updated string)) string {
	var b strings.Builder
	b.WriteString(":id,:created_at,:updated_at,data,genere,eta,settoreeconomicodettaglio,titolostudio,contratto,modalitalavoro,provinciaimpresa,italiano\n")
	for i := 1; i <= n; i++ {
		c, u := stamp(i)
		fmt.Fprintf(&b, "row-%07d,%s,%s,2024-%02d-01T00:00:00.000,F,%d,Alberghi,LICENZA MEDIA,LAVORO A TEMPO DETERMINATO,TEMPO PIENO,MILANO,\"ITALIA\"\n", i, c, u, 1+i%12, 20+i%40)
	}
	return b.String()
}

func at(s string) func(int) (string, string) { return func(int) (string, string) { return s, s } }

type sodaServer struct {
	*httptest.Server
	mu     sync.Mutex
	tables fstest.MapFS
	log    []string
	fail   func(r *http.Request) bool // answer 503 when true
	// minimal writes pages with minimal CSV quoting; by default every value is quoted, as Socrata does.
	minimal bool
}

func newSODA(t *testing.T, csv string) *sodaServer {
	s := &sodaServer{tables: fstest.MapFS{"t.csv": {Data: []byte(csv)}}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.log = append(s.log, r.URL.Query().Get("$offset"))
		fail := s.fail != nil && s.fail(r)
		tables, minimal := s.tables, s.minimal
		s.mu.Unlock()
		if fail {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		mirror.SODA{Table: tables, Path: "t.csv", MinimalQuoting: minimal}.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// records reads a raw CSV object back into its records, header first, whatever its quoting.
func records(t *testing.T, raw string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(raw)).ReadAll()
	if err != nil {
		t.Fatalf("raw object is not CSV: %v", err)
	}
	return recs
}

func (s *sodaServer) set(csv string) {
	s.mu.Lock()
	s.tables = fstest.MapFS{"t.csv": {Data: []byte(csv)}}
	s.mu.Unlock()
}

var ds = connectors.Dataset{Source: Name, ID: "attivati", Code: "qbau-cyuc"}

func newConn(url string, now time.Time) *Source {
	return New(url, httpfetch.New(httpfetch.Options{WaitMin: time.Millisecond, WaitMax: 10 * time.Millisecond}),
		Options{PageSize: 1000, Now: func() time.Time { return now }})
}

func TestFullThenIncrementalDownload(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	srv := newSODA(t, table(2500, at("2025-10-31T09:00:00.000Z")))
	conn := newConn(srv.URL, now)

	full := &connectorstest.MemSink{}
	cur, err := conn.Download(ctx, ds, connectors.Cursor{}, full)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Mode != "full" || cur.Rows != 2500 || cur.Watermark != "2025-10-31T09:00:00.000Z" || cur.Window != "" {
		t.Fatalf("cursor %+v", cur)
	}
	if got := len(full.URLs); got != 4 { // the count, then pages at 0, 1000, 2000
		t.Errorf("%d requests, want 4: %v", got, full.URLs)
	}
	lines := strings.Split(strings.TrimSuffix(full.Buf.String(), "\n"), "\n")
	if len(lines) != 2501 || !strings.HasPrefix(lines[0], `"data","genere"`) || strings.Count(full.Buf.String(), `"data"`) != 1 {
		t.Fatalf("%d lines, header %q", len(lines), lines[0])
	}
	if len(full.Checkpoints) != 3 || full.Checkpoints[1].Offset != 2000 || full.Checkpoints[1].Window == "" {
		t.Errorf("checkpoints %+v", full.Checkpoints)
	}

	// Nothing updated since the watermark: one request, nothing written.
	prev := cur
	prev.Base = "raw/base.csv"
	same := &connectorstest.MemSink{}
	cur, err = conn.Download(ctx, ds, prev, same)
	if err != nil || !cur.Unchanged || len(same.URLs) != 1 || same.Buf.Len() != 0 {
		t.Fatalf("unchanged: %+v, %v, %d requests", cur, err, len(same.URLs))
	}

	// 30 new rows: a segment of their own (header line, then only them), only they are asked for.
	srv.set(table(2530, func(i int) (string, string) {
		if i > 2500 {
			return "2025-11-05T10:00:00.000Z", "2025-11-05T10:00:00.000Z"
		}
		return "2025-10-31T09:00:00.000Z", "2025-10-31T09:00:00.000Z"
	}))
	inc := &connectorstest.MemSink{Base: map[string]string{"raw/base.csv": full.Buf.String()}}
	cur, err = conn.Download(ctx, ds, prev, inc)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Mode != "incremental" || cur.Rows != 2530 || cur.Watermark != "2025-11-05T10:00:00.000Z" || len(inc.Appends) != 0 || len(inc.URLs) != 2 {
		t.Fatalf("incremental: %+v, appends %v, %d requests", cur, inc.Appends, len(inc.URLs))
	}
	recs := records(t, inc.Buf.String())
	if got := strings.Count(inc.Buf.String(), "\n"); got != 31 || len(recs) != 31 || recs[30][8] != "ITALIA" || recs[0][0] != "data" {
		t.Errorf("the segment has %d lines, header %q", got, recs[0])
	}
	// The accepted raw data is now the base and this segment: what a window download starts from.
	accepted := full.Buf.String() + inc.Buf.String()[strings.Index(inc.Buf.String(), "\n")+1:]
	if !strings.Contains(inc.URLs[1], "%3Aupdated_at+%3E+%272025-10-31T09%3A00%3A00.000Z%27") {
		t.Errorf("page URL %s does not ask for rows after the watermark", inc.URLs[1])
	}

	// The region rewrites old rows: the rows updated since the watermark include old ones → the rows of
	// the date window are taken again, the older ones kept (all of this table's rows are older).
	srv.set(table(2530, func(i int) (string, string) { return "2025-10-31T09:00:00.000Z", "2025-11-20T08:00:00.000Z" }))
	re := &connectorstest.MemSink{Base: map[string]string{"raw/inc.csv": accepted}}
	prev = cur
	prev.Base = "raw/inc.csv"
	cur, err = conn.Download(ctx, ds, prev, re)
	if err != nil || cur.Mode != "window" || cur.Rows != 2530 || len(re.Appends) != 1 || len(re.URLs) != 3 || re.Buf.String() != accepted {
		t.Fatalf("republished: %+v, %v, %d requests", cur, err, len(re.URLs))
	}

	// A month later, a full download even though little changed.
	later := newConn(srv.URL, now.AddDate(0, 2, 0))
	srv.set(table(2531, func(i int) (string, string) {
		if i == 2531 {
			return "2025-12-01T00:00:00.000Z", "2025-12-01T00:00:00.000Z"
		}
		return "2025-10-31T09:00:00.000Z", "2025-11-20T08:00:00.000Z"
	}))
	prev = cur
	prev.Base = "raw/re.csv"
	rec := &connectorstest.MemSink{}
	cur, err = later.Download(ctx, ds, prev, rec)
	if err != nil || cur.Mode != "full" || !strings.Contains(cur.Note, "periodic full reconciliation") || cur.Rows != 2531 {
		t.Fatalf("reconciliation: %+v, %v", cur, err)
	}
}

// TestARepublicationTakesTheDateWindowAgain: after the region rewrites every row, the rows dated in the
// last DateWindow come from the source again (with their new values), the older ones from the last raw
// object, and no row is lost or doubled.
// A republication takes the rows of the date window again and keeps the older ones: every date once,
// whether the source quotes every value (as Socrata's .csv answers do) or only where CSV needs it.
func TestARepublicationTakesTheDateWindowAgain(t *testing.T) {
	for _, minimal := range []bool{false, true} {
		t.Run(fmt.Sprintf("minimal quoting %v", minimal), func(t *testing.T) { republication(t, minimal) })
	}
}

func republication(t *testing.T, minimal bool) {
	ctx := context.Background()
	now := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	dated := func(stamp string, eta func(i int) int) string {
		var b strings.Builder
		b.WriteString(":id,:created_at,:updated_at,data,genere,eta\n")
		for i := 1; i <= 300; i++ { // one event a day from 2025-01-05
			d := time.Date(2025, 1, 5, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i-1).Format("2006-01-02")
			fmt.Fprintf(&b, "row-%07d,2025-01-01T00:00:00.000Z,%s,%sT00:00:00.000,F,%d\n", i, stamp, d, eta(i))
		}
		return b.String()
	}
	srv := newSODA(t, dated("2025-06-01T00:00:00.000Z", func(int) int { return 30 }))
	srv.minimal = minimal
	conn := newConn(srv.URL, now)
	first := &connectorstest.MemSink{}
	cur, err := conn.Download(ctx, ds, connectors.Cursor{}, first)
	if err != nil || cur.Rows != 300 {
		t.Fatalf("%+v %v", cur, err)
	}
	// Republished: every row rewritten, and the ages of the rows of the window corrected.
	srv.set(dated("2025-10-20T00:00:00.000Z", func(i int) int { return 30 + i%2 }))
	prev := cur
	prev.Base = "raw/first.csv"
	again := &connectorstest.MemSink{Base: map[string]string{"raw/first.csv": first.Buf.String()}}
	cur, err = conn.Download(ctx, ds, prev, again)
	if err != nil || cur.Mode != "window" || cur.Rows != 300 || cur.Watermark != "2025-10-20T00:00:00.000Z" {
		t.Fatalf("%+v %v", cur, err)
	}
	recs := records(t, again.Buf.String())
	if len(recs) != 301 || len(records(t, first.Buf.String())) != 301 {
		t.Fatalf("%d records after the republication (want 301: 300 events and the header)", len(recs))
	}
	seen := map[string]bool{}
	for _, f := range recs[1:] {
		date := f[0][:10]
		if seen[date] {
			t.Fatalf("%s twice", date)
		}
		seen[date] = true
		d, _ := time.Parse("2006-01-02", date)
		i := int(d.Sub(time.Date(2025, 1, 5, 0, 0, 0, 0, time.UTC)).Hours()/24) + 1
		want := 30 // the last download's age, before the window
		if date >= "2025-08-01" {
			want = 30 + i%2 // the source's corrected age, in the window
		}
		if f[2] != fmt.Sprint(want) {
			t.Errorf("row %s: eta %s, want %d", date, f[2], want)
		}
	}
	if !strings.Contains(cur.Note, "dated from 2025-08-01 taken again (92)") {
		t.Errorf("note %q", cur.Note)
	}
}

func TestDownloadResumesAfterTheLastPage(t *testing.T) {
	ctx := context.Background()
	srv := newSODA(t, table(3500, at("2025-10-31T09:00:00.000Z")))
	conn := newConn(srv.URL, time.Now())
	first := &connectorstest.MemSink{}
	// The page at offset 2000 fails for good in this attempt.
	srv.fail = func(r *http.Request) bool { return r.URL.Query().Get("$offset") == "2000" }
	_, err := conn.Download(ctx, ds, connectors.Cursor{}, first)
	if !fault.Is(err, fault.SourceUnavailable) || len(first.Checkpoints) != 2 {
		t.Fatalf("first attempt: %v, %d checkpoints", err, len(first.Checkpoints))
	}
	srv.mu.Lock()
	srv.fail, srv.log = nil, nil
	srv.mu.Unlock()
	// The next attempt starts from the bytes and cursor of the last checkpoint.
	second := &connectorstest.MemSink{Resume: &first.Checkpoints[1]}
	second.Buf.Write(first.Buf.Bytes())
	cur, err := conn.Download(ctx, ds, connectors.Cursor{}, second)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(srv.log, ",") != "2000,3000" {
		t.Errorf("second attempt asked offsets %v, want 2000,3000", srv.log)
	}
	if cur.Rows != 3500 || strings.Count(second.Buf.String(), "\n") != 3501 {
		t.Errorf("rows %d, lines %d", cur.Rows, strings.Count(second.Buf.String(), "\n"))
	}
	months := map[string]int{}
	for _, rec := range records(t, second.Buf.String())[1:] {
		months[rec[0][:7]]++
	}
	for m := 1; m <= 12; m++ { // row i is dated month 1+i%12: 3500 rows, 291 or 292 a month
		if n := months[fmt.Sprintf("2024-%02d", m)]; n < 291 || n > 292 {
			t.Fatalf("month %d has %d rows: rows lost or taken twice", m, n)
		}
	}
}

func TestDownloadHonoursRetryAfterAndToken(t *testing.T) {
	var mu sync.Mutex
	var tokens []string
	var first time.Time
	var gap time.Duration
	tables := fstest.MapFS{"t.csv": {Data: []byte(table(10, at("2025-10-31T09:00:00.000Z")))}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("X-App-Token"))
		n := len(tokens)
		if n == 2 {
			first = time.Now()
		}
		if n == 3 {
			gap = time.Since(first)
		}
		mu.Unlock()
		if n == 2 { // the first page is throttled once
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":true,"message":"Too many requests"}`, http.StatusTooManyRequests)
			return
		}
		mirror.SODA{Table: tables, Path: "t.csv"}.ServeHTTP(w, r)
	}))
	defer srv.Close()
	conn := New(srv.URL, httpfetch.New(httpfetch.Options{WaitMin: time.Millisecond, WaitMax: 2 * time.Second}), Options{AppToken: "tok"})
	sink := &connectorstest.MemSink{}
	cur, err := conn.Download(context.Background(), ds, connectors.Cursor{}, sink)
	if err != nil || cur.Rows != 10 {
		t.Fatalf("%+v %v", cur, err)
	}
	if gap < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
	for _, tok := range tokens {
		if tok != "tok" {
			t.Errorf("X-App-Token = %q", tok)
		}
	}
}

func TestDownloadRejectsWhatIsNotAPage(t *testing.T) {
	for name, tt := range map[string]struct {
		h    http.HandlerFunc
		want string
	}{
		"html page": {func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".json") {
				w.Write([]byte(`[{"n":"5","last_updated":"2025-10-31T09:00:00.000Z"}]`))
				return
			}
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<!DOCTYPE html><html>Access denied</html>"))
		}, "HTML page"},
		"403": {func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"message": "You must be logged in to access this resource", "error": true}`))
		}, "HTTP 403"},
		"rows vanish while paging": {func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, ".json") {
				w.Write([]byte(`[{"n":"5","last_updated":"2025-10-31T09:00:00.000Z"}]`))
				return
			}
			w.Write([]byte("\"data\",\"genere\"\n2024-01-01T00:00:00.000,F\n"))
		}, "counted 5 rows in the window, the pages held 1"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(tt.h)
			defer srv.Close()
			_, err := newConn(srv.URL, time.Now()).Download(context.Background(), ds, connectors.Cursor{}, &connectorstest.MemSink{})
			if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want BadInput with %q", err, tt.want)
			}
		})
	}
}

// A backfill's range takes the rows dated in it again (up to the watermark) on top of the accepted rows
// less those dates; with a row updated since the watermark it refuses, writing nothing.
func TestBackfillTakesTheRangeAgain(t *testing.T) {
	ctx := context.Background()
	srv := newSODA(t, table(2400, at("2025-10-31T09:00:00.000Z")))
	conn := newConn(srv.URL, time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC))
	full := &connectorstest.MemSink{}
	prev, err := conn.Download(ctx, ds, connectors.Cursor{}, full)
	if err != nil {
		t.Fatal(err)
	}
	prev.Base = "raw/base.csv"
	chunk := ds
	chunk.Since, chunk.Until = "2024-Q2", "2024-Q2" // April to June: 600 rows of the 2400
	sink := &connectorstest.MemSink{Base: map[string]string{"raw/base.csv": full.Buf.String()}}
	cur, err := conn.Download(ctx, chunk, prev, sink)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Mode != "window" || cur.Rows != 2400 || cur.Watermark != prev.Watermark || cur.FullAt != prev.FullAt || !strings.Contains(cur.Note, "the 600 rows dated from 2024-04-01 to before 2024-07-01") {
		t.Errorf("cursor %+v", cur)
	}
	recs := records(t, sink.Buf.String())
	if len(recs) != 2401 || len(sink.Appends) != 1 {
		t.Fatalf("%d records, appends %v", len(recs)-1, sink.Appends)
	}
	// The rows of other months first, as accepted; then the range's, as the source sends them.
	for i, r := range recs[1:] {
		inRange := r[0] >= "2024-04" && r[0] < "2024-07"
		if inRange != (i >= 1800) {
			t.Fatalf("record %d dated %s out of place", i, r[0])
		}
	}
	srv.set(table(2400, func(i int) (string, string) {
		if i == 7 {
			return "2025-10-31T09:00:00.000Z", "2025-11-02T09:00:00.000Z"
		}
		return "2025-10-31T09:00:00.000Z", "2025-10-31T09:00:00.000Z"
	}))
	refused := &connectorstest.MemSink{Base: map[string]string{"raw/base.csv": full.Buf.String()}}
	if _, err := conn.Download(ctx, chunk, prev, refused); !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "1 rows were updated") || refused.Buf.Len() != 0 {
		t.Errorf("with a row updated since: %v, %d bytes written", err, refused.Buf.Len())
	}
}

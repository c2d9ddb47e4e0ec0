package mirror

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(`{"q":1}`)))
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

func TestRecordingsOfAQueryAndOfAPath(t *testing.T) {
	s := New(fstest.MapFS{
		"src/leaf.html":               {Data: []byte("any")},
		"src/leaf@datasetId=DS1.html": {Data: []byte("one")},
		"src/api/getDati.json":        {Data: []byte(`{"values":[]}`)},
		"src/data/FLOW.xml":           {Data: []byte("<flow/>")},
	})
	for _, tt := range []struct{ method, target, want string }{
		{"GET", "/src/leaf?datasetId=DS1", "one"},
		{"GET", "/src/leaf?datasetId=DS2", "any"},
		{"POST", "/src/api/getDati", `{"values":[]}`},
		{"GET", "/src/data/FLOW/A.ITC4C+ITC4D", "<flow/>"},
	} {
		if code, body := get(t, s, tt.method, tt.target); code != 200 || body != tt.want {
			t.Errorf("%s %s = %d %q, want %q", tt.method, tt.target, code, body, tt.want)
		}
	}
	if code, _ := get(t, s, "DELETE", "/src/leaf"); code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE: %d", code)
	}
	if n, b := s.Stats(); n != 5 || b == 0 {
		t.Errorf("stats %d requests, %d bytes", n, b)
	}
}

func TestSODAAnswersTheQueriesTheConnectorSends(t *testing.T) {
	table := ":id,:created_at,:updated_at,data,genere\n" +
		"row-3,2025-01-01T00:00:00.000Z,2025-03-01T00:00:00.000Z,2024-01-03T00:00:00.000,F\n" +
		"row-1,2025-01-01T00:00:00.000Z,2025-01-01T00:00:00.000Z,2024-01-01T00:00:00.000,M\n" +
		"row-2,2025-02-01T00:00:00.000Z,2025-02-01T00:00:00.000Z,2024-01-02T00:00:00.000,F\n"
	s := New(fstest.MapFS{"lombardia/resource/x.csv": {Data: []byte(table)}})
	q := url.Values{"$select": {sodaAggregate}, "$where": {":updated_at > '2025-01-15T00:00:00.000Z'"}}
	code, body := get(t, s, "GET", "/lombardia/resource/x.json?"+q.Encode())
	var agg []map[string]string
	if json.Unmarshal([]byte(body), &agg); code != 200 || len(agg) != 1 || agg[0]["n"] != "2" ||
		agg[0]["last_updated"] != "2025-03-01T00:00:00.000Z" || agg[0]["first_created"] != "2025-01-01T00:00:00.000Z" {
		t.Errorf("count: %d %s", code, body)
	}
	q = url.Values{"$where": {":updated_at <= '2025-02-01T00:00:00.000Z'"}, "$order": {":id"}, "$limit": {"1"}, "$offset": {"1"}}
	if code, body := get(t, s, "GET", "/lombardia/resource/x.csv?"+q.Encode()); code != 200 || body != "\"data\",\"genere\"\n\"2024-01-02T00:00:00.000\",\"F\"\n" { // every value quoted, as Socrata writes
		t.Errorf("page: %d %q", code, body)
	}
	for _, bad := range []string{"$group=data", "$where=" + url.QueryEscape("data like 'x'"), "$where=" + url.QueryEscape("nope > '1'"), "$order=data"} {
		if code, body := get(t, s, "GET", "/lombardia/resource/x.csv?"+bad); code != http.StatusBadRequest || !strings.Contains(body, `"error":true`) {
			t.Errorf("%s: %d %s", bad, code, body)
		}
	}
}

package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/explore"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// explorer opens an Explorer on a DuckDB of its own; the caller closes it.
func (s *server) explorer(w http.ResponseWriter, r *http.Request) (*explore.Explorer, func(), bool) {
	db, err := warehouse.Open(r.Context(), warehouse.Options{})
	if err != nil {
		s.internal(w, r, err)
		return nil, nil, false
	}
	e := &explore.Explorer{Releases: s.p.Releases, DB: db, Cache: s.p.ReleaseCache(), English: r.URL.Query().Get("lang") == "en"}
	return e, func() { db.Close() }, true
}

// flows answers a territory's labour flows by period (?territory=015&freq=month|quarter|year&by=…),
// as JSON or, with ?format=csv, CSV.
func (s *server) flows(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	s.explore(w, r, "flussi", func(e *explore.Explorer, version string) (any, error) {
		q := r.URL.Query()
		freq := q.Get("freq")
		if freq == "" {
			freq = "month"
		}
		return e.Flows(r.Context(), version, q.Get("territory"), freq, q.Get("by"))
	})
}

// balances answers a territory's monthly and cumulative balance (?territory=015).
func (s *server) balances(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	s.explore(w, r, "saldi", func(e *explore.Explorer, version string) (any, error) {
		return e.Balances(r.Context(), version, r.URL.Query().Get("territory"))
	})
}

func (s *server) population(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	s.explore(w, r, "popolazione", func(e *explore.Explorer, version string) (any, error) {
		return e.Populations(r.Context(), version, r.URL.Query().Get("territory"))
	})
}

func (s *server) indicators(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	s.explore(w, r, "indicatori", func(e *explore.Explorer, version string) (any, error) {
		return e.Indicators(r.Context(), version, r.URL.Query().Get("territory"))
	})
}

// explore answers a question of the release named in the path with an Explorer of its own.
func (s *server) explore(w http.ResponseWriter, r *http.Request, what string, ask func(*explore.Explorer, string) (any, error)) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	e, done, ok := s.explorer(w, r)
	if !ok {
		return
	}
	defer done()
	rows, err := ask(e, m.Version)
	s.answer(w, r, m.Version, what, rows, err)
}

func (s *server) territories(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	s.json(w, explore.Territories())
}

// answer writes rows as JSON, or as CSV with ?format=csv (a header of the JSON field names; a file named
// after the release, so a downloaded chart says what it shows).
func (s *server) answer(w http.ResponseWriter, r *http.Request, version, what string, rows any, err error) {
	switch {
	case errors.Is(err, explore.ErrQuestion):
		s.fail(w, http.StatusBadRequest, "%v", err)
		return
	case err != nil:
		s.internal(w, r, err)
		return
	}
	if r.URL.Query().Get("format") != "csv" {
		s.json(w, rows)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="osservatorio-%s-%s-%s.csv"`, what, version, r.URL.Query().Get("territory")))
	cw := csv.NewWriter(w)
	v := reflect.ValueOf(rows)
	t := v.Type().Elem()
	var header []string
	for i := range t.NumField() {
		header = append(header, strings.Split(t.Field(i).Tag.Get("json"), ",")[0])
	}
	cw.Write(header)
	for i := range v.Len() {
		row := v.Index(i)
		rec := make([]string, t.NumField())
		for j := range t.NumField() {
			switch f := row.Field(j); f.Kind() {
			case reflect.Int64:
				rec[j] = strconv.FormatInt(f.Int(), 10)
			default:
				rec[j] = f.String()
			}
		}
		cw.Write(rec)
	}
	cw.Flush()
}

// file streams one file of a published release (GET /api/releases/{version}/files/{path...}): a path the
// manifest lists, read from where the bucket keeps it.
// reportMedia are the media types of the files of a bundle's reports/.
var reportMedia = map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript", ".txt": "text/plain; charset=utf-8"}

func (s *server) file(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	path := r.PathValue("path")
	f, listed := m.Path(path)
	if !listed {
		s.fail(w, http.StatusNotFound, "release %s has no file %q", m.Version, path)
		return
	}
	rc, err := s.p.Bucket.Get(r.Context(), m.FileKey(release.Prefix(m.Version), path))
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Length", strconv.FormatInt(f.Bytes, 10))
	w.Header().Set("X-Osservatorio-Sha256", strings.TrimPrefix(f.Hash, "sha256:")) // the manifest's, for the client to check
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if media, ok := reportMedia[filepath.Ext(path)]; ok && strings.HasPrefix(path, "reports/") {
		// A territorial report opens in the browser: the platform's own page (signed with the release),
		// its script and chart library from the release, nothing else.
		w.Header().Set("Content-Type", media)
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:")
	} else {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s"`, m.Version, strings.ReplaceAll(path, "/", "_")))
	}
	io.Copy(w, rc)
}

package api

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/explore"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// explorer opens an Explorer on a DuckDB of its own; the caller closes it.
func (s *server) explorer(w http.ResponseWriter, r *http.Request) (*explore.Explorer, func(), bool) {
	db, err := warehouse.Open(r.Context(), warehouse.Options{})
	if err != nil {
		s.internal(w, r, err)
		return nil, nil, false
	}
	e := &explore.Explorer{Releases: s.p.Releases, DB: db, Cache: filepath.Join(s.p.Config.Dev.StateDir, "lineage-cache")}
	return e, func() { db.Close() }, true
}

// flows answers a territory's labour flows by period (?territory=015&freq=month|quarter|year&by=…),
// as JSON or, with ?format=csv, CSV.
func (s *server) flows(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	e, done, ok := s.explorer(w, r)
	if !ok {
		return
	}
	defer done()
	q := r.URL.Query()
	freq := q.Get("freq")
	if freq == "" {
		freq = "month"
	}
	out, err := e.Flows(r.Context(), m.Version, q.Get("territory"), freq, q.Get("by"))
	s.answer(w, r, m.Version, "flussi", out, err)
}

// balances answers a territory's monthly and cumulative balance (?territory=015).
func (s *server) balances(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	e, done, ok := s.explorer(w, r)
	if !ok {
		return
	}
	defer done()
	out, err := e.Balances(r.Context(), m.Version, r.URL.Query().Get("territory"))
	s.answer(w, r, m.Version, "saldi", out, err)
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

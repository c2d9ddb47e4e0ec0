package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/lineage"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// lineage answers where the figures of a table that match ?where= come from (see package lineage).
func (s *server) lineage(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	q := lineage.Query{Version: m.Version, Table: r.PathValue("table"), Limit: 10, Sample: 5}
	if where := r.URL.Query().Get("where"); where != "" {
		conds, err := warehouse.ParseWhere(where)
		if err != nil {
			s.fail(w, http.StatusBadRequest, "where: %v", err)
			return
		}
		q.Where = conds
	}
	for name, dst := range map[string]*int{"limit": &q.Limit, "sample": &q.Sample} {
		if v := r.URL.Query().Get(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				s.fail(w, http.StatusBadRequest, "%s must be a number from 1 to 100", name)
				return
			}
			*dst = n
		}
	}
	db, err := warehouse.Open(r.Context(), warehouse.Options{})
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer db.Close()
	tr := &lineage.Tracer{Releases: s.p.Releases, DB: db, Cache: s.p.ReleaseCache()}
	ans, err := tr.Trace(r.Context(), q)
	switch {
	case errors.Is(err, lineage.ErrTable):
		s.fail(w, http.StatusBadRequest, "%v", err)
	case err != nil && warehouse.IsUserError(err):
		s.fail(w, http.StatusBadRequest, "%v", err)
	case err != nil:
		s.internal(w, r, err)
	default:
		s.json(w, ans)
	}
}

// inputs answers what fed a release.
func (s *server) inputs(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	in, err := s.p.Releases.Inputs(r.Context(), m.Version)
	if errors.Is(err, objectstore.ErrNotFound) {
		s.fail(w, http.StatusNotFound, "release %s records no inputs (made before releases did)", m.Version)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.json(w, in)
}

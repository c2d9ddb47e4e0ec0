// Package api is the platform's small HTTP API: releases, their manifests, verification and deliveries,
// the state of every dataset, and refreshes started on demand. All responses are JSON.
package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// Handler serves the API for p.
func Handler(p *platform.Platform, logger *slog.Logger) http.Handler {
	s := &server{p: p, log: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { s.json(w, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /api/releases", s.releases)
	mux.HandleFunc("GET /api/releases/{version}", s.release)
	mux.HandleFunc("GET /api/releases/{version}/verify", s.verify)
	mux.HandleFunc("GET /api/releases/{version}/deliveries", s.deliveries)
	mux.HandleFunc("GET /api/datasets", s.datasets)
	mux.HandleFunc("POST /api/sources/{source}/refresh", s.refresh)
	mux.HandleFunc("GET /", s.index)
	return mux
}

type server struct {
	p   *platform.Platform
	log *slog.Logger
}

func (s *server) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *server) fail(w http.ResponseWriter, code int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		s.fail(w, http.StatusNotFound, errors.New("no such endpoint"))
		return
	}
	s.json(w, map[string]any{
		"service": "osservatorio",
		"endpoints": []string{"GET /api/releases", "GET /api/releases/{version}", "GET /api/releases/{version}/verify",
			"GET /api/releases/{version}/deliveries", "GET /api/datasets", "POST /api/sources/{source}/refresh", "GET /healthz"},
	})
}

// Summary is one release in a listing.
type Summary struct {
	Version  string           `json:"version"`
	Created  string           `json:"created"`
	Previous string           `json:"previous,omitempty"`
	Bump     string           `json:"bump"`
	Rows     map[string]int64 `json:"rows"`
	Sources  int              `json:"sources"`
}

// Summaries lists every release, newest first.
func Summaries(r *http.Request, st *release.Store) ([]Summary, error) {
	vs, err := st.Versions(r.Context())
	if err != nil {
		return nil, err
	}
	out := []Summary{}
	for i := len(vs) - 1; i >= 0; i-- {
		m, err := st.Get(r.Context(), vs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, SummaryOf(m))
	}
	return out, nil
}

// SummaryOf summarises a manifest.
func SummaryOf(m *release.Manifest) Summary {
	s := Summary{Version: m.Version, Created: m.Created.Format("2006-01-02T15:04:05Z"), Previous: m.Osservatorio.Previous,
		Bump: m.Osservatorio.Bump, Rows: map[string]int64{}, Sources: len(m.Sources)}
	for _, r := range m.Resources {
		s.Rows[r.Name] = r.Rows
	}
	return s
}

func (s *server) releases(w http.ResponseWriter, r *http.Request) {
	out, err := Summaries(r, s.p.Releases)
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	s.json(w, out)
}

func (s *server) release(w http.ResponseWriter, r *http.Request) {
	m, err := s.p.Releases.Get(r.Context(), r.PathValue("version"))
	if errors.Is(err, release.ErrNoRelease) {
		s.fail(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	s.json(w, m)
}

func (s *server) verify(w http.ResponseWriter, r *http.Request) {
	v := r.PathValue("version")
	m, err := s.p.Releases.Get(r.Context(), v)
	if errors.Is(err, release.ErrNoRelease) {
		s.fail(w, http.StatusNotFound, err)
		return
	}
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	checks := release.Verify(r.Context(), s.p.Bucket, release.Prefix(v), m)
	ok := true
	for _, c := range checks {
		ok = ok && c.OK
	}
	s.json(w, map[string]any{"version": v, "ok": ok, "files": checks})
}

func (s *server) deliveries(w http.ResponseWriter, r *http.Request) {
	ds, err := s.p.Releases.Deliveries(r.Context(), r.PathValue("version"))
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	if ds == nil {
		ds = []release.Delivery{}
	}
	s.json(w, ds)
}

func (s *server) datasets(w http.ResponseWriter, r *http.Request) {
	states, err := s.p.Lake.States(r.Context())
	if err != nil {
		s.fail(w, http.StatusBadGateway, err)
		return
	}
	s.json(w, states)
}

func (s *server) refresh(w http.ResponseWriter, r *http.Request) {
	run, err := s.p.StartRefresh(r.Context(), r.PathValue("source"), platform.RefreshOptions{Force: r.URL.Query().Get("force") == "true"})
	if err != nil {
		s.fail(w, http.StatusBadRequest, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"workflowId": run.GetID(), "runId": run.GetRunID()})
}

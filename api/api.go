// Package api is the platform's HTTP API: releases, their manifests, verification and deliveries, the state
// of every dataset, refreshes started on demand, and API tokens. Every route but /healthz and the index
// needs a token (Authorization: Bearer osv_…) whose role the route allows (package identity); all
// responses are JSON.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/audit"
	"github.com/osservatorio-lombardia/osservatorio/console"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// MaxBody is the largest request body the API reads.
const MaxBody = 64 << 10

// Who may call what: the role kinds each route allows (admin may call every route).
var (
	readers   = []string{identity.Engineer, identity.Auditor, identity.Observatory}
	operators = []string{identity.Engineer, identity.Auditor}
	engineers = []string{identity.Engineer}
	admins    = []string{}
	// observatories may reach their own observatory's routes only (checked by the handler).
	observatories = []string{identity.Observatory}
)

// Server returns an HTTP server for h with timeouts, so that a slow or idle client holds no connection
// for long: headers within 10 s, the whole request within 30 s, the answer within 10 minutes (the first
// verification of a large release re-hashes gigabytes), idle keep-alives closed after 2 minutes.
func Server(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 10 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}

// Handler serves the API for p.
func Handler(p *platform.Platform, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	s := &server{p: p, log: logger, verified: map[string]*release.Verification{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { s.json(w, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /api", s.index)
	mux.HandleFunc("POST /api/session", s.signIn)
	mux.HandleFunc("DELETE /api/session", s.signOut)
	mux.Handle("GET /", console.Handler())
	mux.Handle("GET /metrics", metrics.Handler()) // open, as /healthz: counts and latencies, no data
	for _, rt := range []struct {
		pattern string
		roles   []string
		h       func(http.ResponseWriter, *http.Request, identity.Token)
	}{
		{"GET /api/whoami", readers, s.whoami},
		{"GET /api/releases", readers, s.releases},
		{"GET /api/releases/{version}", readers, s.release},
		{"GET /api/releases/{version}/verify", readers, s.verify},
		{"GET /api/releases/{version}/deliveries", readers, s.deliveries},
		{"GET /api/datasets", operators, s.datasets},
		{"GET /api/status", operators, s.status},
		{"GET /api/releases/{version}/lineage/{table}", operators, s.lineage},
		{"GET /api/releases/{version}/inputs", operators, s.inputs},
		{"GET /api/releases/{version}/flows", readers, s.flows},
		{"GET /api/releases/{version}/balances", readers, s.balances},
		{"GET /api/releases/{version}/population", readers, s.population},
		{"GET /api/releases/{version}/indicators", readers, s.indicators},
		{"GET /api/territories", readers, s.territories},
		{"GET /api/releases/{version}/files/{path...}", readers, s.file},
		{"POST /api/sources/{source}/refresh", engineers, s.refresh},
		{"POST /api/sources/{source}/backfill", engineers, s.backfill},
		{"GET /api/observatories/{id}/subscription", observatories, s.subscription},
		{"PUT /api/observatories/{id}/subscription", observatories, s.subscribe},
		{"GET /api/tokens", admins, s.tokens},
		{"POST /api/tokens", admins, s.createToken},
		{"DELETE /api/tokens/{id}", admins, s.revokeToken},
	} {
		mux.Handle(rt.pattern, s.authorize(rt.roles, rt.h))
	}
	return s.guard(mux)
}

type server struct {
	p   *platform.Platform
	log *slog.Logger

	mu       sync.Mutex
	verified map[string]*release.Verification // by version: a published release never changes
}

// Endpoints lists the API's routes, for the index.
var Endpoints = []string{"GET /api/whoami", "GET /api/releases", "GET /api/releases/{version}", "GET /api/releases/{version}/verify",
	"GET /api/releases/{version}/deliveries", "GET /api/datasets", "GET /api/status", "GET /api/releases/{version}/lineage/{table}",
	"GET /api/releases/{version}/inputs", "GET /api/releases/{version}/flows", "GET /api/releases/{version}/balances",
	"GET /api/releases/{version}/population", "GET /api/releases/{version}/indicators", "GET /api/territories", "GET /api/releases/{version}/files/{path...}", "POST /api/session", "DELETE /api/session", "POST /api/sources/{source}/refresh", "POST /api/sources/{source}/backfill",
	"GET /api/observatories/{id}/subscription", "PUT /api/observatories/{id}/subscription",
	"GET /api/tokens", "POST /api/tokens", "DELETE /api/tokens/{id}", "GET /healthz", "GET /metrics"}

// guard refuses requests for a Host the API does not serve (DNS rebinding) and browser requests from an
// Origin it does not serve (cross-site requests), and limits request bodies.
func (s *server) guard(next http.Handler) http.Handler {
	allowed := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	if host, _, err := net.SplitHostPort(s.p.Config.API.Address); err == nil && host != "" {
		allowed[strings.ToLower(host)] = true
	}
	for _, h := range s.p.Config.API.AllowedHosts {
		allowed[strings.ToLower(h)] = true
	}
	hostOf := func(hostport string) string {
		if h, _, err := net.SplitHostPort(hostport); err == nil {
			return strings.ToLower(h)
		}
		return strings.ToLower(strings.Trim(hostport, "[]"))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed[hostOf(r.Host)] {
			// The host is not echoed: an answer repeats nothing a client made up.
			s.fail(w, http.StatusForbidden, "this API does not serve the host this request names (api.allowed_hosts)")
			return
		}
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || !allowed[hostOf(u.Host)] {
				s.fail(w, http.StatusForbidden, "requests from origin %q are not accepted", o)
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		next.ServeHTTP(w, r)
	})
}

// authorize runs h for a request whose bearer token is valid and whose role is admin or one of roles.
func (s *server) authorize(roles []string, h func(http.ResponseWriter, *http.Request, identity.Token)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if c, err := r.Cookie(SessionCookie); !ok && err == nil && c.Value != "" {
			bearer, ok = c.Value, true // the console's session: the token, in an HttpOnly cookie
		}
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="osservatorio"`)
			s.fail(w, http.StatusUnauthorized, "authentication required: send Authorization: Bearer <token> (osservatorio token create)")
			return
		}
		tok, err := s.p.Tokens.Authenticate(r.Context(), bearer)
		switch {
		case errors.Is(err, identity.ErrNoToken), errors.Is(err, identity.ErrRevoked):
			w.Header().Set("WWW-Authenticate", `Bearer realm="osservatorio", error="invalid_token"`)
			s.fail(w, http.StatusUnauthorized, "the token is not valid (unknown, mistyped or revoked)")
			return
		case err != nil:
			s.internal(w, r, err)
			return
		}
		kind := tok.Role.Kind()
		allowed := kind == identity.Admin
		for _, k := range roles {
			allowed = allowed || k == kind
		}
		if !allowed {
			s.fail(w, http.StatusForbidden, "role %s may not %s %s", tok.Role, r.Method, r.URL.Path)
			return
		}
		h(w, r, tok)
	})
}

func (s *server) json(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// record appends the caller's action to the audit log.
func (s *server) record(r *http.Request, by identity.Token, action, target string, details map[string]string) {
	s.p.Record(r.Context(), audit.Entry{Actor: fmt.Sprintf("token:%s (%s)", by.ID, by.Role), Action: action, Target: target,
		From: r.RemoteAddr, Details: details})
}

// fail answers an error the caller can act on, in plain words.
func (s *server) fail(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, args...)})
}

// internal answers a failure of the platform's own services without its details (object keys, paths,
// addresses), which go to the log.
func (s *server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	s.fail(w, http.StatusBadGateway, "the platform's storage or workflow service did not answer; the details are in the API's log")
}

func (s *server) index(w http.ResponseWriter, r *http.Request) {

	s.json(w, map[string]any{"service": "osservatorio", "endpoints": Endpoints,
		"authentication": "Authorization: Bearer <token>; tokens come from `osservatorio token create --role ROLE`"})
}

func (s *server) whoami(w http.ResponseWriter, r *http.Request, tok identity.Token) {
	out := map[string]string{"id": tok.ID, "role": string(tok.Role), "name": tok.Name}
	if id, ok := strings.CutPrefix(string(tok.Role), identity.Observatory+":"); ok {
		if o, found := s.p.Config.Observatory(id); found {
			out["province"] = o.Province // the console opens on it
		}
	}
	s.json(w, out)
}

// versionArg returns the request's {version}, or answers 400 when it is not a semantic version.
func (s *server) versionArg(w http.ResponseWriter, r *http.Request) (string, bool) {
	v := r.PathValue("version")
	if v == "latest" {
		m, err := s.p.Releases.Latest(r.Context())
		if err != nil || m == nil {
			s.fail(w, http.StatusNotFound, "no release is published yet")
			return "", false
		}
		return m.Version, true
	}
	if _, err := semver.StrictNewVersion(v); err != nil {
		s.fail(w, http.StatusBadRequest, "%q is not a release version (like 1.4.0)", v)
		return "", false
	}
	return v, true
}

// manifest returns a published release's manifest, or answers 404 or 502.
func (s *server) manifest(w http.ResponseWriter, r *http.Request) (*release.Manifest, bool) {
	v, ok := s.versionArg(w, r)
	if !ok {
		return nil, false
	}
	m, err := s.p.Releases.Get(r.Context(), v)
	if errors.Is(err, release.ErrNoRelease) {
		s.fail(w, http.StatusNotFound, "no release %s", v)
		return nil, false
	}
	if err != nil {
		s.internal(w, r, err)
		return nil, false
	}
	return m, true
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
		if r.Format == "parquet" { // tables; the change log and inputs record are files
			s.Rows[r.Name] = r.Rows
		}
	}
	return s
}

func (s *server) releases(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	out, err := Summaries(r, s.p.Releases)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.json(w, out)
}

func (s *server) release(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	if m, ok := s.manifest(w, r); ok {
		s.json(w, m)
	}
}

// verify re-hashes a release once per version and API process: a published release is never rewritten,
// and re-hashing gigabytes per call would let any reader load the server at will. A failed verification
// is not cached (it may have been a passing storage fault).
func (s *server) verify(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	s.mu.Lock()
	res, cached := s.verified[m.Version]
	s.mu.Unlock()
	if !cached {
		keys, err := s.p.Releases.Keys(r.Context())
		if err != nil {
			s.internal(w, r, err)
			return
		}
		v, _, err := release.Check(r.Context(), release.BucketOpener(s.p.Bucket, release.Prefix(m.Version)), keys)
		if err != nil {
			s.internal(w, r, err)
			return
		}
		for i, c := range v.Files {
			if c.Error != "" {
				v.Files[i].Error = "could not be read"
			}
		}
		res = v
		if res.OK {
			s.mu.Lock()
			s.verified[m.Version] = res
			s.mu.Unlock()
		}
	}
	s.json(w, res)
}

// deliveries lists a release's deliveries; an observatory sees only its own.
func (s *server) deliveries(w http.ResponseWriter, r *http.Request, tok identity.Token) {
	m, ok := s.manifest(w, r)
	if !ok {
		return
	}
	ds, err := s.p.Releases.Deliveries(r.Context(), m.Version)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := []release.Delivery{}
	for _, d := range ds {
		if id := tok.Role.Observatory(); id == "" || d.Observatory == id {
			out = append(out, d)
		}
	}
	s.json(w, out)
}

func (s *server) datasets(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	states, err := s.p.Lake.States(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.json(w, states)
}

// status is osservatorio status: every dataset judged now, with its next run when Temporal answers.
func (s *server) status(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	list, err := s.p.Status(r.Context(), time.Now())
	if list == nil && err != nil {
		s.internal(w, r, err)
		return
	}
	if err != nil {
		s.log.Warn("status: next runs unknown", "error", err)
	}
	s.json(w, list)
}

var sourceRE = regexp.MustCompile(`^[a-z0-9_]{1,40}$`)

func (s *server) refresh(w http.ResponseWriter, r *http.Request, tok identity.Token) {
	src := r.PathValue("source")
	if !sourceRE.MatchString(src) {
		s.fail(w, http.StatusBadRequest, "%q is not a source name", src)
		return
	}
	if _, ok := s.p.Config.Sources[src]; !ok {
		s.fail(w, http.StatusNotFound, "source %q is not configured (configured: %s)", src, strings.Join(s.p.Config.SourceNames(), ", "))
		return
	}
	run, err := s.p.StartRefresh(r.Context(), src, platform.RefreshOptions{Force: r.URL.Query().Get("force") == "true"})
	if errors.Is(err, platform.ErrRefreshRunning) {
		s.fail(w, http.StatusConflict, "%v", err)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.log.Info("refresh started", "source", src, "by", tok.ID, "role", tok.Role, "workflow", run.GetID())
	s.record(r, tok, "refresh.start", src, map[string]string{"workflow": run.GetID(), "run": run.GetRunID()})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID()})
}

// backfill starts osservatorio backfill: ?from=2015&to=2017[&dataset=ID…][&chunk=year|quarter|month][&force=true].
// 202 with the workflow; 400 for a range or dataset refused.
func (s *server) backfill(w http.ResponseWriter, r *http.Request, tok identity.Token) {
	src := r.PathValue("source")
	if !sourceRE.MatchString(src) {
		s.fail(w, http.StatusBadRequest, "%q is not a source name", src)
		return
	}
	q := r.URL.Query()
	in := activities.BackfillInput{Source: src, Datasets: q["dataset"], From: q.Get("from"), To: q.Get("to"), Chunk: q.Get("chunk"), Force: q.Get("force") == "true"}
	if in.From == "" || in.To == "" {
		s.fail(w, http.StatusBadRequest, "a backfill needs from and to (2017, 2017-Q2 or 2017-01)")
		return
	}
	run, err := s.p.StartBackfill(r.Context(), in)
	if errors.Is(err, platform.ErrBadBackfill) {
		s.fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.log.Info("backfill started", "source", src, "by", tok.ID, "role", tok.Role, "workflow", run.GetID())
	s.record(r, tok, "backfill.start", src, map[string]string{"workflow": run.GetID(), "run": run.GetRunID(),
		"datasets": strings.Join(in.Datasets, ","), "from": in.From, "to": in.To})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID()})
}

func (s *server) tokens(w http.ResponseWriter, r *http.Request, _ identity.Token) {
	list, err := s.p.Tokens.List(r.Context())
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.json(w, list)
}

func (s *server) createToken(w http.ResponseWriter, r *http.Request, by identity.Token) {
	var req struct {
		Role string `json:"role"`
		Name string `json:"name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		s.fail(w, http.StatusBadRequest, "the body must be JSON {\"role\": …, \"name\": …} of at most %d bytes", MaxBody)
		return
	}
	role, err := identity.ParseRole(req.Role, s.p.Config.HasObservatory)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	tok, secret, err := s.p.Tokens.Create(r.Context(), role, req.Name)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.log.Info("token created", "id", tok.ID, "role", tok.Role, "by", by.ID)
	s.record(r, by, "token.create", tok.ID, map[string]string{"role": string(tok.Role), "name": tok.Name})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": tok.ID, "role": tok.Role, "name": tok.Name, "created": tok.Created, "token": secret})
}

func (s *server) revokeToken(w http.ResponseWriter, r *http.Request, by identity.Token) {
	tok, err := s.p.Tokens.Revoke(r.Context(), r.PathValue("id"))
	if errors.Is(err, identity.ErrUnknown) {
		s.fail(w, http.StatusNotFound, "%v", err)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	s.log.Info("token revoked", "id", tok.ID, "by", by.ID)
	s.record(r, by, "token.revoke", tok.ID, map[string]string{"role": string(tok.Role)})
	s.json(w, tok)
}

package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"github.com/osservatorio-lombardia/osservatorio/platform"
)

// The checks made before any storage is asked: hosts, origins, missing tokens, the open routes. (Every
// role against the real token store: the integration suite.)
func TestGuardAndAuthentication(t *testing.T) {
	cfg, err := config.Parse("default", deploy.DefaultConfig, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.AllowedHosts = []string{"osservatorio.example.it"}
	cfg.Storage.Endpoint = "127.0.0.1:1" // nothing listens: these requests must not need it
	p, err := platform.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(p, nil)
	for _, c := range []struct {
		name, method, target string
		header               map[string]string
		want                 int
		body                 string
	}{
		{"health", "GET", "http://127.0.0.1:8080/healthz", nil, 200, "ok"},
		{"index", "GET", "http://localhost:8080/api", nil, 200, "Bearer"},
		{"console", "GET", "http://localhost:8080/", nil, 200, "echarts-6.1.0.min.js"},
		{"console sign-in page", "GET", "http://localhost:8080/accesso", nil, 200, "Token di accesso"},
		{"console asset", "GET", "http://localhost:8080/static/app.js", nil, 200, "const locale = lang === 'en' ? 'en-GB' : 'it-IT'"},
		{"unknown endpoint", "GET", "http://localhost:8080/api/nothing", nil, 404, "no such endpoint"},
		{"a cookie that is no token", "GET", "http://127.0.0.1:8080/api/releases", map[string]string{"Cookie": "osv_session=nope"}, 401, "not valid"},
		{"proxy name", "GET", "https://osservatorio.example.it/healthz", nil, 200, "ok"},
		{"no token", "GET", "http://127.0.0.1:8080/api/releases", nil, 401, "authentication required"},
		{"not a bearer", "GET", "http://127.0.0.1:8080/api/releases", map[string]string{"Authorization": "Basic YTpi"}, 401, "Bearer"},
		{"malformed token", "POST", "http://127.0.0.1:8080/api/sources/eurostat/refresh", map[string]string{"Authorization": "Bearer nope"}, 401, "not valid"},
		{"rebinding host", "GET", "http://attacker.example:8080/api/releases", nil, 403, "does not serve the host"},
		{"cross-site origin", "POST", "http://127.0.0.1:8080/api/sources/eurostat/refresh", map[string]string{"Origin": "https://attacker.example"}, 403, "origin"},
		{"same-site origin", "GET", "http://127.0.0.1:8080/healthz", map[string]string{"Origin": "http://127.0.0.1:8080"}, 200, "ok"},
		{"unknown path", "GET", "http://127.0.0.1:8080/nope", nil, 404, "no such endpoint"},
	} {
		req := httptest.NewRequest(c.method, c.target, nil)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, rec.Code, rec.Body.String(), c.want, c.body)
		}
	}
}

func TestServerTimeouts(t *testing.T) {
	s := Server(http.NotFoundHandler())
	if s.ReadHeaderTimeout == 0 || s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 {
		t.Errorf("server without a timeout: %+v", s)
	}
}

// Whatever the path, query and headers, the API answers without panicking, with a status a client can act
// on, and never with the body of an internal error.
func FuzzAPIPaths(f *testing.F) {
	cfg, err := config.Parse("default", deploy.DefaultConfig, func(string) string { return "" })
	if err != nil {
		f.Fatal(err)
	}
	cfg.Storage.Endpoint = "127.0.0.1:1"
	p, err := platform.Open(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	h := Handler(p, nil)
	for _, seed := range []string{"/api/releases/1.0.0/verify", "/api/releases/..%2F..%2Fstate", "/api/sources/eurostat/refresh?force=true",
		"/api/tokens/../../x", "/%00", "/api/releases/1.0.0/deliveries?x=%ff", "//api//releases"} {
		f.Add("GET", seed, "127.0.0.1:8080", "Bearer osv_000000000000_"+strings.Repeat("a", 43))
	}
	f.Fuzz(func(t *testing.T, method, path, host, auth string) {
		req, err := http.NewRequest(method, "http://127.0.0.1:8080/", nil)
		if err != nil {
			return
		}
		req.URL.Opaque, req.Host = "", host
		if u, err := req.URL.Parse(path); err == nil {
			req.URL = u
		}
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 301, 307, 308, 400, 401, 403, 404, 405, 502:
		default:
			t.Errorf("%s %q (host %q): status %d", method, path, host, rec.Code)
		}
		if strings.Contains(rec.Body.String(), "127.0.0.1:1") {
			t.Errorf("%s %q: the answer names an internal address: %s", method, path, rec.Body.String())
		}
	})
}

package integration

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/api"
	"github.com/osservatorio-lombardia/osservatorio/identity"
)

// apiRoles proves, for each role, every route it may call and every one it may not, against the real
// token store in MinIO; and that what is refused says why, without internal detail.
func apiRoles(t *testing.T, ctx context.Context) {
	h := api.Handler(shared.p, nil)
	tokens := map[string]string{}
	for _, role := range []string{"engineer", "auditor", "admin", "observatory:milano", "observatory:bergamo"} {
		r, err := identity.ParseRole(role, shared.cfg.HasObservatory)
		if err != nil {
			t.Fatal(err)
		}
		_, secret, err := shared.p.Tokens.Create(ctx, r, "roles test")
		if err != nil {
			t.Fatal(err)
		}
		tokens[role] = secret
	}
	revokedTok, revoked, _ := shared.p.Tokens.Create(ctx, identity.Admin, "revoked")
	if _, err := shared.p.Tokens.Revoke(ctx, revokedTok.ID); err != nil {
		t.Fatal(err)
	}
	call := func(token, method, path, body string, header ...string) (int, string) {
		req := httptest.NewRequest(method, "http://127.0.0.1"+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		if len(header) > 0 && header[0] == "Host" {
			req.Host = header[1]
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b, _ := io.ReadAll(rec.Body)
		return rec.Code, string(b)
	}
	const ok, denied = http.StatusOK, http.StatusForbidden
	routes := []struct {
		method, path, body string
		want               map[string]int // by role; the status of every role
	}{
		{"GET", "/api/whoami", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": ok}},
		{"GET", "/api/releases", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": ok}},
		{"GET", "/api/releases/1.0.0", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": ok}},
		{"GET", "/api/releases/1.0.0/verify", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": ok}},
		{"GET", "/api/releases/1.0.0/deliveries", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": ok}},
		{"GET", "/api/datasets", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": denied}},
		{"GET", "/api/status", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": denied}},
		{"POST", "/api/sources/nowhere/refresh", "", map[string]int{"engineer": http.StatusNotFound, "auditor": denied, "admin": http.StatusNotFound, "observatory:milano": denied}},
		{"POST", "/api/sources/nowhere/backfill?from=2017&to=2018", "", map[string]int{"engineer": http.StatusBadRequest, "auditor": denied, "admin": http.StatusBadRequest, "observatory:milano": denied}},
		{"GET", "/api/tokens", "", map[string]int{"engineer": denied, "auditor": denied, "admin": ok, "observatory:milano": denied}},
		{"POST", "/api/tokens", `{"role": "auditor", "name": "made by the test"}`, map[string]int{"engineer": denied, "auditor": denied, "admin": http.StatusCreated, "observatory:milano": denied}},
		{"DELETE", "/api/tokens/000000000000", "", map[string]int{"engineer": denied, "auditor": denied, "admin": http.StatusNotFound, "observatory:milano": denied}},
		{"GET", "/api/releases/1.1.0/lineage/labour_flows?where=territory%3D%27015%27&limit=1", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": denied}},
		{"GET", "/api/releases/1.1.0/inputs", "", map[string]int{"engineer": ok, "auditor": ok, "admin": ok, "observatory:milano": denied}},
		{"GET", "/api/observatories/milano/subscription", "", map[string]int{"engineer": denied, "auditor": denied, "admin": ok, "observatory:milano": ok, "observatory:bergamo": denied}},
		{"PUT", "/api/observatories/milano/subscription", `{"tables": [], "sources": [], "province_only": false}`, map[string]int{"engineer": denied, "auditor": denied, "admin": ok, "observatory:milano": ok, "observatory:bergamo": denied}},
	}
	for _, rt := range routes {
		for role, want := range rt.want {
			if code, body := call(tokens[role], rt.method, rt.path, rt.body); code != want {
				t.Errorf("%s %s %s: %d, want %d (%s)", role, rt.method, rt.path, code, want, body)
			} else if code == denied && !strings.Contains(body, "may not") {
				t.Errorf("%s %s %s: refusal %q does not say why", role, rt.method, rt.path, body)
			}
		}
		for name, tok := range map[string]string{"no token": "", "a revoked token": revoked, "a forged token": "osv_000000000000_" + strings.Repeat("x", 43)} {
			if code, body := call(tok, rt.method, rt.path, rt.body); code != http.StatusUnauthorized || !strings.Contains(body, "token") {
				t.Errorf("%s with %s: %d %s, want 401", rt.path, name, code, body)
			}
		}
	}
	// An observatory sees its own deliveries only.
	_, body := call(tokens["observatory:milano"], "GET", "/api/releases/1.0.0/deliveries", "")
	var ds []map[string]any
	if err := json.Unmarshal([]byte(body), &ds); err != nil || len(ds) != 1 || ds[0]["observatory"] != "milano" {
		t.Errorf("milano's deliveries: %s", body)
	}
	// An observatory chooses its own subscription; a bad one is a 400 that says why.
	code, body := call(tokens["observatory:bergamo"], "PUT", "/api/observatories/bergamo/subscription", `{"tables": ["labour_flows"], "province_only": true}`)
	if code != ok || !strings.Contains(body, `"province_only": true`) || !strings.Contains(body, "labour_flows") {
		t.Errorf("bergamo subscribes: %d %s", code, body)
	}
	if code, body := call(tokens["observatory:bergamo"], "PUT", "/api/observatories/bergamo/subscription", `{"tables": ["secrets"]}`); code != http.StatusBadRequest || !strings.Contains(body, "secrets") {
		t.Errorf("a table releases do not have: %d %s", code, body)
	}
	if code, _ := call(tokens["observatory:bergamo"], "PUT", "/api/observatories/bergamo/subscription", `{"tables": [], "sources": []}`); code != ok {
		t.Errorf("bergamo back to everything: %d", code)
	}
	// Public: health and the index; refused: other hosts, other origins, bad versions, big bodies.
	if code, _ := call("", "GET", "/healthz", ""); code != ok {
		t.Errorf("healthz: %d", code)
	}
	for _, c := range []struct {
		name, method, path, body string
		header                   []string
		want                     int
	}{
		{"a rebinding host", "GET", "/api/releases", "", []string{"Host", "evil.example:8080"}, denied},
		{"a cross-site origin", "POST", "/api/sources/eurostat/refresh", "", []string{"Origin", "http://evil.example"}, denied},
		{"a traversal as version", "GET", "/api/releases/..%2F..%2Fstate/verify", "", nil, http.StatusBadRequest},
		{"a version that is no release", "GET", "/api/releases/9.9.9/deliveries", "", nil, http.StatusNotFound},
		{"a backfill range backwards", "POST", "/api/sources/istat/backfill?from=2019&to=2017", "", nil, http.StatusBadRequest},
		{"a lineage question that is SQL", "GET", "/api/releases/1.1.0/lineage/labour_flows?where=1%3D1%20OR%20territory%3D%27015%27", "", nil, http.StatusBadRequest},
		{"a lineage column that does not exist", "GET", "/api/releases/1.1.0/lineage/labour_flows?where=secret%3D%271%27", "", nil, http.StatusBadRequest},
		{"a body over the limit", "POST", "/api/tokens", `{"role": "auditor", "name": "` + strings.Repeat("x", api.MaxBody) + `"}`, nil, http.StatusBadRequest},
	} {
		code, body := call(tokens["admin"], c.method, c.path, c.body, c.header...)
		if code != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.want)
		}
		if strings.Contains(body, "releases/") || strings.Contains(body, "/tmp") || strings.Contains(body, "state/") {
			t.Errorf("%s: the answer shows internal keys or paths: %s", c.name, body)
		}
	}
}

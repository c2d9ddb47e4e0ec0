package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// What a user types wrong is refused with exit 2 and a plain reason, before any server is asked.
func TestInputCheckedAtTheEdge(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"release", "show", "../../state/x"}, "not a release version"},
		{[]string{"deliveries", "1.0"}, "not a release version"},
		{[]string{"verify", "latest"}, "not a release version"},
		{[]string{"checks", "1.0.0-"}, "not a release version"},
		{[]string{"token", "create", "--role", "root"}, "want engineer, auditor, admin or observatory:<id>"},
		{[]string{"token", "create", "--role", "observatory:atlantide"}, "no observatory \"atlantide\" is configured"},
		{[]string{"token", "revoke", "../../state/x"}, "is not a token id"},
		{[]string{"observatory", "credentials", "atlantide"}, "observatory \"atlantide\" is not configured"},
		{[]string{"observatory", "subscribe", "milano", "--tables", "secrets"}, "table \"secrets\", which releases do not have"},
		{[]string{"observatory", "subscribe", "bergamo", "--sources", "nowhere"}, "source \"nowhere\", which is not configured"},
		{[]string{"observatory", "subscribe", "lombardia", "--province-only"}, "province_only needs the observatory's province"},
		{[]string{"pull", "--dir", "x"}, "pull needs --dir and the observatory's --endpoint"},
		{[]string{"verify", "1.0.0", "--dir", "x"}, "give a VERSION or --dir DIR (not both)"},
		{[]string{"verify", "--dir", "/nonexistent/1.0.0"}, "trusted keys"},
		{[]string{"refresh", "eurostat", "--publish-at", "25:00"}, "publish_at \"25:00\""},
		{[]string{"--log-format", "xml", "config", "validate"}, "--log-format \"xml\": want text or json"},
		{[]string{"raw", "show", "state/eurostat/x.json"}, "is not a raw object key"},
		{[]string{"raw", "show", "raw/eurostat/x/abc.json", "--rows", "-1"}, "want 0-based positions"},
		{[]string{"lineage", "1.0.0", "labour_flows", "--where", "1=1 OR territory='015'"}, "want column = 'value'"},
		{[]string{"lineage", "latest", "labour_flows"}, "not a release version"},
		{[]string{"audit", "--since", "yesterday"}, "--since \"yesterday\""},
		{[]string{"schedule", "pause", "nowhere"}, "source \"nowhere\" has no schedule"},
		{[]string{"release", "rebuild", "1.0"}, "not a release version"},
		{[]string{"release", "diff", "1.0.0", "../x"}, "not a release version"},
		{[]string{"gc", "--grace", "0s"}, "--grace and --keep-raw must be positive"},
		{[]string{"report", "1.0.0", "--format", "docx"}, "--format \"docx\": want html or pdf"},
		{[]string{"report", "1.0.0", "--format", "pdf"}, "a PDF needs --out FILE"},
		{[]string{"backfill", "istat", "--from", "2017"}, "backfill needs --from and --to"},
		{[]string{"backfill", "istat", "--from", "2019", "--to", "2017"}, "from 2019 is after to 2017"},
		{[]string{"backfill", "istat", "--from", "2017-13", "--to", "2019"}, "period \"2017-13\""},
		{[]string{"backfill", "istat", "--from", "2017", "--to", "2019", "--chunk", "week"}, "chunk \"week\""},
		{[]string{"backfill", "nowhere", "--from", "2017", "--to", "2019"}, "source \"nowhere\" is not configured"},
		{[]string{"backfill", "istat", "--dataset", "nothing", "--from", "2017", "--to", "2019"}, "source istat has no dataset \"nothing\""},
	} {
		code, _, stderr := run(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	if code, _, stderr := run(t, "--config", empty, "config", "validate"); code != 2 || !strings.Contains(stderr, "empty") {
		t.Errorf("empty file: exit %d, %s", code, stderr)
	}
	code, stdout, stderr := run(t, "config", "validate")
	if code != 0 || !strings.Contains(stdout, "configuration is valid") || !strings.Contains(stderr, "warning: storage.secret_key is the embedded development secret") {
		t.Errorf("default: exit %d, %s %s", code, stdout, stderr)
	}
	if _, stdout, _ := run(t, "config", "show"); strings.Contains(stdout, "osservatorio-dev-secret") {
		t.Error("config show prints the storage secret")
	}
}

// Under --json an error is a JSON document on stdout too, with the exit code.
func TestErrorsUnderJSONAreJSON(t *testing.T) {
	code, stdout, stderr := run(t, "--json", "lineage", "latest", "labour_flows")
	var e struct {
		Error    string `json:"error"`
		ExitCode int    `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(stdout), &e); err != nil || code != 2 || e.ExitCode != 2 || !strings.Contains(e.Error, "not a release version") || !strings.Contains(stderr, "not a release version") {
		t.Errorf("exit %d, stdout %q (%v), stderr %q", code, stdout, err, stderr)
	}
	if _, stdout, _ := run(t, "lineage", "latest", "labour_flows"); stdout != "" {
		t.Errorf("without --json, stdout %q", stdout)
	}
}

// Every command prints one style of field names: snake_case, whatever the record's own names; map keys
// (data) and self-marshalling values are left as they are.
func TestSnakeJSON(t *testing.T) {
	type inner struct {
		RawSHA256 string `json:"rawSha256"`
		FirstURL  string
		ETag      string    `json:",omitempty"`
		When      time.Time `json:"when"`
	}
	type outer struct {
		inner
		KeyID   string            `json:"keyId"`
		Headers map[string]string `json:"responseHeaders"`
		List    []inner           `json:"items,omitempty"`
		Skip    string            `json:"-"`
		Nil     *inner            `json:"nil"`
		already string
	}
	v := outer{inner: inner{RawSHA256: "ab", FirstURL: "u", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}, KeyID: "k",
		Headers: map[string]string{"Content-Type": "text/csv"}, Skip: "x", already: "y"}
	got, err := json.Marshal(snakeJSON(v))
	want := `{"raw_sha256":"ab","first_url":"u","when":"2026-01-02T03:04:05Z","key_id":"k","response_headers":{"Content-Type":"text/csv"},"nil":null}`
	if err != nil || string(got) != want {
		t.Errorf("got %s (%v)\nwant %s", got, err, want)
	}
	for in, out := range map[string]string{"SHA256": "sha256", "workflowId": "workflow_id", "last_check": "last_check", "URL": "url", "ETag": "etag", "HTTPStatus": "http_status"} {
		if got := snake(in); got != out {
			t.Errorf("snake(%q) = %q, want %q", in, got, out)
		}
	}
}

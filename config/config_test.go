package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/deploy"
)

func noEnv(string) string { return "" }

func TestDefaultConfigIsValid(t *testing.T) {
	c, err := Parse("default", deploy.DefaultConfig, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Observatories); got != 13 {
		t.Errorf("observatories = %d, want 13", got)
	}
	if got := len(c.Sources["eurostat"].Datasets); got < 4 {
		t.Errorf("eurostat datasets = %d, want at least 4", got)
	}
	if got := c.Observatories[1].Bucket; got != "obs-bergamo" {
		t.Errorf("default bucket = %q", got)
	}
}

func TestEnvOverridesBaseURL(t *testing.T) {
	env := map[string]string{"OSSERVATORIO_EUROSTAT_BASE_URL": "http://127.0.0.1:9999/eurostat"}
	c, err := Parse("default", deploy.DefaultConfig, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Sources["eurostat"].BaseURL; got != env["OSSERVATORIO_EUROSTAT_BASE_URL"] {
		t.Errorf("base url = %q", got)
	}
}

// oneObservatory is a valid file with one source and one observatory, whose last lines a test adds to.
const oneObservatory = `storage: {endpoint: x, bucket: osservatorio}
temporal: {address: y}
sources:
  eurostat:
    base_url: http://x
    license: {name: CC-BY-4.0}
    attribution: Eurostat
    datasets: [{id: a}]
observatories:
  - id: mi
    name: Milano
`

func TestErrorsCarryLines(t *testing.T) {
	tests := []struct {
		name, yaml string
		wantLine   int
		wantMsg    string
	}{
		{"unknown key", "storage:\n  endpoint: x\n  bukket: y\n", 3, "bukket"},
		{"bad cron", `storage: {endpoint: x}
temporal: {address: y}
sources:
  eurostat:
    base_url: http://x
    schedule: "61 * * * *"
    datasets: [{id: a}]
`, 6, "schedule"},
		{"bad province", `storage: {endpoint: x}
temporal: {address: y}
sources:
  eurostat:
    base_url: http://x
    datasets: [{id: a}]
observatories:
  - id: mi
    name: Milano
    province: "15"
`, 10, "3-digit"},
		{"unknown source", `storage: {endpoint: x}
temporal: {address: y}
sources:
  nowhere:
    base_url: http://x
    datasets: [{id: a}]
`, 4, "unknown source"},
		{"syntax", "storage: [\n", 1, "expected"},
		{"empty", "\n", 1, "empty"},
		{"port out of range", "storage: {endpoint: \"127.0.0.1:9000\"}\ntemporal: {address: y}\napi: {address: \"127.0.0.1:80800\"}\n", 3, "port 80800"},
		{"unit outside the code list", `storage: {endpoint: x}
temporal: {address: y}
sources:
  mlps:
    base_url: http://x
    datasets:
      - id: a
        unit: THOUSANDS
`, 8, "unit code list"},
		{"an observatory writing into the platform's bucket", oneObservatory + `    bucket: osservatorio
    prefix: "../../state/"
`, 10, "platform's own bucket"},
		{"a prefix that climbs out", oneObservatory + `    prefix: "../../state/"
`, 12, "relative folder"},
		{"a province that does not exist", oneObservatory + `    province: "099"
`, 12, "not a province of Lombardy"},
		{"no licence", `storage: {endpoint: x}
temporal: {address: y}
sources:
  mur:
    base_url: http://x
    datasets: [{id: a}]
`, 4, "license"},
		{"a delivery mode that does not exist", oneObservatory + `    delivery: carrier-pigeon
`, 12, "pull or push"},
		{"a subscription to a table releases do not have", oneObservatory + `    subscription: {tables: [secrets]}
`, 12, "releases do not have"},
		{"province only without a province", oneObservatory + `    subscription: {province_only: true}
`, 12, "needs the observatory's province"},
		{"a webhook without a secret", oneObservatory + `    subscription: {webhook: {url: "https://mi.example/hook"}}
`, 12, "OSSERVATORIO_OBSERVATORY_MI_WEBHOOK_SECRET"},
		{"an embargo that is no time", `storage: {endpoint: x}
temporal: {address: y}
sources:
  eurostat:
    base_url: http://x
    publish_at: "tomorrow"
    datasets: [{id: a}]
`, 6, "publish_at"},
		{"bad rate limit", `storage: {endpoint: x}
temporal: {address: y}
sources:
  eurostat:
    base_url: http://x
    rate_limit: {requests: 0, per: 1m}
    datasets: [{id: a}]
`, 6, "rate_limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("f.yaml", []byte(tt.yaml), noEnv)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want *Error", err)
			}
			found := false
			for _, p := range ce.Problems {
				if p.Line == tt.wantLine && strings.Contains(p.Message, tt.wantMsg) {
					found = true
				}
			}
			if !found {
				t.Errorf("problems %+v lack line %d with %q", ce.Problems, tt.wantLine, tt.wantMsg)
			}
		})
	}
}

// A type error (a word where a number or a duration goes) does not hide the file's other problems.
func TestEveryProblemAtOnce(t *testing.T) {
	_, err := Parse("f.yaml", []byte(`storage: {endpoint: x}
temporal: {address: y}
sources:
  eurostat:
    base_url: ftp://x
    max_bytes: lots
    timeout: soon
    idle_timeout: 45s
    datasets: [{id: a}]
`), noEnv)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	lines := map[int]bool{}
	for _, p := range ce.Problems {
		lines[p.Line] = true
	}
	for _, want := range []int{5, 6, 7} {
		if !lines[want] {
			t.Errorf("problems %+v: none on line %d", ce.Problems, want)
		}
	}
}

func TestWarningsAndSecrets(t *testing.T) {
	env := map[string]string{"OSSERVATORIO_LOMBARDIA_APP_TOKEN": "app-token-secret"}
	c, err := Parse("default", deploy.DefaultConfig, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0], "development secret") {
		t.Errorf("warnings of the default: %v", w)
	}
	c.API.Address = "0.0.0.0:8080"
	if w := c.Warnings(); len(w) != 2 || !strings.Contains(w[0], "beyond loopback") {
		t.Errorf("warnings: %v", w)
	}
	shown, _ := json.Marshal(c)
	for _, secret := range []string{DevSecretKey, "app-token-secret"} {
		if strings.Contains(string(shown), secret) {
			t.Errorf("config show prints the secret %q", secret)
		}
	}
}

// A webhook secret comes from the environment and is never printed.
func TestWebhookSecretFromTheEnvironment(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	doc := strings.Replace(strings.Replace(oneObservatory, "endpoint: x", `endpoint: "127.0.0.1:9000"`, 1), "address: y", `address: "127.0.0.1:7233"`, 1)
	c, err := Parse("f.yaml", []byte(doc+`    subscription: {webhook: {url: "https://mi.example/hook"}}
`), func(k string) string {
		if k == "OSSERVATORIO_OBSERVATORY_MI_WEBHOOK_SECRET" {
			return secret
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	w := c.Observatories[0].Subscription.Webhook
	if w.Secret != secret || len(w.Retry) != len(DefaultWebhookRetry) || w.DisableFor.D() != 24*time.Hour {
		t.Errorf("webhook = %+v", w)
	}
	if out, _ := json.Marshal(c); strings.Contains(string(out), "MfKQ9r8") {
		t.Error("the configuration's JSON holds the webhook secret")
	}
}

func TestFreshnessAndAlerts(t *testing.T) {
	_, err := Parse("f.yaml", []byte(`storage: {endpoint: "127.0.0.1:9000"}
temporal: {address: "127.0.0.1:7233"}
alerts:
  webhook: {url: "ops.example.org/hooks"}
sources:
  eurostat:
    base_url: http://x
    freshness: {warn_after: 72h, error_after: 36h}
    overlap: sometimes
    datasets: [{id: a}]
`), noEnv)
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want *Error", err)
	}
	msg := ce.Error()
	for _, want := range []string{"alerts.webhook.url \"ops.example.org/hooks\" must be an http(s) URL", "OSSERVATORIO_ALERTS_WEBHOOK_SECRET",
		"sources.eurostat.freshness needs 0 < warn_after <= error_after", "sources.eurostat.overlap \"sometimes\" must be skip, buffer_one"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems %q: none says %q", msg, want)
		}
	}
	c, err := Parse("default", deploy.DefaultConfig, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if f := c.FreshnessOf("eurostat"); f.WarnAfter.D() != 2400*time.Hour || !f.SourceToo() {
		t.Errorf("eurostat freshness %+v", f)
	}
	if f := c.FreshnessOf("mur"); f.WarnAfter.D() != 48*time.Hour || f.SourceToo() || c.Alerts.Failures != 3 {
		t.Errorf("default freshness %+v, failures %d", f, c.Alerts.Failures)
	}
}

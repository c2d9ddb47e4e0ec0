package config

import (
	"net/url"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Freshness is how old a dataset may get: its last successful check (a fetch that ended without error,
// with new data or not) and, where the source says when it last updated, that update. Past WarnAfter it
// is stale (warn), past ErrorAfter stale (error).
type Freshness struct {
	WarnAfter  Duration `yaml:"warn_after" json:"warn_after"`
	ErrorAfter Duration `yaml:"error_after" json:"error_after"`
	// Source applies the thresholds to the source's own last update too (default true when freshness is
	// set; a source that publishes monthly needs thresholds of weeks then).
	Source *bool `yaml:"source" json:"source,omitempty"`
}

// DefaultFreshness applies to a source with no freshness: our last successful check only.
var DefaultFreshness = Freshness{WarnAfter: Duration(48 * time.Hour), ErrorAfter: Duration(8 * 24 * time.Hour), Source: new(bool)}

// SourceToo says whether the thresholds apply to the source's own last update.
func (f Freshness) SourceToo() bool { return f.Source == nil || *f.Source }

// Alerts is where the platform says a dataset turned stale or failing, besides its log.
type Alerts struct {
	// Webhook is notified (Standard Webhooks) when a dataset turns stale or failing, and when it recovers.
	// Set its secret with OSSERVATORIO_ALERTS_WEBHOOK_SECRET.
	Webhook *AlertWebhook `yaml:"webhook" json:"webhook,omitempty"`
	// Failures is how many failed checks in a row make a dataset failing (default 3).
	Failures int `yaml:"failures" json:"failures"`
}

// AlertWebhook is the endpoint of alerts.
type AlertWebhook struct {
	URL    string `yaml:"url" json:"url"`
	Secret string `yaml:"secret" json:"-"`
}

// FreshnessOf returns the freshness of a source, the default when it sets none.
func (c *Config) FreshnessOf(source string) Freshness {
	if f := c.Sources[source].Freshness; f != nil {
		return *f
	}
	return DefaultFreshness
}

func (c *Config) validateAlerts(add func(path, format string, args ...any)) {
	if c.Alerts.Failures < 0 {
		add("alerts.failures", "alerts.failures must be positive")
	}
	if w := c.Alerts.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("alerts.webhook", "alerts.webhook.url %q must be an http(s) URL", w.URL)
		}
		if _, err := standardwebhooks.NewWebhook(w.Secret); err != nil || w.Secret == "" {
			add("alerts.webhook", "the alerts webhook needs a secret (whsec_ and base64) in OSSERVATORIO_ALERTS_WEBHOOK_SECRET")
		}
	}
	for _, name := range c.SourceNames() {
		f := c.Sources[name].Freshness
		if f != nil && (f.WarnAfter <= 0 || f.ErrorAfter < f.WarnAfter) {
			add("sources."+name+".freshness", "sources.%s.freshness needs 0 < warn_after <= error_after (e.g. {warn_after: 36h, error_after: 72h})", name)
		}
	}
}

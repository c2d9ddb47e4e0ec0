package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Observatory is one subscriber of releases: a provincial observatory or the region.
type Observatory struct {
	ID       string `yaml:"id" json:"id"`
	Name     string `yaml:"name" json:"name"`
	Province string `yaml:"province" json:"province"` // Istat province code, "" for the region
	// Delivery is how releases reach it: "pull" (default: it runs osservatorio pull with its own key) or
	// "push" (the platform copies each release into Bucket/Prefix, on the platform's store or on the
	// observatory's own S3 endpoint).
	Delivery string `yaml:"delivery" json:"delivery"`
	Bucket   string `yaml:"bucket" json:"bucket"`
	Prefix   string `yaml:"prefix" json:"prefix"`
	// Endpoint, with AccessKey and SecretKey, is the observatory's own S3 service for push delivery
	// (default: the platform's store). Set the secret with OSSERVATORIO_OBSERVATORY_<ID>_SECRET_KEY.
	Endpoint     string       `yaml:"endpoint" json:"endpoint,omitempty"`
	UseSSL       bool         `yaml:"use_ssl" json:"use_ssl,omitempty"`
	AccessKey    string       `yaml:"access_key" json:"-"`
	SecretKey    string       `yaml:"secret_key" json:"-"`
	Subscription Subscription `yaml:"subscription" json:"subscription"`
}

// Subscription is what an observatory receives of each release.
type Subscription struct {
	// Tables limits the bundle to these release tables (empty: all).
	Tables []string `yaml:"tables" json:"tables,omitempty"`
	// Sources limits the bundle to the data of these sources (empty: all).
	Sources []string `yaml:"sources" json:"sources,omitempty"`
	// ProvinceOnly slices labour_events and the labour flows to the observatory's province.
	ProvinceOnly bool `yaml:"province_only" json:"province_only,omitempty"`
	// Webhook, when set, is notified of each release (Standard Webhooks).
	Webhook *Webhook `yaml:"webhook" json:"webhook,omitempty"`
}

// Webhook is an endpoint notified of every release, signed per Standard Webhooks.
type Webhook struct {
	URL string `yaml:"url" json:"url"`
	// Secret signs the notifications ("whsec_" and base64); set it with
	// OSSERVATORIO_OBSERVATORY_<ID>_WEBHOOK_SECRET rather than in the file.
	Secret string `yaml:"secret" json:"-"`
	// Retry is the wait before each attempt (default Svix's: 0s 5s 5m 30m 2h 5h 10h 10h).
	Retry []Duration `yaml:"retry" json:"retry,omitempty"`
	// DisableFor is how long an endpoint that failed every attempt of a notification stays disabled
	// (default 24h); osservatorio observatory enable ID re-enables it sooner.
	DisableFor Duration `yaml:"disable_for" json:"disable_for,omitempty"`
}

// DefaultWebhookRetry is the Svix retry schedule: the wait before each attempt.
var DefaultWebhookRetry = []Duration{0, Duration(5 * time.Second), Duration(5 * time.Minute), Duration(30 * time.Minute),
	Duration(2 * time.Hour), Duration(5 * time.Hour), Duration(10 * time.Hour), Duration(10 * time.Hour)}

// ReleaseTables are the tables a release can hold, which a subscription may choose from.
var ReleaseTables = []string{"observations", "indicators", "labour_events", "labour_flows", "labour_flows_yearly",
	"labour_balances", "labels", "territories"}

// Full says whether the subscription takes every release whole.
func (s Subscription) Full() bool {
	return len(s.Tables) == 0 && len(s.Sources) == 0 && !s.ProvinceOnly
}

// String says what the subscription takes, in a few words.
func (s Subscription) String() string {
	var parts []string
	if len(s.Tables) > 0 {
		parts = append(parts, "tables "+strings.Join(s.Tables, ","))
	}
	if len(s.Sources) > 0 {
		parts = append(parts, "sources "+strings.Join(s.Sources, ","))
	}
	if s.ProvinceOnly {
		parts = append(parts, "its province")
	}
	if len(parts) == 0 {
		parts = append(parts, "everything")
	}
	if s.Webhook != nil {
		parts = append(parts, "webhook")
	}
	return strings.Join(parts, "; ")
}

// EnvName is the observatory id as it appears in environment variable names.
func EnvName(id string) string { return strings.ToUpper(strings.NewReplacer("-", "_").Replace(id)) }

func (o *Observatory) applyEnv(getenv func(string) string) {
	if v := getenv("OSSERVATORIO_OBSERVATORY_" + EnvName(o.ID) + "_SECRET_KEY"); v != "" {
		o.SecretKey = v
	}
	if v := getenv("OSSERVATORIO_OBSERVATORY_" + EnvName(o.ID) + "_WEBHOOK_SECRET"); v != "" && o.Subscription.Webhook != nil {
		o.Subscription.Webhook.Secret = v
	}
}

func (o *Observatory) applyDefaults() {
	if o.Bucket == "" {
		o.Bucket = "obs-" + o.ID
	}
	if o.Delivery == "" {
		o.Delivery = "pull"
	}
	if w := o.Subscription.Webhook; w != nil {
		if len(w.Retry) == 0 {
			w.Retry = DefaultWebhookRetry
		}
		if w.DisableFor == 0 {
			w.DisableFor = Duration(24 * time.Hour)
		}
	}
}

func (c *Config) validateObservatory(p string, o Observatory, add func(path, format string, args ...any)) {
	if !idRE.MatchString(o.ID) {
		add(p, "observatory id %q must be lower case letters, digits, - and _", o.ID)
	}
	if o.Name == "" {
		add(p, "observatory %q has no name", o.ID)
	}
	if o.Province != "" && !regexp.MustCompile(`^\d{3}$`).MatchString(o.Province) {
		add(p+".province", "observatory %q: province %q must be a 3-digit Istat code", o.ID, o.Province)
	} else if o.Province != "" && !lombardProvince(o.Province) {
		add(p+".province", "observatory %q: province %q is not a province of Lombardy (012 Varese … 108 Monza e della Brianza)", o.ID, o.Province)
	}
	if o.Delivery != "pull" && o.Delivery != "push" {
		add(p+".delivery", "observatory %q: delivery %q must be pull or push", o.ID, o.Delivery)
	}
	if !bucketRE.MatchString(o.Bucket) {
		add(p, "observatory %q: bucket %q is not a valid bucket name", o.ID, o.Bucket)
	}
	if o.Bucket == c.Storage.Bucket && o.Endpoint == "" {
		add(p, "observatory %q: bucket %q is the platform's own bucket; give each observatory a bucket of its own", o.ID, o.Bucket)
	}
	if o.Prefix != "" && !prefixRE.MatchString(o.Prefix) {
		add(p+".prefix", "observatory %q: prefix %q must be a relative folder like releases-2026/ (letters, digits, - _ . /, no .. and no leading /)", o.ID, o.Prefix)
	}
	if o.Endpoint != "" && (o.AccessKey == "" || o.SecretKey == "") {
		add(p+".endpoint", "observatory %q: its own endpoint needs access_key and a secret (OSSERVATORIO_OBSERVATORY_%s_SECRET_KEY)", o.ID, EnvName(o.ID))
	}
	c.validateSubscription(p+".subscription", o, add)
}

// CheckSubscription says what is wrong with a subscription of the observatory, in plain words.
func (c *Config) CheckSubscription(o Observatory, s Subscription) []string {
	var out []string
	c.checkSubscription("", o, s, func(_, format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) })
	return out
}

func (c *Config) validateSubscription(p string, o Observatory, add func(path, format string, args ...any)) {
	c.checkSubscription(p, o, o.Subscription, add)
}

func (c *Config) checkSubscription(p string, o Observatory, s Subscription, add func(path, format string, args ...any)) {
	for _, t := range s.Tables {
		if !slices.Contains(ReleaseTables, t) {
			add(p+".tables", "observatory %q subscribes to table %q, which releases do not have (%s)", o.ID, t, strings.Join(ReleaseTables, ", "))
		}
	}
	for _, src := range s.Sources {
		if _, ok := c.Sources[src]; !ok {
			add(p+".sources", "observatory %q subscribes to source %q, which is not configured", o.ID, src)
		}
	}
	if s.ProvinceOnly && o.Province == "" {
		add(p+".province_only", "observatory %q: province_only needs the observatory's province", o.ID)
	}
	if w := s.Webhook; w != nil {
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(p+".webhook", "observatory %q: webhook url %q must be an http(s) URL", o.ID, w.URL)
		}
		if _, err := standardwebhooks.NewWebhook(w.Secret); err != nil || w.Secret == "" {
			add(p+".webhook", "observatory %q: the webhook needs a secret (whsec_ and base64) in OSSERVATORIO_OBSERVATORY_%s_WEBHOOK_SECRET", o.ID, EnvName(o.ID))
		}
		for _, d := range w.Retry {
			if d < 0 {
				add(p+".webhook.retry", "observatory %q: webhook retry waits must not be negative", o.ID)
			}
		}
	}
}

// ObservatoryIDs lists the configured observatories.
func (c *Config) ObservatoryIDs() []string {
	out := make([]string, len(c.Observatories))
	for i, o := range c.Observatories {
		out[i] = o.ID
	}
	return out
}

// Observatory returns the configured observatory id.
func (c *Config) Observatory(id string) (Observatory, bool) {
	for _, o := range c.Observatories {
		if o.ID == id {
			return o, true
		}
	}
	return Observatory{}, false
}

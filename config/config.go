// Package config reads and validates the platform's one YAML configuration file: sources with their base
// URLs, datasets and schedules, the observatories, and the storage and Temporal endpoints. It is read in
// cmd/, validated once, and passed down as plain structs.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
)

// Config is the whole configuration.
type Config struct {
	Storage       Storage           `yaml:"storage" json:"storage"`
	Temporal      Temporal          `yaml:"temporal" json:"temporal"`
	API           API               `yaml:"api" json:"api"`
	Dev           Dev               `yaml:"dev" json:"dev"`
	Release       Release           `yaml:"release" json:"release"`
	Sources       map[string]Source `yaml:"sources" json:"sources"`
	Observatories []Observatory     `yaml:"observatories" json:"observatories"`
	Lineage       Lineage           `yaml:"lineage" json:"lineage"`
	Alerts        Alerts            `yaml:"alerts" json:"alerts"`
	lines         map[string]int    // path → line, for errors found after decoding
}

// Lineage is where OpenLineage events go besides the bucket's lineage/ folder.
type Lineage struct {
	// URL of a Marquez-compatible API (events are POSTed to URL/api/v1/lineage); empty: the bucket only.
	URL string `yaml:"url" json:"url,omitempty"`
	// Namespace of the platform's jobs (default osservatorio).
	Namespace string `yaml:"namespace" json:"namespace"`
}

// Storage is the S3-compatible object store (MinIO locally).
type Storage struct {
	Endpoint  string `yaml:"endpoint" json:"endpoint"`
	AccessKey string `yaml:"access_key" json:"access_key"`
	SecretKey string `yaml:"secret_key" json:"-"`
	UseSSL    bool   `yaml:"use_ssl" json:"use_ssl"`
	Region    string `yaml:"region" json:"region,omitempty"`
	Bucket    string `yaml:"bucket" json:"bucket"`
}

// Temporal is the Temporal frontend.
type Temporal struct {
	Address   string `yaml:"address" json:"address"`
	Namespace string `yaml:"namespace" json:"namespace"`
	TaskQueue string `yaml:"task_queue" json:"task_queue"`
	// TLS connects over TLS: to Temporal Cloud (its CA is public: set nothing but, for mTLS, cert and
	// key) or to a self-hosted server behind TLS (ca: its CA).
	TLS *TemporalTLS `yaml:"tls" json:"tls,omitempty"`
	// APIKey authenticates to Temporal Cloud instead of mTLS (it implies TLS); set it with
	// OSSERVATORIO_TEMPORAL_API_KEY rather than in the file.
	APIKey string `yaml:"api_key" json:"-"`
}

// TemporalTLS are the PEM files of a TLS connection to Temporal.
type TemporalTLS struct {
	Cert       string `yaml:"cert" json:"cert,omitempty"` // client certificate (mTLS)
	Key        string `yaml:"key" json:"key,omitempty"`   // its private key
	CA         string `yaml:"ca" json:"ca,omitempty"`     // the server's CA, when not a public one
	ServerName string `yaml:"server_name" json:"server_name,omitempty"`
}

// API is the platform's HTTP API.
type API struct {
	Address string `yaml:"address" json:"address"`
	// AllowedHosts are the host names the API answers to beyond its own address and loopback (the name a
	// TLS proxy in front of it serves, e.g. osservatorio.regione.lombardia.it). Requests for any other Host
	// are refused, and so are browser requests whose Origin is none of them (DNS rebinding, cross-site POST).
	AllowedHosts []string `yaml:"allowed_hosts" json:"allowed_hosts,omitempty"`
}

// Dev configures the embedded default (`osservatorio dev`).
type Dev struct {
	StateDir            string `yaml:"state_dir" json:"state_dir"`
	BinDir              string `yaml:"bin_dir" json:"bin_dir"`
	TemporalUIPort      int    `yaml:"temporal_ui_port" json:"temporal_ui_port"`
	MinioConsoleAddress string `yaml:"minio_console_address" json:"minio_console_address"`
}

// Release configures release building and delivery.
type Release struct {
	// Name is the data package name written in every datapackage.json.
	Name string `yaml:"name" json:"name"`
	// DeliveryAttempts bounds how often one observatory's delivery is tried before it is recorded as failed.
	DeliveryAttempts int `yaml:"delivery_attempts" json:"delivery_attempts"`
	// SigningKey is the ed25519 private key (PKCS#8 PEM) that signs every release's datapackage.json
	// (default <dev.state_dir>/keys/release-signing.pem, made at the first run). In production point it
	// at a secret file mounted on every worker.
	SigningKey string `yaml:"signing_key" json:"signing_key"`
}

// Source is one data source.
type Source struct {
	BaseURL  string `yaml:"base_url" json:"base_url"`
	Schedule string `yaml:"schedule" json:"schedule"`
	MaxBytes int64  `yaml:"max_bytes" json:"max_bytes"`
	// Timeout bounds one request to the source, its body included (default 15m).
	Timeout Duration `yaml:"timeout" json:"timeout"`
	// PublishAt embargoes the releases this source's changes make: "10:00" publishes them at the next
	// 10:00 in Europe/Rome, a duration ("2h") that long after the build; built at once either way, and
	// readable by no observatory key until then.
	PublishAt string `yaml:"publish_at" json:"publish_at,omitempty"`
	// IdleTimeout bounds the wait for the response headers and then for each next byte of a body (default
	// 45s): a source that accepts the connection and goes silent fails then, naming the URL.
	IdleTimeout Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// AppToken is sent as X-App-Token where the source takes one (Socrata); set it with
	// OSSERVATORIO_<SOURCE>_APP_TOKEN rather than in the file.
	AppToken string `yaml:"app_token" json:"-"`
	// SchemaDrift says what to do when a source adds columns: fail, warn (go on, report) or accept.
	// Missing or renamed columns always fail.
	SchemaDrift string `yaml:"schema_drift" json:"schema_drift,omitempty"`
	// RateLimit caps the requests to the source from the whole platform, whatever the number of workers:
	// its fetches run on a task queue of their own with a server-side rate limit.
	RateLimit *RateLimit `yaml:"rate_limit" json:"rate_limit,omitempty"`
	// FilesURL, when set, is where a catalogue source's files are fetched from instead of the host their
	// catalogue names (mlps: dati.gov.it lists files of dati.lavoro.gov.it): the file's path is kept. Set it
	// to a mirror; OSSERVATORIO_<SOURCE>_FILES_URL overrides it.
	FilesURL string `yaml:"files_url" json:"files_url,omitempty"`
	// PageSize is the rows asked per page where a source pages its answers (Socrata: $limit).
	PageSize int `yaml:"page_size" json:"page_size,omitempty"`
	// ReconcileEvery is how often an incremental source is downloaded in full again, to pick up rows the
	// source rewrote without moving its watermark (Socrata).
	ReconcileEvery Duration `yaml:"reconcile_every" json:"reconcile_every,omitempty"`
	// DateWindow is how far back, by the rows' business date, an incremental source takes rows again when
	// it finds published rows rewritten (a republication), instead of downloading everything (Socrata).
	DateWindow Duration `yaml:"date_window" json:"date_window,omitempty"`
	// License is the licence the source publishes its data under and Attribution how it asks to be
	// credited: both go into every release's manifest, per source and in the package's licences.
	License     License `yaml:"license" json:"license"`
	Attribution string  `yaml:"attribution" json:"attribution"`
	// CatchupWindow is how late a missed scheduled refresh (the server or the workers were down) may still
	// run (default Temporal's, 1 year: set e.g. 6h so that a day-old refresh is not run late).
	CatchupWindow Duration `yaml:"catchup_window" json:"catchup_window,omitempty"`
	// Overlap is what a scheduled refresh does when the previous one still runs: skip (default),
	// buffer_one (run it after), cancel_other or terminate_other.
	Overlap string `yaml:"overlap" json:"overlap,omitempty"`
	// Freshness is how old the source's datasets may get before they are stale (osservatorio status).
	Freshness *Freshness `yaml:"freshness" json:"freshness,omitempty"`
	Datasets  []Dataset  `yaml:"datasets" json:"datasets"`
}

// License is a data licence as a Data Package names it: an SPDX-style id, its URL and a title.
type License struct {
	Name  string `yaml:"name" json:"name"`
	Path  string `yaml:"path" json:"path,omitempty"`
	Title string `yaml:"title" json:"title,omitempty"`
}

// RateLimit is at most Requests requests every Per.
type RateLimit struct {
	Requests int      `yaml:"requests" json:"requests"`
	Per      Duration `yaml:"per" json:"per"`
	// Margin is how long after a window a place stays taken (default 3s): the source counts a request
	// when it reaches it, which a busy machine or a slow connection delays.
	Margin *Duration `yaml:"margin" json:"margin,omitempty"`
}

// Dataset is one dataset of a source, with the filters that select the Lombardy slice of it.
type Dataset struct {
	ID      string              `yaml:"id" json:"id"`
	Code    string              `yaml:"code" json:"code,omitempty"`
	Filters map[string][]string `yaml:"filters" json:"filters,omitempty"`
	Since   string              `yaml:"since" json:"since,omitempty"`
	// Format is the source format to fetch where a source offers several (eurostat: jsonstat, tsv, sdmx-ss,
	// sdmx-csv; istat: generic, structurespecific, csv).
	Format string `yaml:"format" json:"format,omitempty"`
	// Resource is the file name of the dataset inside a CKAN package (mur, mlps).
	Resource string `yaml:"resource" json:"resource,omitempty"`
	// Query holds the parts of a source's query beyond filters (inps: rows, cols, measures, geo).
	Query map[string][]string `yaml:"query" json:"query,omitempty"`
	// Columns maps the columns of a plain CSV table to the common model (inps csv, mlps): period, month,
	// geo, value or values, sex, age, education, sector, citizenship, unit, breakdown.
	Columns map[string]string `yaml:"columns" json:"columns,omitempty"`
	// Unit and UnitMult are the unit of measure (a code of codelist/dim_unit.csv) and its power of ten for
	// a dataset whose source does not say them (the labour ministry's tables); the source's own attributes
	// win where it gives them.
	Unit     string `yaml:"unit" json:"unit,omitempty"`
	UnitMult *int   `yaml:"unit_mult" json:"unit_mult,omitempty"`
}

// Duration is a time.Duration written as "30s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		// A TypeError lets the decoder go on and report the file's other problems with this one.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %q is not a duration (use 30s, 2m)", n.Line, n.Value)}}
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (interface{}, error) { return time.Duration(d).String(), nil }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Error is every problem found in a configuration file, each with its line.
type Error struct {
	File     string
	Problems []Problem
}

// Problem is one configuration error at a line (0 when the line is unknown).
type Problem struct {
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s)", e.File, len(e.Problems))
	for _, p := range e.Problems {
		if p.Line > 0 {
			fmt.Fprintf(&b, "\n  %s:%d: %s", e.File, p.Line, p.Message)
		} else {
			fmt.Fprintf(&b, "\n  %s: %s", e.File, p.Message)
		}
	}
	return b.String()
}

// Load reads, decodes, applies environment overrides and defaults to, and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data, os.Getenv)
}

// Parse decodes and validates data; getenv supplies the OSSERVATORIO_* overrides.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{File: name, Problems: []Problem{{Line: 1, Message: "the file is empty: storage, temporal and sources are required (see deploy/osservatorio.yaml)"}}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: name, Problems: []Problem{yamlProblem(err)}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	var probs []Problem
	if err := dec.Decode(&c); err != nil {
		// A TypeError leaves the rest of the file decoded: its problems are reported with the others.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &Error{File: name, Problems: []Problem{yamlProblem(err)}}
		}
		for _, msg := range te.Errors {
			probs = append(probs, lineProblem(msg))
		}
	}
	c.lines = map[string]int{}
	indexLines(&root, "", c.lines)
	c.applyEnv(getenv)
	c.applyDefaults()
	if probs = append(probs, c.validate()...); len(probs) > 0 {
		sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
		return nil, &Error{File: name, Problems: probs}
	}
	return &c, nil
}

var lineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func lineProblem(msg string) Problem {
	if m := lineRE.FindStringSubmatch(msg); m != nil {
		var n int
		fmt.Sscanf(m[1], "%d", &n)
		return Problem{Line: n, Message: m[2]}
	}
	return Problem{Message: msg}
}

func yamlProblem(err error) Problem { return lineProblem(err.Error()) }

// indexLines records the line of every mapping key and sequence item under a dotted path
// ("sources.eurostat.schedule", "observatories.3.province").
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := join(path, k.Value)
			lines[p] = k.Line
			indexLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := join(path, fmt.Sprint(i))
			lines[p] = c.Line
			indexLines(c, p, lines)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Line returns the line of a dotted path in the file, or 0.
func (c *Config) Line(path string) int { return c.lines[path] }

// applyEnv applies OSSERVATORIO_<SOURCE>_BASE_URL and the storage credentials from the environment.
func (c *Config) applyEnv(getenv func(string) string) {
	for i := range c.Observatories {
		c.Observatories[i].applyEnv(getenv)
	}
	for name, s := range c.Sources {
		if v := getenv("OSSERVATORIO_" + strings.ToUpper(name) + "_BASE_URL"); v != "" {
			s.BaseURL = v
		}
		if v := getenv("OSSERVATORIO_" + strings.ToUpper(name) + "_FILES_URL"); v != "" {
			s.FilesURL = v
		}
		if v := getenv("OSSERVATORIO_" + strings.ToUpper(name) + "_APP_TOKEN"); v != "" {
			s.AppToken = v
		}
		c.Sources[name] = s
	}
	if v := getenv("OSSERVATORIO_STORAGE_ENDPOINT"); v != "" {
		c.Storage.Endpoint = v
	}
	if v := getenv("OSSERVATORIO_STORAGE_ACCESS_KEY"); v != "" {
		c.Storage.AccessKey = v
	}
	if v := getenv("OSSERVATORIO_STORAGE_SECRET_KEY"); v != "" {
		c.Storage.SecretKey = v
	}
	if v := getenv("OSSERVATORIO_TEMPORAL_ADDRESS"); v != "" {
		c.Temporal.Address = v
	}
	if v := getenv("OSSERVATORIO_STORAGE_USE_SSL"); v != "" {
		c.Storage.UseSSL = v == "true" || v == "1"
	}
	if v := getenv("OSSERVATORIO_STORAGE_REGION"); v != "" {
		c.Storage.Region = v
	}
	if v := getenv("OSSERVATORIO_API_ADDRESS"); v != "" {
		c.API.Address = v
	}
	if v := getenv("OSSERVATORIO_API_ALLOWED_HOSTS"); v != "" {
		c.API.AllowedHosts = strings.Split(v, ",")
	}
	if v := getenv("OSSERVATORIO_RELEASE_SIGNING_KEY"); v != "" {
		c.Release.SigningKey = v
	}
	if v := getenv("OSSERVATORIO_TEMPORAL_NAMESPACE"); v != "" {
		c.Temporal.Namespace = v
	}
	if v := getenv("OSSERVATORIO_TEMPORAL_API_KEY"); v != "" {
		c.Temporal.APIKey = v
	}
	if v := getenv("OSSERVATORIO_ALERTS_WEBHOOK_SECRET"); v != "" && c.Alerts.Webhook != nil {
		c.Alerts.Webhook.Secret = v
	}
}

func (c *Config) applyDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&c.Storage.Bucket, "osservatorio")
	def(&c.Temporal.Namespace, "default")
	def(&c.Temporal.TaskQueue, "osservatorio")
	def(&c.Dev.StateDir, ".osservatorio")
	def(&c.Lineage.Namespace, "osservatorio")
	def(&c.Dev.BinDir, "bin")
	def(&c.Release.Name, "osservatorio-lombardia")
	def(&c.Release.SigningKey, filepath.Join(c.Dev.StateDir, "keys", "release-signing.pem"))
	if c.Release.DeliveryAttempts == 0 {
		c.Release.DeliveryAttempts = 5
	}
	if c.Alerts.Failures == 0 {
		c.Alerts.Failures = 3
	}
	for name, s := range c.Sources {
		if s.MaxBytes == 0 {
			s.MaxBytes = 64 << 20
		}
		if s.Timeout == 0 {
			s.Timeout = Duration(15 * time.Minute)
		}
		if s.IdleTimeout == 0 {
			s.IdleTimeout = Duration(45 * time.Second)
		}
		if s.SchemaDrift == "" {
			s.SchemaDrift = "fail"
		}
		c.Sources[name] = s
	}
	for i := range c.Observatories {
		c.Observatories[i].applyDefaults()
	}
}

// Digest is the sha256 of the effective configuration as config show prints it (secrets left out).
func (c *Config) Digest() string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// KnownSources are the sources this build has connectors for.
var KnownSources = map[string]bool{"eurostat": true, "inail": true, "inps": true, "istat": true, "lombardia": true, "mim": true, "mlps": true, "mur": true}

var (
	idRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

func (c *Config) validate() []Problem {
	var probs []Problem
	units := map[string]bool{}
	if m, err := codelist.LoadModel(); err == nil {
		for code := range m.Codes(codelist.Unit) {
			units[code] = true
		}
	}
	add := func(path, format string, args ...any) {
		probs = append(probs, Problem{Line: c.lines[path], Message: fmt.Sprintf(format, args...)})
	}
	if c.Storage.Endpoint == "" {
		add("storage", "storage.endpoint is required")
	}
	if !bucketRE.MatchString(c.Storage.Bucket) {
		add("storage.bucket", "storage.bucket %q is not a valid bucket name", c.Storage.Bucket)
	}
	if c.Temporal.Address == "" {
		add("temporal", "temporal.address is required")
	}
	for path, addr := range map[string]string{"storage.endpoint": c.Storage.Endpoint, "temporal.address": c.Temporal.Address, "api.address": c.API.Address} {
		if addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(addr); err != nil {
			add(path, "%s %q must be host:port", path, addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			add(path, "%s %q: port %s is not between 1 and 65535", path, addr, port)
		}
	}
	if len(c.Sources) == 0 {
		add("sources", "at least one source is required")
	}
	if u := c.Lineage.URL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		add("lineage.url", "lineage.url %q must start with http:// or https://", u)
	}
	c.validateAlerts(add)
	if t := c.Temporal.TLS; t != nil && (t.Cert == "") != (t.Key == "") {
		add("temporal.tls", "temporal.tls needs both cert and key for mTLS, or neither")
	}
	parser := cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
	names := make([]string, 0, len(c.Sources))
	for name := range c.Sources {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := c.Sources[name]
		p := "sources." + name
		if !KnownSources[name] {
			add(p, "unknown source %q (known: %s)", name, strings.Join(sortedKeys(KnownSources), ", "))
		}
		if s.BaseURL == "" {
			add(p, "sources.%s.base_url is required", name)
		} else if !strings.HasPrefix(s.BaseURL, "http://") && !strings.HasPrefix(s.BaseURL, "https://") {
			add(p+".base_url", "sources.%s.base_url %q must start with http:// or https://", name, s.BaseURL)
		}
		if s.Schedule != "" {
			if _, err := parser.Parse(s.Schedule); err != nil {
				add(p+".schedule", "sources.%s.schedule %q: %v", name, s.Schedule, err)
			}
		}
		if _, err := EmbargoUntil(s.PublishAt, time.Now()); err != nil {
			add(p+".publish_at", "sources.%s: %v", name, err)
		}
		if s.Timeout < 0 || s.IdleTimeout < 0 {
			add(p, "sources.%s: timeout and idle_timeout must be positive", name)
		}
		switch s.Overlap {
		case "", "skip", "buffer_one", "cancel_other", "terminate_other":
		default:
			add(p+".overlap", "sources.%s.overlap %q must be skip, buffer_one, cancel_other or terminate_other", name, s.Overlap)
		}
		if s.CatchupWindow < 0 || (s.CatchupWindow > 0 && s.CatchupWindow.D() < 10*time.Second) {
			add(p+".catchup_window", "sources.%s.catchup_window must be at least 10s", name)
		}
		if rl := s.RateLimit; rl != nil && (rl.Requests <= 0 || rl.Per <= 0) {
			add(p+".rate_limit", "sources.%s.rate_limit needs requests > 0 and per > 0 (e.g. {requests: 5, per: 1m})", name)
		}
		switch s.SchemaDrift {
		case "fail", "warn", "accept":
		default:
			add(p+".schema_drift", "sources.%s.schema_drift %q must be fail, warn or accept", name, s.SchemaDrift)
		}
		if s.MaxBytes < 0 {
			add(p+".max_bytes", "sources.%s.max_bytes must be positive", name)
		}
		if len(s.Datasets) == 0 {
			add(p, "sources.%s has no datasets", name)
		}
		if s.License.Name == "" || s.Attribution == "" {
			add(p, "sources.%s needs a license (name, path, title) and an attribution: releases credit every source", name)
		}
		seen := map[string]bool{}
		for i, d := range s.Datasets {
			dp := fmt.Sprintf("%s.datasets.%d", p, i)
			if !idRE.MatchString(d.ID) {
				add(dp, "dataset id %q must be lower case letters, digits, - and _", d.ID)
			}
			if seen[d.ID] {
				add(dp, "dataset %q is listed twice in source %s", d.ID, name)
			}
			seen[d.ID] = true
			if d.Unit != "" && !units[d.Unit] {
				add(dp+".unit", "dataset %q: unit %q is not in the unit code list (%s)", d.ID, d.Unit, strings.Join(sortedKeys(units), ", "))
			}
			if d.UnitMult != nil && (*d.UnitMult < -15 || *d.UnitMult > 15) {
				add(dp+".unit_mult", "dataset %q: unit_mult %d is not a power of ten between -15 and 15", d.ID, *d.UnitMult)
			}
		}
	}
	seen := map[string]bool{}
	for i, o := range c.Observatories {
		p := fmt.Sprintf("observatories.%d", i)
		if seen[o.ID] {
			add(p, "observatory %q is listed twice", o.ID)
		}
		seen[o.ID] = true
		c.validateObservatory(p, o, add)
	}
	sort.SliceStable(probs, func(i, j int) bool { return probs[i].Line < probs[j].Line })
	return probs
}

// prefixRE is a relative object-key folder: segments of safe characters, none of them . or .., ending in /.
var prefixRE = regexp.MustCompile(`^([A-Za-z0-9_-][A-Za-z0-9._-]*/)+$`)

// lombardProvince says whether code is the Istat number of a province of Lombardy.
func lombardProvince(code string) bool {
	terr, err := codelist.LoadTerritories()
	if err != nil {
		return false
	}
	t, ok := terr.Lookup(code)
	return ok && t.Level == "province" && t.Istat == code
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DevSecretKey is the storage secret of the embedded development configuration.
const DevSecretKey = "osservatorio-dev-secret"

// Warnings are what is valid but unsafe beyond one machine: an API listening past loopback (put TLS in
// front and set api.allowed_hosts) and the embedded development storage secret.
func (c *Config) Warnings() []string {
	var out []string
	if host, _, err := net.SplitHostPort(c.API.Address); err == nil {
		if ip := net.ParseIP(host); (ip == nil && host != "localhost") || (ip != nil && !ip.IsLoopback()) {
			out = append(out, fmt.Sprintf("api.address %s listens beyond loopback: every route needs a token, but put a TLS proxy in front (README, Security)", c.API.Address))
		}
	}
	if c.Storage.SecretKey == DevSecretKey {
		out = append(out, "storage.secret_key is the embedded development secret: set OSSERVATORIO_STORAGE_SECRET_KEY outside a laptop")
	}
	return out
}

// HasObservatory says whether an observatory with this id is configured.
func (c *Config) HasObservatory(id string) bool {
	for _, o := range c.Observatories {
		if o.ID == id {
			return true
		}
	}
	return false
}

// SourceNames returns the configured sources, sorted.
func (c *Config) SourceNames() []string {
	out := make([]string, 0, len(c.Sources))
	for k := range c.Sources {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

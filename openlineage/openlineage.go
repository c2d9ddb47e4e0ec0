// Package openlineage emits an OpenLineage RunEvent (spec 2-0-2) at the start and at the end (COMPLETE or
// FAIL) of every job run of the platform: fetch per dataset, harmonize, build, publish, deliver. Each event
// is written to the platform's bucket as one JSON line (lineage/<day>/<time>-<run>-<type>.jsonl,
// create-only) and, when a URL is configured, POSTed to a Marquez-compatible /api/v1/lineage endpoint in
// the background with retries. Emitting never blocks or fails the data path: errors are logged.
package openlineage

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Spec URLs of the event and of the facets emitted.
const (
	SchemaURL       = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
	Producer        = "https://github.com/osservatorio-lombardia/osservatorio"
	schemaFacet     = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
	dataSourceFacet = "https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet"
	versionFacet    = "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet"
	sqlFacet        = "https://openlineage.io/spec/facets/1-1-0/SQLJobFacet.json#/$defs/SQLJobFacet"
	nominalFacet    = "https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet"
	parentFacet     = "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet"
	errorFacet      = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
)

// Event types.
const (
	Start    = "START"
	Complete = "COMPLETE"
	Fail     = "FAIL"
)

// RunEvent is an OpenLineage run event.
type RunEvent struct {
	EventType string    `json:"eventType"`
	EventTime string    `json:"eventTime"`
	Run       Run       `json:"run"`
	Job       Job       `json:"job"`
	Inputs    []Dataset `json:"inputs"`
	Outputs   []Dataset `json:"outputs"`
	Producer  string    `json:"producer"`
	SchemaURL string    `json:"schemaURL"`
}

// Run is the run of a job: a UUID and facets.
type Run struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

// Job names a job.
type Job struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// Dataset is an input or output: namespace (the bucket's S3 URI, or a source's host) and name (the
// object key, or the URL's path).
type Dataset struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

func facet(schemaURL string, fields map[string]any) map[string]any {
	fields["_producer"], fields["_schemaURL"] = Producer, schemaURL
	return fields
}

// Field is one column of a schema facet.
type Field struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// Object is a dataset for an object of the bucket, with its sha256 as version when known.
func (e *Emitter) Object(key, sha256 string, schema []Field) Dataset {
	d := Dataset{Namespace: e.Namespace(), Name: key, Facets: map[string]any{}}
	if sha256 != "" {
		d.Facets["version"] = facet(versionFacet, map[string]any{"datasetVersion": sha256})
	}
	if schema != nil {
		d.Facets["schema"] = facet(schemaFacet, map[string]any{"fields": schema})
	}
	return d
}

// Source is a dataset for a source URL, with its dataSource facet.
func Source(name, rawURL string) Dataset {
	ns, path := rawURL, "/"
	if i := strings.Index(rawURL, "://"); i >= 0 {
		if j := strings.IndexByte(rawURL[i+3:], '/'); j >= 0 {
			ns, path = rawURL[:i+3+j], rawURL[i+3+j:]
		}
	}
	if q := strings.IndexByte(path, '?'); q >= 0 {
		path = path[:q]
	}
	return Dataset{Namespace: ns, Name: path, Facets: map[string]any{"dataSource": facet(dataSourceFacet, map[string]any{"name": name, "uri": rawURL})}}
}

// Emitter writes events to the bucket and, when URL is set, posts them.
type Emitter struct {
	Bucket *objectstore.Bucket
	// JobNamespace is the namespace of the platform's jobs (default osservatorio).
	JobNamespace string
	URL          string
	Logger       *slog.Logger
	queue        chan []byte
}

// Namespace is the bucket's S3 URI, the namespace of the platform's datasets.
func (e *Emitter) Namespace() string { return "s3://" + e.Bucket.Name() }

// RunTrace is one run of a job being traced.
type RunTrace struct {
	e     *Emitter
	event RunEvent
}

// Parent names the workflow run a job runs in (a Temporal workflow id and run id), and its nominal
// time when it was scheduled.
type Parent struct {
	Workflow, Run string
	Nominal       time.Time
}

// Begin emits START for a run of job with the given inputs and job facets (sql: the SQL text).
func (e *Emitter) Begin(ctx context.Context, job string, parent Parent, sql string, inputs []Dataset) *RunTrace {
	if e == nil {
		return nil
	}
	ns := e.JobNamespace
	if ns == "" {
		ns = "osservatorio"
	}
	ev := RunEvent{Run: Run{RunID: uuid7(), Facets: map[string]any{}}, Job: Job{Namespace: ns, Name: job, Facets: map[string]any{}},
		Producer: Producer, SchemaURL: SchemaURL, Inputs: inputs, Outputs: []Dataset{}}
	if ev.Inputs == nil {
		ev.Inputs = []Dataset{}
	}
	if parent.Run != "" && isUUID(parent.Run) {
		ev.Run.Facets["parent"] = facet(parentFacet, map[string]any{"run": map[string]any{"runId": parent.Run},
			"job": map[string]any{"namespace": ns, "name": parent.Workflow}})
	}
	if !parent.Nominal.IsZero() {
		ev.Run.Facets["nominalTime"] = facet(nominalFacet, map[string]any{"nominalStartTime": parent.Nominal.UTC().Format(time.RFC3339Nano)})
	}
	if sql != "" {
		ev.Job.Facets["sql"] = facet(sqlFacet, map[string]any{"query": sql})
	}
	t := &RunTrace{e: e, event: ev}
	t.emit(ctx, Start, nil, nil)
	return t
}

// Inputs sets the run's inputs, when they are known only as it ends (a fetch learns its URL).
func (t *RunTrace) Inputs(ds ...Dataset) {
	if t != nil {
		t.event.Inputs = ds
	}
}

// End emits COMPLETE with the outputs, or FAIL with err's message.
func (t *RunTrace) End(ctx context.Context, outputs []Dataset, err error) {
	if t == nil {
		return
	}
	if err != nil {
		t.emit(ctx, Fail, outputs, err)
		return
	}
	t.emit(ctx, Complete, outputs, nil)
}

func (t *RunTrace) emit(ctx context.Context, kind string, outputs []Dataset, failure error) {
	ev := t.event
	ev.EventType, ev.EventTime = kind, time.Now().UTC().Format(time.RFC3339Nano)
	if outputs != nil {
		ev.Outputs = outputs
	}
	if failure != nil {
		facets := map[string]any{}
		for k, v := range ev.Run.Facets {
			facets[k] = v
		}
		facets["errorMessage"] = facet(errorFacet, map[string]any{"message": failure.Error(), "programmingLanguage": "go"})
		ev.Run.Facets = facets
	}
	line, err := json.Marshal(ev)
	if err != nil {
		t.e.log().Warn("openlineage: event not encoded", "job", ev.Job.Name, "error", err)
		return
	}
	line = append(line, '\n')
	key := fmt.Sprintf("lineage/%s/%019d-%s-%s.jsonl", time.Now().UTC().Format("2006-01-02"), time.Now().UnixNano(), ev.Run.RunID, strings.ToLower(kind))
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := t.e.Bucket.Put(wctx, key, bytes.NewReader(line), int64(len(line)), objectstore.PutOptions{IfAbsent: true, ContentType: "application/x-ndjson"}); err != nil {
		t.e.log().Warn("openlineage: event not stored", "job", ev.Job.Name, "type", kind, "error", err)
	}
	t.e.post(line)
}

// post queues the event for the configured endpoint; a full queue drops it (it is in the bucket).
func (e *Emitter) post(line []byte) {
	if e.URL == "" {
		return
	}
	if e.queue == nil {
		return
	}
	select {
	case e.queue <- line:
	default:
		e.log().Warn("openlineage: endpoint queue full; event kept in the bucket only")
	}
}

// Run starts the background sender of a configured endpoint; it stops when ctx ends.
func (e *Emitter) Run(ctx context.Context) {
	if e == nil || e.URL == "" {
		return
	}
	e.queue = make(chan []byte, 1024)
	client := retryablehttp.NewClient()
	client.RetryMax, client.RetryWaitMin, client.RetryWaitMax, client.Logger = 4, 500*time.Millisecond, 10*time.Second, nil
	client.HTTPClient.Timeout = 10 * time.Second
	endpoint := strings.TrimRight(e.URL, "/") + "/api/v1/lineage"
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case line := <-e.queue:
				req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, endpoint, line)
				if err != nil {
					continue
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					e.log().Warn("openlineage: event not delivered", "endpoint", endpoint, "error", err)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode >= 300 {
					e.log().Warn("openlineage: endpoint refused an event", "endpoint", endpoint, "status", resp.StatusCode)
				}
			}
		}
	}()
}

func (e *Emitter) log() *slog.Logger {
	if e.Logger == nil {
		return slog.Default()
	}
	return e.Logger
}

// uuid7 is a time-ordered random UUID (RFC 9562 version 7).
func uuid7() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				return false
			}
		}
	}
	return true
}

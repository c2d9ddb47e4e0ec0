// Package metrics holds the platform's Prometheus metrics, and reports the Temporal SDK's into the same
// registry (through the SDK's OpenTelemetry contrib and the OpenTelemetry Prometheus exporter), served
// as /metrics by the worker and the API.
package metrics

import (
	"net/http"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/opentelemetry"
)

// Registry holds every metric the process serves.
var Registry = prometheus.NewRegistry()

var f = promauto.With(Registry)

const ns = "osservatorio"

// The platform's own metrics.
var (
	Requests = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "source_requests_total",
		Help: "HTTP requests sent to a source, retries included, by source and status (or error)."}, []string{"source", "code"})
	Bytes = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "source_bytes_total",
		Help: "Response body bytes read from a source."}, []string{"source"})
	NotModified = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "source_not_modified_total",
		Help: "304 Not Modified answers: a conditional request that cost no body."}, []string{"source"})
	Checks = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "dataset_checks_total",
		Help: "Dataset checks by outcome: changed (new data accepted), unchanged, failed."}, []string{"source", "outcome"})
	Rows = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "rows_harmonized_total",
		Help: "Rows written by harmonizations, by source and table."}, []string{"source", "table"})
	QualityFailed = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "quality_checks_failed_total",
		Help: "Quality checks that failed, by severity (error blocks, warn reports)."}, []string{"severity"})
	Releases = f.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "releases_published_total",
		Help: "Releases published."})
	ReleaseBytes = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "release_bytes_total",
		Help: "Bytes of published release files, by whether they were copied into the blob store or already there."}, []string{"how"})
	Deliveries = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "deliveries_total",
		Help: "Delivery ledger entries written, by status."}, []string{"status"})
	RateLimitWaits = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ratelimit_waits_total",
		Help: "Requests that waited for a place under a source's rate limit."}, []string{"limit"})
	RateLimitWaited = f.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "ratelimit_wait_seconds_total",
		Help: "Time requests spent waiting for a place under a source's rate limit."}, []string{"limit"})
)

// ours are the platform's own metrics, for Names.
var ours = []prometheus.Collector{Requests, Bytes, NotModified, Checks, Rows, QualityFailed, Releases, ReleaseBytes,
	Deliveries, RateLimitWaits, RateLimitWaited}

// Names returns the names of the platform's own metrics (osservatorio_…).
func Names() []string {
	ch := make(chan *prometheus.Desc, len(ours))
	go func() {
		for _, c := range ours {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		s := d.String() // Desc{fqName: "osservatorio_…", …}
		if i := strings.Index(s, `fqName: "`); i >= 0 {
			rest := s[i+len(`fqName: "`):]
			out = append(out, rest[:strings.IndexByte(rest, '"')])
		}
	}
	return out
}

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

var (
	temporalOnce    sync.Once
	temporalHandler client.MetricsHandler
)

// Temporal returns the handler that reports the Temporal SDK's metrics (temporal_…: workflow and activity
// task latencies, polls, failures, schedule-to-start) into Registry. Every client of the process shares it.
func Temporal() client.MetricsHandler {
	temporalOnce.Do(func() {
		exp, err := otelprom.New(otelprom.WithRegisterer(Registry), otelprom.WithoutScopeInfo())
		if err != nil {
			return // the SDK then reports nowhere; ours still work
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
		temporalHandler = opentelemetry.NewMetricsHandler(opentelemetry.MetricsHandlerOptions{Meter: mp.Meter("temporal-sdk")})
	})
	return temporalHandler
}

// Handler serves Registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// Package activities holds every piece of I/O the workflows order: fetching from sources, harmonizing with
// DuckDB, accepting snapshots, building, publishing and delivering releases. Activities are methods on a
// struct holding their dependencies, registered once by package worker. Failures are classified here, at
// the boundary, into the closed set of package fault.
package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/health"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/openlineage"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// Source is a configured source: its connector, datasets and limits.
type Source struct {
	Conn        connectors.Source
	Datasets    []connectors.Dataset
	MaxBytes    int64
	SchemaDrift string // fail, warn or accept: what an added column does
	// HTTP is the source's own client when it has one (a rate-limited source); nil means Activities.HTTP.
	HTTP *httpfetch.Client
	// Credit is the source's licence and attribution, written into every release's manifest.
	Credit release.Credit
	// Freshness is how old its datasets may get, and the failures in a row that make one failing.
	Freshness health.Thresholds
	// Embargo says when a release built at the given time with a change of this source may be published
	// (the zero time: at once); nil means at once.
	Embargo func(built time.Time) time.Time
}

// Observatory is where one observatory receives releases.
type Observatory struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
	// Subscriber is how it receives releases; it holds secrets and never leaves the worker.
	Subscriber *Subscriber `json:"-"`
}

// Subscriber is what an observatory receives and how.
type Subscriber struct {
	Push      bool               // copy each bundle into Bucket/Prefix (else it pulls)
	Store     *objectstore.Store // its own S3 service for push, or nil for the platform's
	Selection release.Selection  // what of each release, by the configuration
	Province  string             // its province, for a subscription set with the CLI or the API
	Webhook   *Webhook           // notified of each release, when set
}

// Webhook is an endpoint notified of releases, per Standard Webhooks.
type Webhook struct {
	URL        string
	Secret     string
	Retry      []time.Duration
	DisableFor time.Duration
}

// Activities holds the dependencies of every activity.
type Activities struct {
	Store         *objectstore.Store
	HTTP          *httpfetch.Client
	Lake          *lake.Lake
	Releases      *release.Store
	Sources       map[string]Source
	Observatories []Observatory
	ReleaseName   string
	// SigningKey is the file of the key that signs releases; empty leaves them unsigned.
	SigningKey string
	// Lineage emits an OpenLineage event at the start and end of each job run; nil emits none.
	Lineage *openlineage.Emitter
	// DeliveryAttempts bounds the tries of one observatory's delivery.
	DeliveryAttempts int32
	WorkDir          string // spool and scratch space; only the raw cache is kept there between activities
	// WorkerQueue is this worker's own task queue: a fetch that leaves a raw object in this worker's cache
	// names it, so that its harmonization runs here.
	WorkerQueue string
	DuckDB      warehouse.Options
	// Alerts is where a dataset turning stale or failing is alerted besides the log; nil: the log only.
	Alerts *AlertSink
}

// deferredRetryDelay is how long to wait before asking again for an extraction the source queued.
const deferredRetryDelay = 5 * time.Minute

// classify turns an error into the Temporal error the workflow and its retry policy understand. details
// (e.g. a partial result naming the raw object kept for inspection) travel with it to the workflow.
func classify(err error, details ...interface{}) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if !errors.As(err, &fe) {
		return err
	}
	// The message already says everything: no cause, so it is not repeated down the chain.
	opts := temporal.ApplicationErrorOptions{Details: details}
	switch fe.Kind {
	case fault.BadInput, fault.QualityGateFailed:
		opts.NonRetryable = true
	case fault.Deferred:
		opts.NextRetryDelay = deferredRetryDelay
	}
	return temporal.NewApplicationErrorWithOptions(err.Error(), string(fe.Kind), opts)
}

func (a *Activities) source(name string) (Source, error) {
	s, ok := a.Sources[name]
	if !ok {
		return Source{}, fault.Errorf(fault.BadInput, "source %q is not configured", name)
	}
	return s, nil
}

func (a *Activities) dataset(source, id string) (Source, connectors.Dataset, error) {
	s, err := a.source(source)
	if err != nil {
		return Source{}, connectors.Dataset{}, err
	}
	for _, d := range s.Datasets {
		if d.ID == id {
			return s, d, nil
		}
	}
	return Source{}, connectors.Dataset{}, fault.Errorf(fault.BadInput, "dataset %q is not configured for source %s", id, source)
}

// SourceDatasets returns the ids of a source's configured datasets, in configuration order.
func (a *Activities) SourceDatasets(ctx context.Context, source string) ([]string, error) {
	s, err := a.source(source)
	if err != nil {
		return nil, classify(err)
	}
	ids := make([]string, len(s.Datasets))
	for i, d := range s.Datasets {
		ids[i] = d.ID
	}
	return ids, nil
}

// DeliveryTargets are the observatories that receive releases and how often each delivery is tried.
type DeliveryTargets struct {
	Observatories []Observatory
	Attempts      int32
}

// ListObservatories returns the observatories that receive releases.
func (a *Activities) ListObservatories(ctx context.Context) (DeliveryTargets, error) {
	return DeliveryTargets{Observatories: a.Observatories, Attempts: a.DeliveryAttempts}, nil
}

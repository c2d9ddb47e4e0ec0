// Package health keeps, per dataset, how its checks went (last check, last success, last change, the
// source's own last update, failures in a row, last error) and judges from it whether the dataset is
// fresh, stale or failing. Refreshes record; osservatorio status, the API and alerts read.
package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Record is how the checks of one dataset went.
type Record struct {
	Source        string    `json:"source"`
	Dataset       string    `json:"dataset"`
	LastCheck     time.Time `json:"lastCheck"`               // the last check, whatever its outcome
	LastSuccess   time.Time `json:"lastSuccess,omitzero"`    // the last check that ended without error
	LastChange    time.Time `json:"lastChange,omitzero"`     // the last new data accepted
	SourceUpdated time.Time `json:"sourceUpdated,omitzero"`  // when the source says it last updated, where it says
	Failures      int       `json:"failures"`                // failed checks in a row
	LastError     string    `json:"lastError,omitempty"`     // of the last failed check
	LastErrorKind string    `json:"lastErrorKind,omitempty"` // its fault kind
	Workflow      string    `json:"workflow,omitempty"`      // the refresh of the last check
	Run           string    `json:"run,omitempty"`
	// Alerted is the state last alerted (ok, warn, error, failing), so that an alert goes on a change only.
	Alerted string `json:"alerted,omitempty"`
}

// Check is the outcome of one check of a dataset.
type Check struct {
	Dataset   string
	Changed   bool
	Error     string
	ErrorKind string
}

// Apply records a check made at now.
func (r *Record) Apply(c Check, now time.Time, workflow, run string) {
	r.LastCheck, r.Workflow, r.Run = now, workflow, run
	if c.Error != "" {
		r.Failures++
		r.LastError, r.LastErrorKind = c.Error, c.ErrorKind
		return
	}
	r.Failures, r.LastSuccess = 0, now
	if c.Changed {
		r.LastChange = now
	}
}

// Thresholds are a source's freshness and the failures in a row that make a dataset failing.
type Thresholds struct {
	WarnAfter, ErrorAfter time.Duration
	SourceToo             bool // judge the source's own last update too
	Failures              int
}

// States of a dataset, worst last.
const (
	OK      = "ok"
	Unknown = "unknown" // never checked
	Warn    = "warn"    // stale past warn_after
	Error   = "error"   // stale past error_after
	Failing = "failing" // failed Failures checks in a row
)

// Judge says the dataset's state at now and why.
func Judge(r Record, t Thresholds, now time.Time) (string, string) {
	if t.Failures > 0 && r.Failures >= t.Failures {
		return Failing, fmt.Sprintf("%d failed checks in a row: %s", r.Failures, r.LastError)
	}
	if r.LastCheck.IsZero() {
		return Unknown, "never checked"
	}
	if r.LastSuccess.IsZero() {
		return Error, "no check has succeeded yet"
	}
	state, why := OK, ""
	judge := func(age time.Duration, what string) {
		switch {
		case age > t.ErrorAfter && state != Error:
			state, why = Error, fmt.Sprintf("%s %s ago, more than error_after %s", what, round(age), t.ErrorAfter)
		case age > t.WarnAfter && state == OK:
			state, why = Warn, fmt.Sprintf("%s %s ago, more than warn_after %s", what, round(age), t.WarnAfter)
		}
	}
	judge(now.Sub(r.LastSuccess), "last successful check")
	if t.SourceToo && !r.SourceUpdated.IsZero() {
		judge(now.Sub(r.SourceUpdated), "last update at the source")
	}
	return state, why
}

func round(d time.Duration) time.Duration {
	if d > time.Hour {
		return d.Round(time.Hour)
	}
	return d.Round(time.Second)
}

// Read returns a dataset's record (a new one when it has none).
func Read(ctx context.Context, b *objectstore.Bucket, source, dataset string) (Record, error) {
	r := Record{Source: source, Dataset: dataset}
	err := b.GetJSON(ctx, lake.HealthKey(source, dataset), &r)
	if errors.Is(err, objectstore.ErrNotFound) {
		return r, nil
	}
	return r, err
}

// Write stores a dataset's record.
func Write(ctx context.Context, b *objectstore.Bucket, r Record) error {
	return b.PutJSON(ctx, lake.HealthKey(r.Source, r.Dataset), r, objectstore.PutOptions{})
}

var stamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?`)

// SourceUpdated reads when the source last updated from a dataset's state: its HTTP Last-Modified, else a
// timestamp in its change signal (an SDMX dataflow's last update, a catalogue's modified date).
func SourceUpdated(st lake.State) time.Time {
	if t, err := http.ParseTime(st.LastModified); err == nil {
		return t.UTC()
	}
	m := stamp.FindString(st.Signal)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, m); err == nil && m != "" {
			return t.UTC()
		}
	}
	return time.Time{}
}

package platform

import (
	"context"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/health"
	"github.com/osservatorio-lombardia/osservatorio/worker"
)

// DatasetStatus is one dataset as osservatorio status shows it.
type DatasetStatus struct {
	Source        string    `json:"source"`
	Dataset       string    `json:"dataset"`
	State         string    `json:"state"` // ok, unknown, warn, error, failing (package health)
	Why           string    `json:"why,omitempty"`
	LastCheck     time.Time `json:"last_check,omitzero"`
	LastSuccess   time.Time `json:"last_success,omitzero"`
	LastChange    time.Time `json:"last_change,omitzero"`    // new data accepted by the platform
	SourceUpdated time.Time `json:"source_updated,omitzero"` // the source's own last update, where it says
	NextRun       time.Time `json:"next_run,omitzero"`
	Paused        bool      `json:"paused,omitempty"`
	Failures      int       `json:"failures"`
	LastError     string    `json:"last_error,omitempty"`
	WarnAfter     string    `json:"warn_after"`
	ErrorAfter    string    `json:"error_after"`
}

// Bad says whether the dataset is stale or failing.
func (d DatasetStatus) Bad() bool {
	return d.State == health.Warn || d.State == health.Error || d.State == health.Failing
}

// Status judges every configured dataset at now from its health record, and adds its source's next
// scheduled run. Schedules are asked of Temporal; when it cannot be reached, scheduleErr says why and the
// rest stands.
func (p *Platform) Status(ctx context.Context, now time.Time) (out []DatasetStatus, scheduleErr error) {
	next := map[string]ScheduleState{}
	if list, err := p.Schedules(ctx); err != nil {
		scheduleErr = err
	} else {
		for _, s := range list {
			next[s.Source] = s
		}
	}
	for _, name := range p.Config.SourceNames() {
		th := worker.Thresholds(p.Config, name)
		for _, d := range p.Config.Sources[name].Datasets {
			r, err := health.Read(ctx, p.Bucket, name, d.ID)
			if err != nil {
				return nil, err
			}
			ds := DatasetStatus{Source: name, Dataset: d.ID, LastCheck: r.LastCheck, LastSuccess: r.LastSuccess,
				LastChange: r.LastChange, SourceUpdated: r.SourceUpdated, Failures: r.Failures, LastError: r.LastError,
				WarnAfter: th.WarnAfter.String(), ErrorAfter: th.ErrorAfter.String()}
			ds.State, ds.Why = health.Judge(r, th, now)
			if s, ok := next[name]; ok && len(s.Next) > 0 {
				ds.NextRun, ds.Paused = s.Next[0], s.Paused
			}
			out = append(out, ds)
		}
	}
	return out, scheduleErr
}

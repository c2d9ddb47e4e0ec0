package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osservatorio-lombardia/osservatorio/health"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/webhook"
)

// AlertSink is where alerts go besides the log: a Standard Webhooks endpoint.
type AlertSink struct {
	URL, Secret string
}

// ChecksInput is how one refresh's checks of a source went, per dataset.
type ChecksInput struct {
	Source string
	Checks []health.Check
}

// Alert is the body of an alert: a dataset turned stale, failing, or fresh again.
type Alert struct {
	Source   string `json:"source"`
	Dataset  string `json:"dataset"`
	State    string `json:"state"` // ok (recovered), warn, error, failing
	Previous string `json:"previous"`
	Why      string `json:"why"`
	Workflow string `json:"workflow"`
	Run      string `json:"run"`
}

// RecordChecks updates each dataset's health record with the refresh's outcome and the source's own last
// update, judges it against the source's freshness, and alerts on a change of state (a log line, and the
// signed webhook when one is configured). An alert that cannot be sent is logged, never failing the
// refresh.
func (a *Activities) RecordChecks(ctx context.Context, in ChecksInput) error {
	src := a.Sources[in.Source]
	wf, run := execution(ctx)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, c := range in.Checks {
		r, err := health.Read(ctx, a.Lake.B, in.Source, c.Dataset)
		if err != nil {
			return err
		}
		r.Apply(c, now, wf, run)
		outcome := "unchanged"
		switch {
		case c.Error != "":
			outcome = "failed"
		case c.Changed:
			outcome = "changed"
		}
		metrics.Checks.WithLabelValues(in.Source, outcome).Inc()
		if st, ok, err := a.Lake.State(ctx, in.Source, c.Dataset); err == nil && ok {
			r.SourceUpdated = health.SourceUpdated(st)
		}
		state, why := health.Judge(r, src.Freshness, now)
		if alerting(r.Alerted, state) {
			a.alert(ctx, Alert{Source: in.Source, Dataset: c.Dataset, State: state, Previous: r.Alerted, Why: why, Workflow: wf, Run: run}, now)
		}
		r.Alerted = state
		if err := health.Write(ctx, a.Lake.B, r); err != nil {
			return err
		}
	}
	return nil
}

// alerting says whether a change of state is alerted: into warn, error or failing, and back to ok from
// one of them.
func alerting(was, now string) bool {
	if was == now {
		return false
	}
	switch now {
	case health.Warn, health.Error, health.Failing:
		return true
	case health.OK:
		return was == health.Warn || was == health.Error || was == health.Failing
	}
	return false
}

// EventAlert is the webhook type of alerts: dataset.warn, dataset.error, dataset.failing, dataset.ok.
const EventAlert = "dataset."

func (a *Activities) alert(ctx context.Context, al Alert, now time.Time) {
	log := activity.GetLogger(ctx)
	say := log.Warn
	if al.State == health.OK {
		say = log.Info // a recovery
	}
	say("alert: dataset "+al.State, "source", al.Source, "dataset", al.Dataset, "state", al.State, "previous", al.Previous, "why", al.Why)
	if a.Alerts == nil || a.Alerts.URL == "" {
		return
	}
	body, err := json.Marshal(webhook.Message{Type: EventAlert + al.State, Timestamp: now, Data: al})
	if err != nil {
		return
	}
	id := fmt.Sprintf("alert-%s-%s-%s-%d", al.Source, al.Dataset, al.State, now.UnixMilli())
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := webhook.NewSender(15*time.Second).Send(sctx, a.Alerts.URL, a.Alerts.Secret, id, body, now); err != nil {
		log.Warn("alert webhook not delivered", "source", al.Source, "dataset", al.Dataset, "error", err)
	}
}

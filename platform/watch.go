package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
)

// WatchRefresh reports a running refresh as it goes, until ctx ends: each dataset's steps as they end
// (fetched or unchanged, bytes; harmonized, rows; accepted), the progress its activities heartbeat
// (bytes, pages, rows), and each failed attempt with its error and when the next one is due, as soon as
// the server knows of it (polled every interval).
func (p *Platform) WatchRefresh(ctx context.Context, id, runID string, interval time.Duration, say func(string)) {
	c, err := p.Temporal(ctx)
	if err != nil {
		return
	}
	w := &watcher{say: say, names: map[string]string{}, byEvent: map[int64]string{}, attempts: map[string]int32{}, beats: map[string]string{}}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		it := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n := int64(0)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				break
			}
			if n++; n > w.seen {
				w.event(ev)
				w.seen = n
			}
		}
		if d, err := c.DescribeWorkflow(ctx, id, runID); err == nil {
			for _, pa := range d.RawResponse.GetPendingActivities() {
				w.pending(pa.GetActivityId(), pa.GetActivityType().GetName(), pa.GetAttempt(), pa.GetLastFailure().GetMessage(),
					pa.GetNextAttemptScheduleTime().AsTime(), pa.GetHeartbeatDetails())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

type watcher struct {
	say      func(string)
	seen     int64
	names    map[string]string // activity id → "dataset Fetch"
	byEvent  map[int64]string  // scheduled event id → activity id
	attempts map[string]int32  // activity id → the last attempt reported
	beats    map[string]string // activity id → the last progress reported
}

var dc = converter.GetDefaultDataConverter()

// event reports one history event of interest.
func (w *watcher) event(ev *history.HistoryEvent) {
	switch ev.GetEventType() {
	case enums.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		a := ev.GetActivityTaskScheduledEventAttributes()
		var in struct{ Source, Dataset string }
		_ = dc.FromPayloads(a.GetInput(), &in)
		name := a.GetActivityType().GetName()
		if in.Dataset != "" {
			name = in.Dataset + ": " + name
		}
		w.names[a.GetActivityId()] = name
		w.byEvent[ev.GetEventId()] = a.GetActivityId()
	case enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		a := ev.GetActivityTaskCompletedEventAttributes()
		id := w.byEvent[a.GetScheduledEventId()]
		w.completed(w.names[id], a.GetResult())
	case enums.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := ev.GetActivityTaskFailedEventAttributes()
		w.say(fmt.Sprintf("%s failed: %s", w.names[w.byEvent[a.GetScheduledEventId()]], oneLine(a.GetFailure().GetMessage())))
	case enums.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := ev.GetActivityTaskTimedOutEventAttributes()
		w.say(fmt.Sprintf("%s timed out: %s", w.names[w.byEvent[a.GetScheduledEventId()]], oneLine(a.GetFailure().GetMessage())))
	case enums.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
		if t := ev.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowType().GetName(); t == "Release" {
			w.say("release: building")
		}
	}
}

// completed reports what a finished step gave.
func (w *watcher) completed(name string, result *commonpb.Payloads) {
	if name == "" {
		return
	}
	var r struct {
		Changed bool
		Reason  string
		Bytes   int64
		Rows    int64
	}
	if len(result.GetPayloads()) > 0 {
		_ = dc.FromPayloads(result, &r)
	}
	switch {
	case strings.HasSuffix(name, ": Fetch") && r.Changed:
		w.say(fmt.Sprintf("%s: new data, %d bytes", name, r.Bytes))
	case strings.HasSuffix(name, ": Fetch"):
		w.say(fmt.Sprintf("%s: unchanged (%s)", name, r.Reason))
	case strings.HasSuffix(name, ": Harmonize"):
		w.say(fmt.Sprintf("%s: %d rows", name, r.Rows))
	case strings.HasSuffix(name, ": Accept"):
		w.say(name + ": accepted")
	}
}

// pending reports a running activity's failed attempt (once per attempt) and its heartbeat progress.
func (w *watcher) pending(id, typ string, attempt int32, lastFailure string, next time.Time, beat *commonpb.Payloads) {
	name := w.names[id]
	if name == "" {
		name = typ
	}
	if attempt > 1 && attempt > w.attempts[id] && lastFailure != "" {
		w.attempts[id] = attempt
		wait := time.Until(next).Round(time.Second)
		if next.IsZero() || wait < 0 {
			wait = 0
		}
		w.say(fmt.Sprintf("%s: attempt %d failed: %s; attempt %d in %s", name, attempt-1, oneLine(lastFailure), attempt, wait))
	}
	if len(beat.GetPayloads()) == 0 {
		return
	}
	var raw json.RawMessage
	if dc.FromPayloads(beat, &raw) != nil {
		return
	}
	progress := describeBeat(raw)
	if progress != "" && progress != w.beats[id] {
		w.beats[id] = progress
		w.say(fmt.Sprintf("%s: %s", name, progress))
	}
}

// describeBeat says what a heartbeat carries: a count (bytes fetched, rows harmonized) or a download's
// checkpoint (pages stored).
func describeBeat(raw json.RawMessage) string {
	var n int64
	if json.Unmarshal(raw, &n) == nil {
		return fmt.Sprintf("%d so far", n)
	}
	var cp struct {
		Pages    []string
		Requests int
	}
	if json.Unmarshal(raw, &cp) == nil && len(cp.Pages) > 0 {
		return fmt.Sprintf("%d pages stored, %d requests", len(cp.Pages), cp.Requests)
	}
	return ""
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

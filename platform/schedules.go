package platform

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"go.temporal.io/sdk/client"
)

// ScheduleState is a source's refresh schedule as it stands: its cron, its next fire times (computed with
// robfig/cron in Europe/Rome, as the server fires them), whether it is paused, and its last run.
type ScheduleState struct {
	Source     string      `json:"source"`
	ID         string      `json:"id"`
	Cron       string      `json:"cron"`
	TimeZone   string      `json:"time_zone"`
	Next       []time.Time `json:"next"`
	Registered bool        `json:"registered"` // false: not in Temporal yet (schedule sync)
	Paused     bool        `json:"paused"`
	Note       string      `json:"note,omitempty"`
	LastRun    *LastRun    `json:"last_run,omitempty"`
}

// LastRun is the latest refresh a schedule started.
type LastRun struct {
	Workflow string    `json:"workflow"`
	Run      string    `json:"run"`
	Due      time.Time `json:"due"`
	Started  time.Time `json:"started"`
	Status   string    `json:"status"`
}

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// NextFires returns the next n times a cron spec fires after from, in Europe/Rome, as the Temporal server
// fires them across daylight saving time (checked against its own next action times): a time that does
// not exist (02:30 on the last Sunday of March) is skipped, and a time that comes twice (02:30 on the last
// Sunday of October) fires once, at its second, CET, occurrence. robfig/cron computes the times and
// would fire both occurrences; the first is dropped.
func NextFires(spec string, from time.Time, n int) ([]time.Time, error) {
	loc, err := time.LoadLocation(TimeZone)
	if err != nil {
		return nil, err
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	wall := func(t time.Time) string { return t.Format("2006-01-02 15:04") }
	var out []time.Time
	t := s.Next(from.In(loc))
	for len(out) < n {
		next := s.Next(t)
		if wall(next) != wall(t) { // not the first of a repeated wall-clock time
			out = append(out, t)
		}
		t = next
	}
	return out, nil
}

// Schedules describes the schedule of every configured source that has one.
func (p *Platform) Schedules(ctx context.Context) ([]ScheduleState, error) {
	c, err := p.Temporal(ctx)
	if err != nil {
		return nil, err
	}
	var out []ScheduleState
	for _, name := range p.Config.SourceNames() {
		src := p.Config.Sources[name]
		if src.Schedule == "" {
			continue
		}
		st := ScheduleState{Source: name, ID: ScheduleID(name), Cron: src.Schedule, TimeZone: TimeZone}
		if st.Next, err = NextFires(src.Schedule, time.Now(), 5); err != nil {
			return nil, err
		}
		d, err := c.ScheduleClient().GetHandle(ctx, st.ID).Describe(ctx)
		if IsNotFound(err) {
			out = append(out, st)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("schedule %s: %w", st.ID, err)
		}
		st.Registered = true
		if s := d.Schedule.State; s != nil {
			st.Paused, st.Note = s.Paused, s.Note
		}
		if n := len(d.Info.RecentActions); n > 0 {
			a := d.Info.RecentActions[n-1]
			st.LastRun = &LastRun{Due: a.ScheduleTime, Started: a.ActualTime}
			if r := a.StartWorkflowResult; r != nil {
				st.LastRun.Workflow, st.LastRun.Run = r.WorkflowID, r.FirstExecutionRunID
				if wd, err := c.DescribeWorkflow(ctx, r.WorkflowID, r.FirstExecutionRunID); err == nil {
					st.LastRun.Status = wd.Status.String()
				}
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// PauseSchedule pauses a source's schedule, with a note saying why, and returns once the schedule says so.
func (p *Platform) PauseSchedule(ctx context.Context, source, note string) error {
	return p.withSchedule(ctx, source, func(h client.ScheduleHandle) error {
		return settle(ctx, h, true, func() error { return h.Pause(ctx, client.SchedulePauseOptions{Note: note}) })
	})
}

// ResumeSchedule resumes a paused schedule and returns once the schedule says so.
func (p *Platform) ResumeSchedule(ctx context.Context, source, note string) error {
	return p.withSchedule(ctx, source, func(h client.ScheduleHandle) error {
		return settle(ctx, h, false, func() error { return h.Unpause(ctx, client.ScheduleUnpauseOptions{Note: note}) })
	})
}

// settle sends a pause or an unpause and waits until the schedule describes itself so: a loaded server
// was seen to describe a schedule as still paused well after an accepted unpause, so the request is sent
// again every few seconds (both are idempotent), and after scheduleSettle it is an error rather than a
// silent success.
func settle(ctx context.Context, h client.ScheduleHandle, paused bool, send func() error) error {
	deadline := time.Now().Add(scheduleSettle)
	for attempt := 0; ; attempt++ {
		if attempt%10 == 0 { // at once, then every 3 s
			if err := send(); err != nil {
				return err
			}
		}
		d, err := h.Describe(ctx)
		if err != nil {
			return err
		}
		if d.Schedule.State != nil && d.Schedule.State.Paused == paused {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("schedule %s: the server still says paused=%v after %s; try again", h.GetID(), !paused, scheduleSettle)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// scheduleSettle is how long a pause or resume may take to show.
const scheduleSettle = 20 * time.Second

// TriggerSchedule runs a source's scheduled refresh now (the schedule's overlap policy applies).
func (p *Platform) TriggerSchedule(ctx context.Context, source string) error {
	return p.withSchedule(ctx, source, func(h client.ScheduleHandle) error {
		return h.Trigger(ctx, client.ScheduleTriggerOptions{})
	})
}

func (p *Platform) withSchedule(ctx context.Context, source string, f func(client.ScheduleHandle) error) error {
	src, ok := p.Config.Sources[source]
	if !ok || src.Schedule == "" {
		return fmt.Errorf("%w: source %q has no schedule in the configuration", ErrNoSchedule, source)
	}
	c, err := p.Temporal(ctx)
	if err != nil {
		return err
	}
	if err := f(c.ScheduleClient().GetHandle(ctx, ScheduleID(source))); err != nil {
		if IsNotFound(err) {
			return fmt.Errorf("%w: %s is not registered (osservatorio schedule sync)", ErrNoSchedule, ScheduleID(source))
		}
		return err
	}
	return nil
}

// ErrNoSchedule says a source has no schedule to act on.
var ErrNoSchedule = errors.New("no schedule")

package platform_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/platform"
)

// open starts a Temporal dev server and MinIO from bin/ (make tools) and opens the default configuration
// on them; no worker runs, so a started workflow stays running.
func open(t *testing.T) *platform.Platform {
	t.Helper()
	s := devstacktest.Start(t, "platform-test", true)
	cfg, err := config.Parse("default", deploy.DefaultConfig, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.Temporal.Address, cfg.Storage.Endpoint = s.Temporal, s.MinIO
	cfg.Storage.AccessKey, cfg.Storage.SecretKey = s.AccessKey, s.SecretKey
	p, err := platform.Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func TestPlatformOnRealServers(t *testing.T) {
	p := open(t)
	ctx := context.Background()
	t.Run("schedules are created, then updated, and those of removed sources deleted", func(t *testing.T) {
		istat := p.Config.Sources["istat"]
		istat.Overlap, istat.CatchupWindow = "buffer_one", config.Duration(6*time.Hour)
		p.Config.Sources["istat"] = istat
		first, err := p.RegisterSchedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(first) != len(p.Config.Sources) {
			t.Fatalf("registered %+v, want one per source (%d)", first, len(p.Config.Sources))
		}
		for _, s := range first {
			if s.Action != "created" || s.ID != platform.ScheduleID(s.Source) {
				t.Errorf("first sync: %+v", s)
			}
		}
		c, _ := p.Temporal(ctx)
		d, err := c.ScheduleClient().GetHandle(ctx, platform.ScheduleID("eurostat")).Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// "30 11,23 * * *", which the server keeps as a calendar.
		spec := d.Schedule.Spec
		if spec.TimeZoneName != platform.TimeZone || len(spec.Calendars) != 1 || len(spec.Calendars[0].Hour) != 2 ||
			spec.Calendars[0].Hour[0].Start != 11 || spec.Calendars[0].Hour[1].Start != 23 || spec.Calendars[0].Minute[0].Start != 30 {
			t.Errorf("eurostat schedule spec = %+v, want 11:30 and 23:30 in %s", spec, platform.TimeZone)
		}
		if d.Schedule.Policy.Overlap != enums.SCHEDULE_OVERLAP_POLICY_SKIP {
			t.Errorf("eurostat overlap %v, want the default skip", d.Schedule.Policy.Overlap)
		}
		is, err := c.ScheduleClient().GetHandle(ctx, platform.ScheduleID("istat")).Describe(ctx)
		if err != nil || is.Schedule.Policy.Overlap != enums.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE || is.Schedule.Policy.CatchupWindow != 6*time.Hour {
			t.Errorf("istat policies %+v %v; want buffer_one and a 6h catch-up window", is.Schedule.Policy, err)
		}
		delete(p.Config.Sources, "mur")
		// The schedule list is eventually consistent: sync until it sees mur's schedule and deletes it.
		deadline := time.Now().Add(20 * time.Second)
		for {
			again, err := p.RegisterSchedules(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if i := slices.IndexFunc(again, func(s platform.Schedule) bool { return s.Source == "mur" }); i >= 0 {
				if again[i].Action != "deleted" {
					t.Errorf("mur: %+v, want deleted", again[i])
				}
				if again[0].Action != "updated" {
					t.Errorf("second sync: %+v, want updated", again[0])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the schedule of a removed source was not deleted within 20 s")
			}
			time.Sleep(500 * time.Millisecond)
		}
		if _, err := c.ScheduleClient().GetHandle(ctx, platform.ScheduleID("mur")).Describe(ctx); !platform.IsNotFound(err) {
			t.Errorf("mur's schedule after the sync: %v, want not found", err)
		}
	})
	t.Run("schedules list their next fires in Europe/Rome, pause, resume and trigger", func(t *testing.T) {
		list, err := p.Schedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(list, func(s platform.ScheduleState) bool { return s.Source == "eurostat" })
		if i < 0 || !list[i].Registered || list[i].Paused || len(list[i].Next) != 5 {
			t.Fatalf("eurostat schedule: %+v", list)
		}
		for _, at := range list[i].Next {
			if at.Location().String() != platform.TimeZone || at.Minute() != 30 || (at.Hour() != 11 && at.Hour() != 23) {
				t.Errorf("next fire %s, want 11:30 or 23:30 in Europe/Rome", at)
			}
		}
		if err := p.PauseSchedule(ctx, "eurostat", "maintenance"); err != nil {
			t.Fatal(err)
		}
		if list, _ = p.Schedules(ctx); !list[i].Paused || list[i].Note != "maintenance" {
			t.Errorf("after pause: %+v", list[i])
		}
		if err := p.ResumeSchedule(ctx, "eurostat", "done"); err != nil {
			t.Fatal(err)
		}
		if err := p.TriggerSchedule(ctx, "eurostat"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second) // a loaded dev server applies a resume late
		for list, _ = p.Schedules(ctx); list[i].Paused || list[i].LastRun == nil; list, _ = p.Schedules(ctx) {
			if time.Now().After(deadline) {
				t.Fatalf("after resume and trigger: %+v", list[i])
			}
			time.Sleep(200 * time.Millisecond)
		}
		if lr := list[i].LastRun; lr.Workflow == "" || lr.Status != "Running" {
			t.Errorf("last run %+v, want the triggered refresh, running (no worker here)", lr)
		}
		c, _ := p.Temporal(ctx)
		c.TerminateWorkflow(ctx, list[i].LastRun.Workflow, "", "test done")
		if err := p.PauseSchedule(ctx, "nowhere", ""); !errors.Is(err, platform.ErrNoSchedule) {
			t.Errorf("pause of a source with no schedule: %v", err)
		}
	})
	t.Run("a refresh names only configured sources and datasets", func(t *testing.T) {
		if _, err := p.StartRefresh(ctx, "nowhere", platform.RefreshOptions{}); err == nil {
			t.Error("unknown source accepted")
		}
		if _, err := p.StartRefresh(ctx, "eurostat", platform.RefreshOptions{Datasets: []string{"nope"}}); err == nil {
			t.Error("unknown dataset accepted")
		}
	})
	t.Run("a plain refresh joins the running one; one with other options is told it runs", func(t *testing.T) {
		run, err := p.StartRefresh(ctx, "eurostat", platform.RefreshOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := p.Temporal(ctx)
		defer c.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test done")
		joined, err := p.StartRefresh(ctx, "eurostat", platform.RefreshOptions{})
		if err != nil || joined.GetRunID() != run.GetRunID() {
			t.Errorf("second plain refresh: run %v, %v; want the running %s", joined, err, run.GetRunID())
		}
		_, err = p.StartRefresh(ctx, "eurostat", platform.RefreshOptions{Datasets: []string{"lfst_r_lfu3rt"}})
		if !errors.Is(err, platform.ErrRefreshRunning) || !strings.Contains(err.Error(), "covering every dataset") {
			t.Errorf("refresh of one dataset while one runs: %v, want ErrRefreshRunning saying what it covers", err)
		}
	})
	t.Run("a manual refresh while the scheduled one runs joins it: the source is fetched once", func(t *testing.T) {
		if err := p.TriggerSchedule(ctx, "istat"); err != nil {
			t.Fatal(err)
		}
		c, _ := p.Temporal(ctx)
		deadline := time.Now().Add(15 * time.Second)
		for {
			run, err := p.StartRefresh(ctx, "istat", platform.RefreshOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(run.GetID(), platform.ScheduleID("istat")+"-") && run.GetID() != "refresh-istat-manual" {
				c.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test done")
				break
			}
			c.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "started before visibility showed the scheduled one")
			if time.Now().After(deadline) {
				t.Fatalf("the manual refresh never joined the scheduled one (got %s)", run.GetID())
			}
			time.Sleep(300 * time.Millisecond)
		}
	})
}

package workflows

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/health"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Release, workflow.RegisterOptions{Name: "Release"})
	env.RegisterWorkflowWithOptions(Deliver, workflow.RegisterOptions{Name: "Deliver"})
	env.RegisterWorkflowWithOptions(Notify, workflow.RegisterOptions{Name: "Notify"})
	env.RegisterActivity(&activities.Activities{})
	return env
}

func TestRefreshUnchangedSourceMakesNothing(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.SourceDatasets, mock.Anything, "eurostat").Return([]string{"d1", "d2"}, nil)
	env.OnActivity(a.Fetch, mock.Anything, mock.Anything).Return(activities.FetchResult{
		Changed: false, Reason: "change signal unchanged", Requests: 1}, nil).Times(2)
	env.OnActivity(a.Harmonize, mock.Anything, mock.Anything).Return(activities.HarmonizeResult{}, nil).Never()
	env.OnActivity(a.Accept, mock.Anything, mock.Anything).Return(nil).Never()
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{}, nil).Never()
	var recorded activities.ChecksInput
	env.OnActivity(a.RecordChecks, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ChecksInput) error {
		recorded = in
		return nil
	}).Once()

	env.ExecuteWorkflow(RefreshSource, RefreshInput{Source: "eurostat"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res RefreshResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Release != nil {
		t.Errorf("release = %+v, want none", res.Release)
	}
	if len(res.Datasets) != 2 || res.Datasets[0].Changed || res.Datasets[1].Changed {
		t.Errorf("datasets = %+v, want two unchanged", res.Datasets)
	}
	if want := []health.Check{{Dataset: "d1"}, {Dataset: "d2"}}; recorded.Source != "eurostat" || !reflect.DeepEqual(recorded.Checks, want) {
		t.Errorf("health recorded %+v, want %+v", recorded, want)
	}
	env.AssertExpectations(t)
}

func TestRefreshChangedReleasesAndOneObservatoryFails(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.SourceDatasets, mock.Anything, "eurostat").Return([]string{"d1"}, nil)
	env.OnActivity(a.Fetch, mock.Anything, mock.Anything).Return(activities.FetchResult{
		Changed: true, RawKey: "raw/eurostat/d1/abc.json", SHA256: "abc", Bytes: 10}, nil)
	env.OnActivity(a.Harmonize, mock.Anything, mock.Anything).Return(activities.HarmonizeResult{
		Table: "observations", SnapshotKey: "harmonized/x.parquet", Rows: 7}, nil)
	env.OnActivity(a.Accept, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Version: "1.0.0", Bump: "major", InputsDigest: "d"}, nil)
	env.OnActivity(a.BuildRelease, mock.Anything, mock.Anything).Return(activities.BuildResult{
		Version: "1.0.0", Resources: map[string]int64{"observations": 7}}, nil)
	env.OnActivity(a.PublishRelease, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.ListObservatories, mock.Anything).Return(activities.DeliveryTargets{Attempts: 3,
		Observatories: []activities.Observatory{{ID: "milano", Bucket: "obs-milano"}, {ID: "lodi", Bucket: "obs-lodi"}, {ID: "pavia", Bucket: "obs-pavia"}}}, nil)
	env.OnActivity(a.PrepareDelivery, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeliverInput) (activities.DeliveryPlan, error) {
		return activities.DeliveryPlan{Bundle: "releases/" + in.Version + "/", Push: true}, nil
	})
	env.OnActivity(a.PrepareDeliveries, mock.Anything, "1.0.0").Return([]activities.PreparedDelivery{
		{Observatory: "milano", DeliveryPlan: activities.DeliveryPlan{Push: true}}, {Observatory: "lodi", DeliveryPlan: activities.DeliveryPlan{Push: true}},
		{Observatory: "pavia", DeliveryPlan: activities.DeliveryPlan{Push: true}}}, nil)
	deliverCalls := map[string]int{}
	env.OnActivity(a.Deliver, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.DeliverInput) (release.Delivery, error) {
		deliverCalls[in.Observatory.ID]++
		if in.Observatory.ID == "lodi" {
			return release.Delivery{}, errors.New("bucket obs-lodi: access denied")
		}
		return release.Delivery{Release: in.Version, Observatory: in.Observatory.ID, Status: release.Delivered, Attempts: 1}, nil
	})
	var recorded []release.Delivery
	env.OnActivity(a.RecordDelivery, mock.Anything, mock.Anything).Return(func(_ context.Context, d release.Delivery) error {
		recorded = append(recorded, d)
		return nil
	})

	env.OnActivity(a.RecordChecks, mock.Anything, mock.Anything).Return(nil)
	env.ExecuteWorkflow(RefreshSource, RefreshInput{Source: "eurostat"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res RefreshResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Release == nil || res.Release.Version != "1.0.0" {
		t.Fatalf("release = %+v, want 1.0.0", res.Release)
	}
	status := map[string]string{}
	for _, d := range res.Release.Deliveries {
		status[d.Observatory] = d.Status
	}
	want := map[string]string{"milano": release.Delivered, "lodi": release.Failed, "pavia": release.Delivered}
	for k, v := range want {
		if status[k] != v {
			t.Errorf("delivery to %s = %q, want %q", k, status[k], v)
		}
	}
	if deliverCalls["lodi"] != 3 {
		t.Errorf("lodi tried %d times, want 3 (the configured attempts)", deliverCalls["lodi"])
	}
	if deliverCalls["milano"] != 1 || deliverCalls["pavia"] != 1 {
		t.Errorf("calls = %v: the healthy observatories were delivered more than once", deliverCalls)
	}
	if len(recorded) != 1 || recorded[0].Observatory != "lodi" || recorded[0].Status != release.Failed || recorded[0].Attempts != 3 {
		t.Errorf("ledger entries for failures = %+v", recorded)
	}
}

func TestRefreshBadDatasetDoesNotStopOthers(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.SourceDatasets, mock.Anything, "eurostat").Return([]string{"bad", "good"}, nil)
	env.OnActivity(a.Fetch, mock.Anything, activities.FetchInput{Source: "eurostat", Dataset: "bad"}).Return(activities.FetchResult{},
		temporal.NewNonRetryableApplicationError("BadInput eurostat/bad: an HTML page instead of data", string(fault.BadInput), nil)).Once()
	env.OnActivity(a.Fetch, mock.Anything, activities.FetchInput{Source: "eurostat", Dataset: "good"}).Return(activities.FetchResult{Changed: false}, nil).Once()

	env.OnActivity(a.RecordChecks, mock.Anything, mock.Anything).Return(nil)
	env.ExecuteWorkflow(RefreshSource, RefreshInput{Source: "eurostat"})
	err := env.GetWorkflowError()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != RefreshIncomplete {
		t.Fatalf("err = %v, want %s", err, RefreshIncomplete)
	}
	var res RefreshResult
	if err := ae.Details(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Datasets) != 2 || res.Datasets[0].ErrorKind != string(fault.BadInput) || res.Datasets[1].Error != "" {
		t.Errorf("datasets = %+v", res.Datasets)
	}
	if res.Release != nil {
		t.Errorf("release = %+v, want none: nothing changed", res.Release)
	}
}

// A source down for its first dataset after every retry is not asked again for the others: they are
// reported with it, at once.
func TestRefreshOfASourceThatIsDownStopsAfterOneRetryBudget(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.SourceDatasets, mock.Anything, "mur").Return([]string{"d1", "d2", "d3"}, nil)
	calls := 0
	env.OnActivity(a.Fetch, mock.Anything, activities.FetchInput{Source: "mur", Dataset: "d1"}).Return(func(context.Context, activities.FetchInput) (activities.FetchResult, error) {
		calls++
		return activities.FetchResult{}, temporal.NewApplicationError("SourceUnavailable mur/d1: GET http://x: connection refused", string(fault.SourceUnavailable))
	})
	env.OnActivity(a.RecordChecks, mock.Anything, mock.Anything).Return(nil)
	env.ExecuteWorkflow(RefreshSource, RefreshInput{Source: "mur"})
	var ae *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &ae) || ae.Type() != RefreshIncomplete {
		t.Fatalf("err = %v, want %s", err, RefreshIncomplete)
	}
	var res RefreshResult
	if err := ae.Details(&res); err != nil {
		t.Fatal(err)
	}
	if calls != 6 {
		t.Errorf("d1 fetched %d times, want 6 (its retry budget)", calls)
	}
	if len(res.Datasets) != 3 || !strings.HasPrefix(res.Datasets[2].Error, "not tried: mur was unavailable for d1 after every retry") ||
		res.Datasets[1].ErrorKind != string(fault.SourceUnavailable) {
		t.Errorf("datasets = %+v; want d2 and d3 reported with d1", res.Datasets)
	}
}

func TestReleaseReplansAfterLosingItsVersion(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Version: "1.1.0", InputsDigest: "a"}, nil).Once()
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Version: "1.2.0", InputsDigest: "a"}, nil).Once()
	env.OnActivity(a.BuildRelease, mock.Anything, mock.Anything).Return(activities.BuildResult{}, nil).Twice()
	env.OnActivity(a.PublishRelease, mock.Anything, mock.MatchedBy(func(in activities.PublishInput) bool { return in.Version == "1.1.0" })).
		Return(temporal.NewApplicationError("version 1.1.0 is claimed", string(fault.Conflict))).Once()
	env.OnActivity(a.PublishRelease, mock.Anything, mock.MatchedBy(func(in activities.PublishInput) bool { return in.Version == "1.2.0" })).Return(nil).Once()
	env.OnActivity(a.DiscardRelease, mock.Anything, mock.Anything).Return(nil).Once()
	env.OnActivity(a.ListObservatories, mock.Anything).Return(activities.DeliveryTargets{}, nil)

	env.ExecuteWorkflow(Release, ReleaseInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res ReleaseResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Version != "1.2.0" {
		t.Errorf("version = %q, want 1.2.0", res.Version)
	}
	env.AssertExpectations(t)
}

func TestReleaseSkipsWhenNothingChanged(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Skip: true, Version: "1.0.0"}, nil)
	env.OnActivity(a.BuildRelease, mock.Anything, mock.Anything).Return(activities.BuildResult{}, nil).Never()
	env.ExecuteWorkflow(Release, ReleaseInput{})
	var res ReleaseResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Skipped {
		t.Errorf("result = %+v, want skipped", res)
	}
}

// A concurrent refresh accepting a dataset while this release builds makes the build's plan stale
// (Conflict): the release plans again and publishes, rather than failing after its retries.
func TestReleaseReplansWhenTheInputsChangedWhileBuilding(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Version: "1.1.0", InputsDigest: "a"}, nil).Once()
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Version: "1.1.0", InputsDigest: "b"}, nil).Once()
	env.OnActivity(a.BuildRelease, mock.Anything, mock.MatchedBy(func(in activities.BuildInput) bool { return in.Plan.InputsDigest == "a" })).
		Return(activities.BuildResult{}, temporal.NewNonRetryableApplicationError("accepted snapshots changed since the plan", string(fault.Conflict), nil)).Once()
	env.OnActivity(a.BuildRelease, mock.Anything, mock.MatchedBy(func(in activities.BuildInput) bool { return in.Plan.InputsDigest == "b" })).
		Return(activities.BuildResult{Version: "1.1.0"}, nil).Once()
	env.OnActivity(a.PublishRelease, mock.Anything, mock.Anything).Return(nil).Once()
	env.OnActivity(a.ListObservatories, mock.Anything).Return(activities.DeliveryTargets{}, nil)
	env.ExecuteWorkflow(Release, ReleaseInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("the release failed: %v", err)
	}
	var res ReleaseResult
	if err := env.GetWorkflowResult(&res); err != nil || res.Version != "1.1.0" {
		t.Errorf("result = %+v, %v", res, err)
	}
	env.AssertExpectations(t)
}

// harmonizeQueues runs a one-dataset refresh whose export was fetched by worker-a, with the pinned
// harmonization failing as first, and returns the task queues of the harmonizations and the refresh error.
func harmonizeQueues(t *testing.T, first error) ([]string, error) {
	t.Helper()
	env := newEnv(t)
	env.OnActivity(a.SourceDatasets, mock.Anything, "lombardia").Return([]string{"avviamenti"}, nil)
	env.OnActivity(a.Fetch, mock.Anything, mock.Anything).Return(activities.FetchResult{
		Changed: true, RawKey: "raw/lombardia/avviamenti/abc.csv", SHA256: "abc", WorkerQueue: "worker-a"}, nil)
	var queues []string
	env.OnActivity(a.Harmonize, mock.Anything, mock.Anything).Return(func(ctx context.Context, _ activities.HarmonizeInput) (activities.HarmonizeResult, error) {
		queues = append(queues, activity.GetInfo(ctx).TaskQueue)
		if len(queues) == 1 {
			return activities.HarmonizeResult{}, first
		}
		return activities.HarmonizeResult{Table: "labour_events", SnapshotKey: "harmonized/x.parquet", Rows: 3}, nil
	})
	env.OnActivity(a.Accept, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Skip: true}, nil)
	env.OnActivity(a.RecordChecks, mock.Anything, mock.Anything).Return(nil)
	env.ExecuteWorkflow(RefreshSource, RefreshInput{Source: "lombardia"})
	return queues, env.GetWorkflowError()
}

func TestHarmonizationMovesToAnyWorkerWhenTheFetchingOneDies(t *testing.T) {
	queues, err := harmonizeQueues(t, temporal.NewHeartbeatTimeoutError())
	if err != nil {
		t.Fatal(err)
	}
	if len(queues) != 2 || queues[0] != "worker-a" || queues[1] == "worker-a" {
		t.Errorf("harmonized on %v, want worker-a once (it died: one attempt there), then the shared queue", queues)
	}
}

func TestHarmonizationOfBadInputIsNotTriedElsewhere(t *testing.T) {
	queues, err := harmonizeQueues(t, temporal.NewNonRetryableApplicationError("line 7 is not UTF-8", string(fault.BadInput), nil))
	if err == nil {
		t.Fatal("refresh succeeded; want the bad input reported")
	}
	if len(queues) != 1 {
		t.Errorf("harmonized on %v, want one attempt: bad bytes stay bad on any worker", queues)
	}
}

// notifyEnv runs Notify for milano and lodi; milano's attempts answer results in turn (nil: accepted, a
// non-nil final error: not to be tried again), lodi is accepted at once.
func notifyEnv(t *testing.T, results ...error) (*testsuite.TestWorkflowEnvironment, *int, *[]activities.Failure, *time.Duration) {
	t.Helper()
	env := newEnv(t)
	calls := 0
	var failedForGood []activities.Failure
	var disabledFor time.Duration = -1
	env.OnActivity(a.NotifyBatch, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.NotifyBatchInput) (activities.NotifyBatchResult, error) {
		var res activities.NotifyBatchResult
		for _, id := range in.Observatories {
			if id != "milano" {
				continue
			}
			calls++
			if calls <= len(results) && results[calls-1] != nil {
				var ae *temporal.ApplicationError
				if errors.As(results[calls-1], &ae) && ae.NonRetryable() {
					res.Final = append(res.Final, activities.Failure{Observatory: id, Error: ae.Message()})
				} else {
					res.Failed = append(res.Failed, activities.Failure{Observatory: id, Error: results[calls-1].Error()})
				}
			}
		}
		return res, nil
	})
	env.OnActivity(a.FailNotices, mock.Anything, "1.0.0", mock.Anything, mock.Anything).Return(func(_ context.Context, _ string, failed []activities.Failure, d time.Duration) error {
		if d > 0 {
			failedForGood, disabledFor = failed, d
		} else if failedForGood == nil {
			failedForGood = failed
		}
		return nil
	})
	return env, &calls, &failedForGood, &disabledFor
}

var svix = []time.Duration{0, 5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}

func notifyInput() NotifyInput {
	return NotifyInput{Deliveries: []release.Delivery{{Release: "1.0.0", Observatory: "lodi"}, {Release: "1.0.0", Observatory: "milano"}},
		Retry: svix, DisableFor: time.Hour}
}

func TestNotifyRetriesOnScheduleUntilAccepted(t *testing.T) {
	down := errors.New("POST http://obs/hook: connection refused")
	env, calls, failed, disabledFor := notifyEnv(t, down, down)
	start := env.Now()
	env.ExecuteWorkflow(Notify, notifyInput())
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if *calls != 3 || *failed != nil || *disabledFor != -1 {
		t.Errorf("%d attempts, failed for good %v; want 3 attempts (at once, 5 s, 5 min), none failed", *calls, *failed)
	}
	if took := env.Now().Sub(start); took < 5*time.Minute+5*time.Second || took > 6*time.Minute {
		t.Errorf("the third attempt came after %s, want 5 min 5 s", took)
	}
}

func TestNotifyDisablesAnEndpointThatFailsEveryAttempt(t *testing.T) {
	var errs []error
	for range svix {
		errs = append(errs, errors.New("POST http://obs/hook: HTTP 500"))
	}
	env, calls, failed, disabledFor := notifyEnv(t, errs...)
	env.ExecuteWorkflow(Notify, notifyInput())
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if *calls != len(svix) || len(*failed) != 1 || (*failed)[0].Observatory != "milano" || *disabledFor != time.Hour {
		t.Errorf("%d attempts, failed for good %v, disabled for %s; want %d, milano, an hour", *calls, *failed, *disabledFor, len(svix))
	}
}

func TestNotifyStopsAtADisabledEndpoint(t *testing.T) {
	env, calls, failed, disabledFor := notifyEnv(t, temporal.NewNonRetryableApplicationError("disabled until …", activities.ErrEndpointDisabled, nil))
	env.ExecuteWorkflow(Notify, notifyInput())
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if *calls != 1 || len(*failed) != 1 || *disabledFor != -1 {
		t.Errorf("%d attempts, failed %v, disabled for %s; want one attempt, recorded failed, not disabled again", *calls, *failed, *disabledFor)
	}
}

func TestReleaseWaitsForItsEmbargo(t *testing.T) {
	env := newEnv(t)
	start := env.Now()
	embargo := start.Add(3 * time.Hour)
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Version: "1.1.0", Bump: "minor", InputsDigest: "d"}, nil)
	env.OnActivity(a.BuildRelease, mock.Anything, mock.Anything).Return(activities.BuildResult{Version: "1.1.0", PublishAt: start.Add(time.Hour)}, nil)
	var publishedAt time.Time
	env.OnActivity(a.PublishRelease, mock.Anything, mock.Anything).Return(func(context.Context, activities.PublishInput) error {
		publishedAt = env.Now()
		return nil
	})
	env.OnActivity(a.ListObservatories, mock.Anything).Return(activities.DeliveryTargets{}, nil)
	env.ExecuteWorkflow(Release, ReleaseInput{PublishAt: embargo})
	var res ReleaseResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if publishedAt.Before(embargo) || !res.Embargoed.Equal(embargo) {
		t.Errorf("published at %s (embargo %s), result %+v; want the later of the release's and the source's embargo", publishedAt, embargo, res)
	}
}

package workflows

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// Each range runs as its own child; a failing one is reported with the others done and accepted, and the
// history they added is released once.
func TestBackfillRunsEachRangeAndReportsTheFailedOne(t *testing.T) {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(BackfillChunk, workflow.RegisterOptions{Name: "BackfillChunk"})
	in := activities.BackfillInput{Source: "istat", From: "2017", To: "2019"}
	env.OnActivity(a.PlanBackfill, mock.Anything, in).Return(activities.BackfillPlan{Datasets: []activities.DatasetPlan{{
		Dataset: "d1", Held: []activities.Period{{From: "2017", To: "2017"}},
		Chunks: []activities.Period{{From: "2018", To: "2018"}, {From: "2019", To: "2019"}}}}}, nil)
	env.OnActivity(a.FetchChunk, mock.Anything, activities.ChunkInput{Source: "istat", Dataset: "d1", Period: activities.Period{From: "2018", To: "2018"}}).
		Return(activities.FetchResult{RawKey: "raw/istat/d1/a.xml", SHA256: "a", Bytes: 100, Requests: 1}, nil)
	env.OnActivity(a.FetchChunk, mock.Anything, activities.ChunkInput{Source: "istat", Dataset: "d1", Period: activities.Period{From: "2019", To: "2019"}}).
		Return(activities.FetchResult{}, temporal.NewNonRetryableApplicationError("istat/d1: an HTML page, kept as raw/istat/d1/b.xml", string(fault.BadInput), nil))
	env.OnActivity(a.Harmonize, mock.Anything, mock.Anything).Return(activities.HarmonizeResult{SnapshotKey: "harmonized/a.parquet", Rows: 36}, nil).Once()
	env.OnActivity(a.AcceptChunk, mock.Anything, mock.Anything).Return(true, nil).Once()
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{Skip: true}, nil).Once()

	env.ExecuteWorkflow(Backfill, in)
	err := env.GetWorkflowError()
	if err == nil {
		t.Fatal("backfill with a failed range succeeded")
	}
	env.AssertExpectations(t)
	for _, want := range []string{BackfillIncomplete, "1 range(s) failed", "d1 2019", "HTML page"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v, want %q in it", err, want)
		}
	}
	var ae *temporal.ApplicationError
	var res BackfillResult
	if !errors.As(err, &ae) || ae.Details(&res) != nil {
		t.Fatalf("no result with the error: %v", err)
	}
	c := res.Datasets[0].Chunks
	if len(c) != 2 || c[0].State != "done" || !c[0].Added || c[0].Rows != 36 || c[1].State != "failed" || c[1].ErrorKind != string(fault.BadInput) {
		t.Errorf("chunks = %+v", c)
	}
}

// A backfill whose ranges are all in the history already fetches nothing and releases nothing.
func TestBackfillOfHeldRangesDoesNothing(t *testing.T) {
	env := newEnv(t)
	in := activities.BackfillInput{Source: "istat", From: "2017", To: "2017"}
	env.OnActivity(a.PlanBackfill, mock.Anything, in).Return(activities.BackfillPlan{Datasets: []activities.DatasetPlan{{
		Dataset: "d1", Held: []activities.Period{{From: "2017", To: "2017"}}}}}, nil)
	env.OnActivity(a.FetchChunk, mock.Anything, mock.Anything).Return(activities.FetchResult{}, nil).Never()
	env.OnActivity(a.PlanRelease, mock.Anything).Return(release.Plan{}, nil).Never()
	env.ExecuteWorkflow(Backfill, in)
	var res BackfillResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Release != nil || len(res.Datasets) != 1 || len(res.Datasets[0].Held) != 1 || len(res.Datasets[0].Chunks) != 0 {
		t.Errorf("result = %+v", res)
	}
	env.AssertExpectations(t)
}

package workflows

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/activities"
)

// BackfillResult is what a backfill did, per dataset and range; the workflow's "progress" query returns it
// while it runs.
type BackfillResult struct {
	Source   string
	Datasets []BackfillReport
	Release  *ReleaseResult `json:",omitempty"`
}

// BackfillReport is one dataset's share of a backfill.
type BackfillReport struct {
	Dataset string
	// Held are the ranges its history held already (not fetched again); Chunks those fetched or to fetch.
	Held   []activities.Period `json:",omitempty"`
	Chunks []ChunkReport
}

// ChunkReport is one range of a dataset's history.
type ChunkReport struct {
	Period activities.Period
	// State is pending, running, done or failed.
	State string
	// Added says the range changed the dataset's history (false: the same bytes were there already).
	Added     bool
	Rows      int64
	Bytes     int64
	Requests  int
	URL       string `json:",omitempty"`
	RawKey    string `json:",omitempty"`
	Detail    string `json:",omitempty"` // what the download did (a CO range: the rows taken again)
	Error     string `json:",omitempty"`
	ErrorKind string `json:",omitempty"`
}

// BackfillIncomplete is the error type of a backfill in which some ranges failed; its details hold the
// BackfillResult.
const BackfillIncomplete = "BackfillIncomplete"

// ProgressQuery is the query that returns a running backfill's BackfillResult.
const ProgressQuery = "progress"

// Backfill fetches a source's history by period range: each range of each dataset is a child workflow
// (BackfillChunk: fetch, harmonize), accepted into the dataset's history as it completes, so a backfill
// started again fetches only the ranges still missing. A release follows when the history changed. A
// failed range does not stop the others; the backfill then fails listing them.
func Backfill(ctx workflow.Context, in activities.BackfillInput) (BackfillResult, error) {
	res := BackfillResult{Source: in.Source}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (BackfillResult, error) { return res, nil }); err != nil {
		return res, err
	}
	var plan activities.BackfillPlan
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, quickOptions), a.PlanBackfill, in).Get(ctx, &plan); err != nil {
		return res, err
	}
	for _, dp := range plan.Datasets {
		rep := BackfillReport{Dataset: dp.Dataset, Held: dp.Held}
		for _, p := range dp.Chunks {
			rep.Chunks = append(rep.Chunks, ChunkReport{Period: p, State: "pending"})
		}
		res.Datasets = append(res.Datasets, rep)
	}
	added, failed := 0, []string{}
	for i := range res.Datasets {
		rep := &res.Datasets[i]
		for j := range rep.Chunks {
			c := &rep.Chunks[j]
			c.State = "running"
			*c = backfillChunk(ctx, activities.ChunkInput{Source: in.Source, Dataset: rep.Dataset, Period: c.Period, Events: plan.Datasets[i].Events})
			if c.Added {
				added++
			}
			if c.Error != "" {
				failed = append(failed, fmt.Sprintf("%s %s: %s", rep.Dataset, c.Period, c.Error))
			}
		}
	}
	if added > 0 {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID + "-release"})
		var rel ReleaseResult
		reason := fmt.Sprintf("%s: history backfilled, %d range(s) of %s–%s", in.Source, added, in.From, in.To)
		if err := workflow.ExecuteChildWorkflow(cctx, Release, ReleaseInput{Reason: reason}).Get(ctx, &rel); err != nil {
			return res, fmt.Errorf("release after backfill of %s: %w", in.Source, err)
		}
		res.Release = &rel
	}
	if len(failed) > 0 {
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("backfill %s: %d range(s) failed; the others are in the history, and a new backfill fetches only what is missing: %s",
				in.Source, len(failed), strings.Join(failed, "; ")), BackfillIncomplete, nil, res)
	}
	return res, nil
}

// backfillChunk runs one range as a child workflow and reports it; a failure is reported, not returned.
func backfillChunk(ctx workflow.Context, in activities.ChunkInput) ChunkReport {
	id := fmt.Sprintf("%s-%s-%s-%s", workflow.GetInfo(ctx).WorkflowExecution.ID, in.Dataset, in.Period.From, in.Period.To)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: id})
	var c ChunkReport
	err := workflow.ExecuteChildWorkflow(cctx, BackfillChunk, in).Get(ctx, &c)
	if err != nil {
		c = ChunkReport{Period: in.Period, State: "failed", Error: errorMessage(err), ErrorKind: errorKind(err)}
	}
	return c
}

// BackfillChunk fetches one range of a dataset's history, harmonizes it and adds it to the dataset's
// history.
func BackfillChunk(ctx workflow.Context, in activities.ChunkInput) (ChunkReport, error) {
	rep := ChunkReport{Period: in.Period, State: "running"}
	var f activities.FetchResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, fetchOptions), a.FetchChunk, in).Get(ctx, &f); err != nil {
		return rep, err
	}
	rep.Bytes, rep.Requests, rep.URL, rep.RawKey = f.Bytes, f.Requests, f.URL, f.RawKey
	if in.Events {
		return eventsChunk(ctx, in, f, rep)
	}
	hin := activities.HarmonizeInput{Source: in.Source, Dataset: in.Dataset, RawKey: f.RawKey, SHA256: f.SHA256, FetchedAt: f.FetchedAt,
		Structure: f.Structure, Period: &in.Period}
	var h activities.HarmonizeResult
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, harmonizeOptions), a.Harmonize, hin).Get(ctx, &h); err != nil {
		return rep, err
	}
	rep.Rows = h.Rows
	acc := activities.AcceptChunkInput{Source: in.Source, Dataset: in.Dataset, Period: in.Period, Fetch: f, Harmonize: h}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, quickOptions), a.AcceptChunk, acc).Get(ctx, &rep.Added); err != nil {
		return rep, err
	}
	rep.State = "done"
	return rep, nil
}

// eventsChunk ends a CO dataset's range: its new base is harmonized (on the worker that downloaded it
// when it can) and accepted as the dataset, as a refresh would.
func eventsChunk(ctx workflow.Context, in activities.ChunkInput, f activities.FetchResult, rep ChunkReport) (ChunkReport, error) {
	rep.State, rep.Detail = "done", f.Reason
	if !f.Changed { // the range held the same rows: the same bytes as accepted
		return rep, nil
	}
	hin := activities.HarmonizeInput{Source: in.Source, Dataset: in.Dataset, RawKey: f.RawKey, SHA256: f.SHA256, FetchedAt: f.FetchedAt,
		Structure: f.Structure, Earlier: f.Earlier}
	h, err := harmonize(ctx, f.WorkerQueue, hin)
	if err != nil {
		return rep, err
	}
	rep.Rows = h.Rows
	acc := activities.AcceptInput{Source: in.Source, Dataset: in.Dataset, Fetch: f, Harmonize: h}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, quickOptions), a.Accept, acc).Get(ctx, nil); err != nil {
		return rep, err
	}
	rep.Added = true
	return rep, nil
}

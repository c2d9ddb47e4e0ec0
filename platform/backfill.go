package platform

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

// ErrBadBackfill says a backfill asked for something the configuration or the calendar refuses.
var ErrBadBackfill = errors.New("backfill refused")

// StartBackfill starts a Backfill workflow. Its id names the source, the range and the datasets: the same
// backfill started again while it runs is followed rather than doubled; once it ended, it runs again and
// fetches only the ranges the datasets' history still lacks (all of them with Force).
func (p *Platform) StartBackfill(ctx context.Context, in activities.BackfillInput) (client.WorkflowRun, error) {
	src, ok := p.Config.Sources[in.Source]
	if !ok {
		return nil, fmt.Errorf("%w: source %q is not configured (configured: %v)", ErrBadBackfill, in.Source, p.Config.SourceNames())
	}
	for _, d := range in.Datasets {
		if !slices.ContainsFunc(src.Datasets, func(x config.Dataset) bool { return x.ID == d }) {
			return nil, fmt.Errorf("%w: source %s has no dataset %q", ErrBadBackfill, in.Source, d)
		}
	}
	if _, err := activities.SplitPeriods(in.From, in.To, in.Chunk); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBackfill, err)
	}
	c, err := p.Temporal(ctx)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("backfill-%s-%s-%s", in.Source, in.From, in.To)
	if in.Chunk != "" && in.Chunk != "year" {
		id += "-by-" + in.Chunk
	}
	if len(in.Datasets) > 0 {
		id += "-" + strings.Join(in.Datasets, "+")
	}
	return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                p.Config.Temporal.TaskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}, "Backfill", in)
}

// WaitBackfill waits for a backfill and returns its result, also when some ranges failed.
func WaitBackfill(ctx context.Context, run client.WorkflowRun) (workflows.BackfillResult, error) {
	var res workflows.BackfillResult
	err := run.Get(ctx, &res)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.Type() == workflows.BackfillIncomplete {
		_ = ae.Details(&res)
	}
	return res, err
}

// BackfillProgress asks a running backfill where it stands.
func (p *Platform) BackfillProgress(ctx context.Context, id, runID string) (workflows.BackfillResult, error) {
	var res workflows.BackfillResult
	c, err := p.Temporal(ctx)
	if err != nil {
		return res, err
	}
	v, err := c.QueryWorkflow(ctx, id, runID, workflows.ProgressQuery)
	if err != nil {
		return res, err
	}
	return res, v.Get(&res)
}

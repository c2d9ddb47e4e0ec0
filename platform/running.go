package platform

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

// RunningRefresh is a refresh of a source that is running.
type RunningRefresh struct {
	ID, RunID string
	Started   time.Time
	Input     workflows.RefreshInput
}

func (r *RunningRefresh) covers() string {
	what := "every dataset"
	if len(r.Input.Datasets) > 0 {
		what = "datasets " + strings.Join(r.Input.Datasets, ", ")
	}
	if r.Input.Force {
		what += ", forced"
	}
	return what
}

// runningRefresh finds a running refresh of source: the manual one (by its id, at once) or a scheduled
// one (refresh-<source>-<time>, through the visibility store, which lags its start by a moment).
func (p *Platform) runningRefresh(ctx context.Context, c client.Client, source, manualID string) (*RunningRefresh, error) {
	if d, err := c.DescribeWorkflow(ctx, manualID, ""); err == nil &&
		d.RawResponse.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		info := d.RawResponse.GetWorkflowExecutionInfo()
		return p.describeRunning(ctx, c, manualID, info.GetExecution().GetRunId(), info.GetStartTime().AsTime())
	} else if err != nil && !IsNotFound(err) {
		return nil, err
	}
	resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: p.Config.Temporal.Namespace,
		Query: "WorkflowType = 'RefreshSource' AND ExecutionStatus = 'Running'"})
	if err != nil {
		return nil, fmt.Errorf("list the running refreshes: %w", err)
	}
	for _, e := range resp.GetExecutions() {
		if id := e.GetExecution().GetWorkflowId(); strings.HasPrefix(id, ScheduleID(source)+"-") {
			return p.describeRunning(ctx, c, id, e.GetExecution().GetRunId(), e.GetStartTime().AsTime())
		}
	}
	return nil, nil
}

// describeRunning reads what a running refresh was asked, from its first event.
func (p *Platform) describeRunning(ctx context.Context, c client.Client, id, runID string, started time.Time) (*RunningRefresh, error) {
	r := &RunningRefresh{ID: id, RunID: runID, Started: started}
	it := c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	if it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			return nil, err
		}
		_ = dc.FromPayloads(ev.GetWorkflowExecutionStartedEventAttributes().GetInput(), &r.Input)
	}
	return r, nil
}

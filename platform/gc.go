package platform

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/osservatorio-lombardia/osservatorio/gc"
)

// OldestRunning returns the start of the oldest workflow running in the namespace (zero when none): what
// it wrote since may not be referenced yet, so gc keeps it.
func (p *Platform) OldestRunning(ctx context.Context) (time.Time, error) {
	c, err := p.Temporal(ctx)
	if err != nil {
		return time.Time{}, err
	}
	var oldest time.Time
	var token []byte
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: p.Config.Temporal.Namespace, Query: "ExecutionStatus = 'Running'", NextPageToken: token})
		if err != nil {
			return time.Time{}, fmt.Errorf("list the running workflows: %w", err)
		}
		for _, e := range resp.Executions {
			if t := e.GetStartTime().AsTime(); oldest.IsZero() || t.Before(oldest) {
				oldest = t
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return oldest, nil
		}
	}
}

// CollectGarbage runs gc on the platform's bucket, keeping what any running workflow wrote.
func (p *Platform) CollectGarbage(ctx context.Context, o gc.Options) (*gc.Report, error) {
	oldest, err := p.OldestRunning(ctx)
	if err != nil {
		return nil, err
	}
	o.OldestRunning = oldest
	return gc.Run(ctx, p.Bucket, o)
}

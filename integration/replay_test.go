package integration

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

// recordedRuns are the workflows of this run whose histories are replayed, and kept for the next
// version's replay test (workflows/testdata) with OSSERVATORIO_RECORD_HISTORIES=DIR.
var recordedRuns = map[string]string{
	"refresh-eurostat-v2.json":  "refresh-eurostat-manual",
	"refresh-lombardia-v2.json": "refresh-lombardia-manual",
}

// backfillRuns are the backfill step's workflows, recorded and replayed the same way: the parent, and the
// child of one range.
var backfillRuns = map[string]string{
	"backfill-istat.json":       "backfill-istat-2018-2020-disoccupazione_province",
	"backfill-istat-chunk.json": "backfill-istat-2018-2020-disoccupazione_province-disoccupazione_province-2019-2019",
}

// historiesReplay exports the histories of this run's refreshes and replays them on this code: what
// workflows/replay_test.go does for the histories a previous version recorded.
func historiesReplay(t *testing.T, ctx context.Context) { replayRuns(t, ctx, recordedRuns) }

// replayRuns exports the histories of runs (file → workflow id), into OSSERVATORIO_RECORD_HISTORIES when
// set, and replays them on this code.
func replayRuns(t *testing.T, ctx context.Context, runs map[string]string) {
	c, err := shared.p.Temporal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.RefreshSource, workflow.RegisterOptions{Name: "RefreshSource"})
	r.RegisterWorkflowWithOptions(workflows.Release, workflow.RegisterOptions{Name: "Release"})
	r.RegisterWorkflowWithOptions(workflows.Deliver, workflow.RegisterOptions{Name: "Deliver"})
	r.RegisterWorkflowWithOptions(workflows.Backfill, workflow.RegisterOptions{Name: "Backfill"})
	r.RegisterWorkflowWithOptions(workflows.BackfillChunk, workflow.RegisterOptions{Name: "BackfillChunk"})
	for file, id := range runs {
		h := &historypb.History{}
		it := c.GetWorkflowHistory(ctx, id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			h.Events = append(h.Events, ev)
		}
		data, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), file)
		if dir := os.Getenv("OSSERVATORIO_RECORD_HISTORIES"); dir != "" {
			path = filepath.Join(dir, file)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		opts := worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id, RunID: "replay"}}
		if err := r.ReplayWorkflowHistoryWithOptions(nil, hist, opts); err != nil {
			t.Errorf("%s (%d events) does not replay on this code: %v", file, len(h.Events), err)
		}
	}
}

package workflows

import (
	"os"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays histories recorded from real runs (osservatorio dev --demo, then
// `temporal workflow show -w ID --output json`, or the integration run with
// OSSERVATORIO_RECORD_HISTORIES=workflows/testdata). A change to a workflow's command sequence that is not
// behind workflow.GetVersion fails here.
func TestReplayRecordedHistories(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(RefreshSource, workflow.RegisterOptions{Name: "RefreshSource"})
	r.RegisterWorkflowWithOptions(Release, workflow.RegisterOptions{Name: "Release"})
	r.RegisterWorkflowWithOptions(Deliver, workflow.RegisterOptions{Name: "Deliver"})
	r.RegisterWorkflowWithOptions(Backfill, workflow.RegisterOptions{Name: "Backfill"})
	r.RegisterWorkflowWithOptions(BackfillChunk, workflow.RegisterOptions{Name: "BackfillChunk"})
	for file, id := range map[string]string{
		"refresh-eurostat.json": "refresh-eurostat-manual",
		// CO exports harmonized on the worker that fetched them (its own task queue, behind a GetVersion).
		"refresh-lombardia.json": "refresh-lombardia-manual",
		"release.json":           "refresh-lombardia-manual-release",
		"deliver.json":           "deliver-1.1.0-milano",
		// Recorded by the integration run (OSSERVATORIO_RECORD_HISTORIES=workflows/testdata) with record-checks
		// and skip-datasets-when-source-down: what the next version must still replay.
		"refresh-eurostat-v2.json":  "refresh-eurostat-manual",
		"refresh-lombardia-v2.json": "refresh-lombardia-manual",
		// The integration run's backfill of Istat 2018–2020, and its 2019 range's child.
		"backfill-istat.json":       "backfill-istat-2018-2020-disoccupazione_province",
		"backfill-istat-chunk.json": "backfill-istat-2018-2020-disoccupazione_province-disoccupazione_province-2019-2019",
	} {
		t.Run(file, func(t *testing.T) {
			f, err := os.Open("testdata/" + file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// The workflow id matters: child workflow ids derive from it.
			opts := worker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id, RunID: "replay"}}
			if err := r.ReplayWorkflowHistoryWithOptions(nil, h, opts); err != nil {
				t.Fatal(err)
			}
		})
	}
}

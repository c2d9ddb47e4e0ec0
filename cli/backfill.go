package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

func (a *app) backfillCmd() *cobra.Command {
	var in activities.BackfillInput
	var wait bool
	c := &cobra.Command{
		Use:   "backfill SOURCE --from PERIOD --to PERIOD",
		Short: "Fetch a source's history by period range, each range on its own, into the datasets' history",
		Long: `Starts the Backfill workflow for SOURCE: the range --from–--to (2017, 2017-Q2 or 2017-01) is split into
chunks (--chunk year, quarter or month; a year by default), and each chunk of each dataset (all of the
source's, or those named by --dataset) is its own child workflow: the source is asked for those periods only
(SDMX startPeriod/endPeriod), the answer lands as a raw object with its sidecar, is harmonized and added to
the dataset's history. A release follows when the history changed. The release publishes the observations
of the history that the dataset's latest fetch does not hold: no observation twice, the latest fetch winning.
A backfill started again fetches only the chunks the history lacks (--force: all); the same backfill
started while it runs is followed. With --wait, reports each chunk on stderr as it ends and prints per
chunk: rows, bytes, raw object.
A CO dataset of the region (lombardia, SODA format) takes each range again through Socrata's window on
its date field: the rows of those dates replace the accepted ones (a new base of the dataset); it refuses
while rows updated at the source since the last refresh wait for one.
Sources that publish their history as one file (INPS, INAIL, MIM, MUR, the labour ministry, CO exports)
are refused: their refresh fetches all of it.
Exits 2 when the range or the datasets are refused, or when a chunk failed (the others stay in the history).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Source = args[0]
			if in.From == "" || in.To == "" {
				return &ExitError{Code: 2, Err: errors.New("backfill needs --from and --to (2017, 2017-Q2 or 2017-01)")}
			}
			if _, err := activities.SplitPeriods(in.From, in.To, in.Chunk); err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			run, err := p.StartBackfill(cmd.Context(), in)
			if errors.Is(err, platform.ErrBadBackfill) {
				return &ExitError{Code: 2, Err: err}
			} else if err != nil {
				return err
			}
			a.record(cmd.Context(), p, "backfill.start", in.Source, map[string]string{"workflow": run.GetID(), "run": run.GetRunID(),
				"datasets": strings.Join(in.Datasets, ","), "from": in.From, "to": in.To, "chunk": in.Chunk, "force": fmt.Sprint(in.Force)})
			if !wait {
				if a.asJSON {
					return a.printJSON(map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID()})
				}
				fmt.Fprintf(a.stdout, "started backfill of %s %s–%s: workflow %s (run %s)\n", in.Source, in.From, in.To, run.GetID(), run.GetRunID())
				return nil
			}
			return awaitRun(cmd.Context(), a, func(ctx context.Context) { a.watchBackfill(ctx, p, run.GetID(), run.GetRunID()) },
				func() (workflows.BackfillResult, error) { return platform.WaitBackfill(cmd.Context(), run) }, a.printBackfill)
		},
	}
	c.Flags().StringVar(&in.From, "from", "", "first period: 2017, 2017-Q2 or 2017-01")
	c.Flags().StringVar(&in.To, "to", "", "last period: 2019, 2019-Q4 or 2019-12")
	c.Flags().StringVar(&in.Chunk, "chunk", "year", "size of each range fetched: year, quarter or month")
	c.Flags().StringSliceVar(&in.Datasets, "dataset", nil, "backfill only these datasets (repeatable)")
	c.Flags().BoolVar(&in.Force, "force", false, "fetch again the ranges the history holds already")
	c.Flags().BoolVar(&wait, "wait", false, "wait for the backfill, reporting each range as it ends")
	return c
}

// watchBackfill reports on stderr each range of a running backfill as it ends, until ctx ends.
func (a *app) watchBackfill(ctx context.Context, p *platform.Platform, id, runID string) {
	said := map[string]bool{}
	for {
		if res, err := p.BackfillProgress(ctx, id, runID); err == nil {
			for _, d := range res.Datasets {
				for _, c := range d.Chunks {
					key := d.Dataset + " " + c.Period.String()
					if said[key] || (c.State != "done" && c.State != "failed") {
						continue
					}
					said[key] = true
					fmt.Fprintf(a.stderr, "%s %s %s\n", time.Now().Format("15:04:05"), key, chunkDetail(c))
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func chunkDetail(c workflows.ChunkReport) string {
	switch {
	case c.State == "failed":
		return "FAILED: " + c.Error
	case c.Added:
		return fmt.Sprintf("%d rows, %s, added to the history", c.Rows, humanBytes(c.Bytes))
	}
	return fmt.Sprintf("%d rows, %s, as in the history already", c.Rows, humanBytes(c.Bytes))
}

func (a *app) printBackfill(res workflows.BackfillResult) {
	tw := a.table()
	fmt.Fprintln(tw, "DATASET\tPERIOD\tSTATUS\tROWS\tBYTES\tRAW OBJECT\tDETAIL")
	for _, d := range res.Datasets {
		for _, p := range d.Held {
			fmt.Fprintf(tw, "%s\t%s\theld\t-\t-\t-\tin the history already (--force fetches it again)\n", d.Dataset, p)
		}
		for _, c := range d.Chunks {
			status, detail := c.State, ""
			switch {
			case c.State == "failed":
				status, detail = "FAILED", c.Error
			case c.Added:
				status, detail = "added", c.Detail
			case c.State == "done":
				status, detail = "unchanged", "same bytes as in the history"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", d.Dataset, c.Period, status, c.Rows, humanBytes(c.Bytes), c.RawKey, detail)
		}
	}
	tw.Flush()
	a.printRelease(res.Release, "no release: the history did not change")
}

package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/gc"
)

func (a *app) gcCmd() *cobra.Command {
	var o gc.Options
	c := &cobra.Command{
		Use:   "gc [--dry-run] [--grace 24h] [--keep-raw 720h]",
		Short: "Remove what no published release, slice, dataset state or running workflow needs (--dry-run lists it)",
		Long: `gc scans blobs/, harmonized/, raw/, staging/, work/, codelists/ and hashes/ of the platform's bucket and
removes the objects nothing references: release files no published release or slice names, snapshots and
raw objects no dataset state and no release's recorded inputs name, staged builds and download work files
left behind, code lists no release recorded. Published releases and everything they reference are never
removed, nor manifests, states, identities, keys, ledgers, audit and lineage logs (never scanned).
An unreferenced object goes only when older than --grace and than the oldest running workflow (asked of
Temporal); an unreferenced raw object (a rejected download, kept for inspection) only after --keep-raw.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Grace <= 0 || o.KeepRaw <= 0 {
				return &ExitError{Code: 2, Err: fmt.Errorf("--grace and --keep-raw must be positive durations")}
			}
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			rep, err := p.CollectGarbage(cmd.Context(), o)
			if err != nil {
				return err
			}
			if !o.DryRun {
				a.record(cmd.Context(), p, "gc.run", p.Bucket.Name(), map[string]string{
					"removed": fmt.Sprint(len(rep.Removed)), "removed_bytes": fmt.Sprint(rep.RemovedBytes)})
			}
			if a.asJSON {
				return a.printJSON(rep)
			}
			verb := "removed"
			if o.DryRun {
				verb = "would remove"
			}
			tw := a.table()
			fmt.Fprintln(tw, "KEY\tBYTES\tMODIFIED\tWHY")
			for _, obj := range rep.Removed {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", obj.Key, obj.Bytes, obj.Modified.Format(time.RFC3339), obj.Why)
			}
			tw.Flush()
			fmt.Fprintf(a.stdout, "%s %d objects (%s); kept %d referenced (%s) and %d unreferenced but young (%s)\n",
				verb, len(rep.Removed), humanBytes(rep.RemovedBytes), rep.Referenced, humanBytes(rep.ReferencedB),
				rep.KeptYoung, humanBytes(rep.KeptYoungB))
			return nil
		},
	}
	c.Flags().BoolVar(&o.DryRun, "dry-run", false, "list what would be removed, remove nothing")
	c.Flags().DurationVar(&o.Grace, "grace", 24*time.Hour, "keep unreferenced objects younger than this")
	c.Flags().DurationVar(&o.KeepRaw, "keep-raw", 30*24*time.Hour, "keep unreferenced raw objects (rejected downloads) younger than this")
	return c
}

package cli

import (
	"fmt"
	"os"

	"github.com/Masterminds/semver/v3"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/report"
	"github.com/osservatorio-lombardia/osservatorio/worker"
)

func (a *app) releaseInputsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "inputs VERSION",
		Short: "What fed a release: every snapshot, raw object and the refresh that made it; code lists, SQL, checks and code by sha256",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.openRelease(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			in, err := p.Releases.Inputs(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(in)
			}
			b := in.Build
			fmt.Fprintf(a.stdout, "release %s built by %s %s (revision %s, %s%s), Go %s, DuckDB %s, harmonizer %d\n\n", in.Version, b.Module,
				b.Version, orDash(b.Revision), orDash(b.Time), map[bool]string{true: ", modified", false: ""}[b.Modified], b.Go, b.DuckDB, in.HarmonizerVersion)
			tw := a.table()
			fmt.Fprintln(tw, "DATASET\tRAW OBJECT\tFETCHED\tSNAPSHOT\tROWS\tREFRESH RUN")
			for _, s := range in.States {
				fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%d\t%s\n", s.Source, s.Dataset, s.RawKey, s.FetchedAt.Format("2006-01-02T15:04:05Z"), s.SnapshotKey, s.Rows, orDash(s.Run))
			}
			tw.Flush()
			fmt.Fprintln(a.stdout)
			tw = a.table()
			fmt.Fprintln(tw, "FILE\tSHA256")
			for _, f := range sortedKeysOf(in.SQL) {
				fmt.Fprintf(tw, "%s\t%s\n", f, in.SQL[f])
			}
			for _, f := range sortedKeysOf(in.CodeLists) {
				fmt.Fprintf(tw, "codelist/%s\t%s\n", f, in.CodeLists[f])
			}
			fmt.Fprintf(tw, "quality/checks.yaml\t%s\n", in.QualityChecks)
			return tw.Flush()
		},
	}
}

func (a *app) releaseDiffCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "diff A B",
		Short: "What differs between two releases: inputs (snapshots, code lists, SQL, code) and outputs (files, rows)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, v := range args { // both, before asking the store anything
				if _, err := semver.StrictNewVersion(v); err != nil {
					return &ExitError{Code: 2, Err: fmt.Errorf("%q is not a release version (like 1.4.0)", v)}
				}
			}
			p, err := a.openRelease(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ma, _ := p.Releases.Get(cmd.Context(), args[0])
			mb, err := a.manifest(cmd.Context(), p, args[1])
			if err != nil {
				return err
			}
			ia, errA := p.Releases.Inputs(cmd.Context(), args[0])
			ib, errB := p.Releases.Inputs(cmd.Context(), args[1])
			type output struct {
				Table   string `json:"table"`
				A       string `json:"a"`
				B       string `json:"b"`
				RowsA   int64  `json:"rowsA"`
				RowsB   int64  `json:"rowsB"`
				Changed bool   `json:"changed"`
			}
			var outs []output
			seen := map[string]bool{}
			for _, r := range ma.Resources {
				o := output{Table: r.Name, A: resourceHash(r), RowsA: r.Rows}
				if rb, ok := mb.Resource(r.Name); ok {
					o.B, o.RowsB = resourceHash(rb), rb.Rows
				}
				o.Changed = o.A != o.B
				seen[r.Name] = true
				outs = append(outs, o)
			}
			for _, r := range mb.Resources {
				if !seen[r.Name] {
					outs = append(outs, output{Table: r.Name, B: resourceHash(r), RowsB: r.Rows, Changed: true})
				}
			}
			var inputs *release.InputsDiff
			if errA == nil && errB == nil {
				d := release.DiffInputs(ia, ib)
				inputs = &d
			}
			if a.asJSON {
				return a.printJSON(map[string]any{"a": args[0], "b": args[1], "inputs": inputs, "outputs": outs})
			}
			if inputs == nil {
				fmt.Fprintf(a.stdout, "inputs: not recorded for both releases (made before releases recorded them)\n")
			} else {
				fmt.Fprintf(a.stdout, "inputs: datasets %v; code lists %v; SQL %v; quality checks changed %v; another binary %v\n",
					inputs.Datasets, inputs.CodeLists, inputs.SQL, inputs.Checks, inputs.Build)
			}
			tw := a.table()
			fmt.Fprintln(tw, "TABLE\tROWS A\tROWS B\tFILES")
			for _, o := range outs {
				state := "same bytes"
				if o.Changed {
					state = "changed"
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", o.Table, o.RowsA, o.RowsB, state)
			}
			return tw.Flush()
		},
	}
}

// resourceHash is a resource's hash, or for a multi-file one the hashes of its parts.
func resourceHash(r release.Resource) string {
	if len(r.Parts) == 0 {
		return r.Hash
	}
	h := ""
	for _, p := range r.Parts {
		h += p.Hash
	}
	return h
}

func (a *app) releaseRebuildCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rebuild VERSION",
		Short: "Rebuild a release from its recorded inputs and compare every file's sha256; exit 0 only when all are identical",
		Long: `rebuild builds a published release again from what it recorded in inputs.json (the snapshots as they were
accepted then, not today's), in a scratch staging prefix removed afterwards, and prints identical or
different per file. Where code lists, SQL or the code changed since, it says so and compares the rows of
the differing tables instead (same rows in other bytes, or how many differ). Exit 5 when anything differs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, db, done, err := a.openReleaseDB(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer done()
			rep, err := p.Releases.Rebuild(cmd.Context(), args[0], release.BuildOptions{WorkDir: os.TempDir(), DB: db, Credits: worker.Credits(p.Config), Reports: report.Bundle})
			if err != nil {
				return err
			}
			a.record(cmd.Context(), p, "release.rebuild", args[0], map[string]string{"identical": fmt.Sprint(rep.Identical)})
			if a.asJSON {
				if err := a.printJSON(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "code lists: %s\n", rep.CodeLists)
				for _, w := range rep.Why {
					fmt.Fprintf(a.stdout, "note: %s\n", w)
				}
				tw := a.table()
				fmt.Fprintln(tw, "FILE\tRESULT\tPUBLISHED\tREBUILT")
				for _, f := range rep.Files {
					res := "identical"
					if !f.Identical {
						res = "DIFFERENT " + f.Content
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Path, res, f.Published, f.Rebuilt)
				}
				tw.Flush()
			}
			if !rep.Identical {
				return &ExitError{Code: 5, Err: fmt.Errorf("release %s rebuilt from its inputs differs", args[0])}
			}
			if !a.asJSON {
				fmt.Fprintf(a.stdout, "release %s rebuilt from its recorded inputs: %d files identical\n", args[0], len(rep.Files))
			}
			return nil
		},
	}
}

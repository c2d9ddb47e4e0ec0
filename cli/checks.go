package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func (a *app) checksCmd() *cobra.Command {
	var all bool
	c := &cobra.Command{
		Use:   "checks [VERSION]",
		Short: "Show the quality-gate report of a release, or of the latest build (published or blocked)",
		Long: `Shows each quality check (checks.yaml): table, check, severity, failing rows and, for failures, the query
and a sample of failing rows. Without VERSION it shows the latest release build, including one the gates
blocked. Exits 4 when a check of severity error failed.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			version := ""
			if len(args) == 1 {
				version = args[0]
				if _, err := a.manifest(cmd.Context(), p, version); err != nil {
					return err
				}
			}
			rep, err := p.Releases.Checks(cmd.Context(), version)
			if err != nil {
				return fmt.Errorf("no quality report for %q: %w", version, err)
			}
			blocking := rep.Blocking()
			if a.asJSON {
				if err := a.printJSON(rep); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "release %s: %d checks ran, %d error(s), %d warning(s)\n\n", rep.Release, rep.Ran, rep.Errors, rep.Warns)
				tw := a.table()
				fmt.Fprintln(tw, "TABLE\tCHECK\tSEVERITY\tRESULT\tFAILING")
				for _, r := range rep.Results {
					if r.Passed && !all {
						continue
					}
					res := "ok"
					if !r.Passed {
						res = "FAILED"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", r.Table, r.Name, r.Severity, res, r.Failing)
				}
				tw.Flush()
				for _, r := range rep.Results {
					if r.Passed {
						continue
					}
					fmt.Fprintf(a.stdout, "\n%s %s (%s)\n  query: %s\n", r.Table, r.Name, r.Detail, strings.Join(strings.Fields(r.Query), " "))
					for _, s := range r.Sample {
						fmt.Fprintf(a.stdout, "  sample: %s\n", s)
					}
				}
				if !all {
					fmt.Fprintln(a.stdout, "\n(passed checks hidden; --all shows them)")
				}
			}
			if len(blocking) > 0 {
				return &ExitError{Code: 4, Err: fmt.Errorf("blocked: %s", strings.Join(blocking, "; "))}
			}
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "list passed checks too")
	return c
}

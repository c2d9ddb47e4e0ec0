package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Per dataset: last check, last change at the source, last success, next run, freshness, failures, last error; exit 6 when stale or failing",
		Long: `status judges every configured dataset from the record its refreshes keep: ok, warn (stale past the source's
freshness.warn_after), error (past error_after) or failing (alerts.failures failed checks in a row);
unknown when never checked. Staleness is judged on the last successful check and, where the source says
when it last updated (Last-Modified, Eurostat's UPDATE_DATA, a catalogue's modified date), on that too.
Exit 6 when any dataset is warn, error or failing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			now := time.Now()
			list, schedErr := p.Status(cmd.Context(), now)
			if list == nil && schedErr != nil {
				return schedErr
			}
			bad := 0
			for _, d := range list {
				if d.Bad() {
					bad++
				}
			}
			if a.asJSON {
				if err := a.printJSON(list); err != nil {
					return err
				}
			} else {
				if schedErr != nil {
					fmt.Fprintf(a.stderr, "warning: next runs unknown: %v\n", schedErr)
				}
				when := func(t time.Time) string {
					if t.IsZero() {
						return "-"
					}
					return t.In(rome()).Format("02 Jan 15:04")
				}
				tw := a.table()
				fmt.Fprintln(tw, "SOURCE\tDATASET\tSTATE\tLAST CHECK\tSOURCE UPDATED\tLAST SUCCESS\tNEXT RUN\tFAILURES\tWHY / LAST ERROR")
				for _, d := range list {
					why := d.Why
					if d.LastError != "" && d.Failures > 0 {
						why = truncate(d.LastError, 100)
					}
					next := when(d.NextRun)
					if d.Paused {
						next = "paused"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", d.Source, d.Dataset, d.State, when(d.LastCheck),
						when(d.SourceUpdated), when(d.LastSuccess), next, d.Failures, orDash(why))
				}
				tw.Flush()
				fmt.Fprintf(a.stdout, "%d datasets, %d stale or failing (times in Europe/Rome)\n", len(list), bad)
			}
			if bad > 0 {
				return &ExitError{Code: 6, Err: fmt.Errorf("%d dataset(s) stale or failing", bad)}
			}
			return nil
		},
	}
}

func rome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return loc
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

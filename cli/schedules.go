package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/platform"
)

func (a *app) scheduleListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Per source: cron, time zone, the next 5 fire times, paused or not, the last run and its result",
		Long: `list shows every configured schedule. Fire times are computed in Europe/Rome as the Temporal server fires
them across daylight saving time: a time that does not exist (02:30 on the last Sunday of March) is
skipped; a time that comes twice (02:30 on the last Sunday of October) fires once, at the second (CET).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			list, err := p.Schedules(cmd.Context())
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(list)
			}
			tw := a.table()
			fmt.Fprintln(tw, "SOURCE\tCRON\tSTATE\tNEXT (Europe/Rome)\tLAST RUN")
			for _, s := range list {
				state := "active"
				switch {
				case !s.Registered:
					state = "not registered (schedule sync)"
				case s.Paused:
					state = "PAUSED " + s.Note
				}
				var next []string
				for _, t := range s.Next {
					next = append(next, t.Format("02 Jan 15:04 MST"))
				}
				last := "-"
				if r := s.LastRun; r != nil {
					last = fmt.Sprintf("%s %s (%s)", r.Started.In(s.Next[0].Location()).Format(time.DateTime), orDash(r.Status), r.Workflow)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Source, s.Cron, state, strings.Join(next, ", "), last)
			}
			return tw.Flush()
		},
	}
}

// scheduleActionCmd is schedule pause, resume or trigger.
func (a *app) scheduleActionCmd(verb string) *cobra.Command {
	var note string
	short := map[string]string{
		"pause":   "Pause a source's schedule (with --note saying why); refreshes by hand still run",
		"resume":  "Resume a paused schedule",
		"trigger": "Run a source's scheduled refresh now (its overlap policy applies)",
	}[verb]
	c := &cobra.Command{
		Use:   verb + " SOURCE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			switch verb {
			case "pause":
				err = p.PauseSchedule(cmd.Context(), args[0], note)
			case "resume":
				err = p.ResumeSchedule(cmd.Context(), args[0], note)
			default:
				err = p.TriggerSchedule(cmd.Context(), args[0])
			}
			if errors.Is(err, platform.ErrNoSchedule) {
				return &ExitError{Code: 2, Err: err}
			}
			if err != nil {
				return err
			}
			a.record(cmd.Context(), p, "schedule."+verb, args[0], map[string]string{"note": note})
			if a.asJSON {
				return a.printJSON(map[string]string{"source": args[0], "action": verb})
			}
			fmt.Fprintf(a.stdout, "schedule of %s: %s\n", args[0], map[string]string{"pause": "paused", "resume": "resumed", "trigger": "triggered"}[verb])
			return nil
		},
	}
	if verb != "trigger" {
		c.Flags().StringVar(&note, "note", "", "why (kept with the schedule and in the audit log)")
	}
	return c
}

package cli

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/audit"
	"github.com/osservatorio-lombardia/osservatorio/platform"
)

// record appends an operator action of this command to the audit log.
func (a *app) record(ctx context.Context, p *platform.Platform, action, target string, details map[string]string) {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	p.Record(ctx, audit.Entry{Actor: "cli:" + name + "@" + host, Action: action, Target: target, From: host, Details: details})
}

func (a *app) auditCmd() *cobra.Command {
	var f audit.Filter
	var since string
	c := &cobra.Command{
		Use:   "audit [--since 2026-12-01|24h] [--actor A] [--action token.]",
		Short: "The append-only record of operator actions: who did what, when, from where",
		Long: `audit lists the operator actions recorded in the bucket's audit/ folder, oldest first: refreshes started,
schedules synced, tokens and storage credentials issued or revoked, subscriptions changed, releases
published and rebuilt, deliveries replayed, keys rotated, configurations applied by workers. --action takes
an action (token.create) or a family ending in a dot (token.); --actor a part of the actor (cli:, token:,
workflow:, a user name).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return &ExitError{Code: 2, Err: err}
				}
				f.Since = t
			}
			p, err := a.open()
			if err != nil {
				return err
			}
			entries, err := p.Audit.List(cmd.Context(), f)
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(entries)
			}
			tw := a.table()
			fmt.Fprintln(tw, "TIME\tACTOR\tACTION\tTARGET\tFROM\tDETAILS")
			for _, e := range entries {
				var d []string
				for _, k := range sortedKeysOf(e.Details) {
					d = append(d, k+"="+e.Details[k])
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Target, e.From, strings.Join(d, " "))
			}
			return tw.Flush()
		},
	}
	c.Flags().StringVar(&since, "since", "", "a date (2026-12-01), a time (RFC 3339) or a duration back from now (24h)")
	c.Flags().StringVar(&f.Actor, "actor", "", "entries whose actor contains this")
	c.Flags().StringVar(&f.Action, "action", "", "an action, or a family ending in a dot")
	return c
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a date (2026-12-01), an RFC 3339 time or a duration (24h)", s)
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/api"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

func (a *app) refreshCmd() *cobra.Command {
	var wait, force bool
	var datasets []string
	var publishAt string
	c := &cobra.Command{
		Use:   "refresh SOURCE",
		Short: "Refresh one source now: change check, fetch, harmonize, release",
		Long: `Starts the RefreshSource workflow for SOURCE (e.g. eurostat). Each dataset costs one small request
when unchanged; a changed one is fetched to a content-addressed raw object, harmonized, and accepted, and a
release follows. With --wait, reports on stderr each step as it ends (fetched or unchanged, rows, accepted),
the progress of downloads, and every failed attempt with its error and when the next is due, then prints
per dataset: changed or unchanged, bytes, rows, raw object key. A plain refresh while one of the source
runs (by hand or by its schedule) follows that one; one with --dataset, --force or --publish-at says it
runs and what it covers.
Exits 2 when some dataset failed (the previous data stays published).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			embargo, err := config.EmbargoUntil(publishAt, time.Now())
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			run, err := p.StartRefresh(cmd.Context(), args[0], platform.RefreshOptions{Datasets: datasets, Force: force, PublishAt: embargo})
			if err != nil {
				return err
			}
			a.record(cmd.Context(), p, "refresh.start", args[0], map[string]string{"workflow": run.GetID(), "run": run.GetRunID(),
				"datasets": strings.Join(datasets, ","), "force": fmt.Sprint(force), "publish_at": publishAt})
			if !wait {
				if a.asJSON {
					return a.printJSON(map[string]string{"workflow_id": run.GetID(), "run_id": run.GetRunID()})
				}
				fmt.Fprintf(a.stdout, "started refresh of %s: workflow %s (run %s)\n", args[0], run.GetID(), run.GetRunID())
				return nil
			}
			if run.GetID() != "refresh-"+args[0]+"-manual" {
				fmt.Fprintf(a.stderr, "a scheduled refresh of %s is running: following it (workflow %s)\n", args[0], run.GetID())
			}
			watch := func(ctx context.Context) {
				p.WatchRefresh(ctx, run.GetID(), run.GetRunID(), 2*time.Second, func(line string) {
					fmt.Fprintf(a.stderr, "%s %s\n", time.Now().Format("15:04:05"), line)
				})
			}
			return awaitRun(cmd.Context(), a, watch, func() (workflows.RefreshResult, error) { return platform.WaitRefresh(cmd.Context(), run) }, a.printRefresh)
		},
	}
	c.Flags().BoolVar(&wait, "wait", false, "wait for the refresh and print its report")
	c.Flags().BoolVar(&force, "force", false, "fetch even when the change signal says nothing changed")
	c.Flags().StringSliceVar(&datasets, "dataset", nil, "refresh only these datasets (repeatable)")
	c.Flags().StringVar(&publishAt, "publish-at", "", "embargo the release until a time of day (10:00, Europe/Rome) or for a duration (2h)")
	return c
}

// awaitRun follows a started workflow to its end: watch reports on stderr meanwhile; then the result is
// printed, as {"result", "error"} under --json or by print; a run that failed is exit 2.
func awaitRun[R any](ctx context.Context, a *app, watch func(context.Context), wait func() (R, error), print func(R)) error {
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		watch(wctx)
	}()
	res, err := wait()
	stop()
	<-watched
	if a.asJSON {
		out := map[string]any{"result": res}
		if err != nil {
			out["error"] = err.Error()
		}
		if perr := a.printJSON(out); perr != nil {
			return perr
		}
	} else {
		print(res)
	}
	if err != nil {
		return &ExitError{Code: 2, Err: err}
	}
	return nil
}

func (a *app) printRefresh(res workflows.RefreshResult) {
	tw := a.table()
	fmt.Fprintln(tw, "DATASET\tSTATUS\tBYTES\tROWS\tRAW OBJECT\tDETAIL")
	for _, d := range res.Datasets {
		status, detail := "unchanged", d.Reason
		switch {
		case d.Error != "":
			status, detail = "FAILED", d.Error
		case d.Changed:
			status = "changed"
		}
		rows := "-"
		if d.Changed && d.Error == "" {
			rows = fmt.Sprint(d.Rows)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Dataset, status, humanBytes(d.Bytes), rows, d.RawKey, detail)
	}
	tw.Flush()
	a.printRelease(res.Release, "no release: nothing changed")
}

// printRelease says what release a refresh or a backfill made (none: nothing).
func (a *app) printRelease(rel *workflows.ReleaseResult, nothing string) {
	switch {
	case rel == nil:
		fmt.Fprintln(a.stdout, nothing)
	case rel.Skipped:
		fmt.Fprintf(a.stdout, "no new release: the accepted data equal release %s\n", rel.Version)
	default:
		pushed, ready, failed := 0, 0, []string{}
		for _, d := range rel.Deliveries {
			switch d.Status {
			case release.Delivered:
				pushed++
			case release.Failed:
				failed = append(failed, d.Observatory)
			default:
				ready++
			}
		}
		fmt.Fprintf(a.stdout, "release %s published (%s); %d observatories can pull it, %d had it pushed", rel.Version,
			formatRows(rel.Rows), ready, pushed)
		if len(failed) > 0 {
			fmt.Fprintf(a.stdout, "; failed: %s", strings.Join(failed, ", "))
		}
		fmt.Fprintln(a.stdout)
	}
}

func formatRows(rows map[string]int64) string {
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d rows", k, rows[k])
	}
	return strings.Join(parts, ", ")
}

func (a *app) releaseCmd() *cobra.Command {
	c := &cobra.Command{Use: "release", Short: "Published releases: list, show, what fed them, how two differ, rebuild one"}
	c.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List published releases, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			r, _ := http.NewRequestWithContext(cmd.Context(), http.MethodGet, "/", nil)
			out, err := api.Summaries(r, p.Releases)
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(a.stdout, "no release published yet")
				return nil
			}
			tw := a.table()
			fmt.Fprintln(tw, "VERSION\tCREATED\tBUMP\tPREVIOUS\tSOURCES\tROWS")
			for _, s := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", s.Version, s.Created, s.Bump, s.Previous, s.Sources, formatRows(s.Rows))
			}
			return tw.Flush()
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "show VERSION",
		Short: "Show a release: its tables, their hashes, and the raw sources they came from",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			m, err := a.manifest(cmd.Context(), p, args[0])
			if err != nil {
				return err
			}
			if a.asJSON {
				// The Data Package itself, as the bundle holds it: its names are the standard's.
				data, err := release.Encode(m)
				if err != nil {
					return err
				}
				a.printed = true
				_, err = a.stdout.Write(append(data, '\n'))
				return err
			}
			fmt.Fprintf(a.stdout, "release %s of %s, created %s (%s bump from %s)\n\n", m.Version, m.Name,
				m.Created.Format(time.RFC3339), m.Osservatorio.Bump, orDash(m.Osservatorio.Previous))
			tw := a.table()
			fmt.Fprintln(tw, "TABLE\tPATH\tROWS\tBYTES\tHASH")
			for _, r := range m.Resources {
				for _, f := range r.Files() {
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", r.Name, f.Path, f.Rows, f.Bytes, f.Hash)
				}
			}
			tw.Flush()
			fmt.Fprintln(a.stdout)
			tw = a.table()
			fmt.Fprintln(tw, "SOURCE\tDATASET\tROWS\tPERIODS\tFETCHED\tRAW SHA256\tURL")
			for _, s := range m.Sources {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s–%s\t%s\t%s\t%s\n", s.Source, s.Dataset, s.Rows, s.FirstPeriod, s.LastPeriod,
					s.FetchedAt.Format(time.RFC3339), s.RawSHA256[:16]+"…", s.Path)
			}
			tw.Flush()
			ch := m.Osservatorio.Changes
			if len(ch.AddedDatasets)+len(ch.UpdatedDatasets)+len(ch.RemovedDatasets) > 0 {
				fmt.Fprintf(a.stdout, "\nchanges: added %v, updated %v, removed %v, new periods %v\n",
					ch.AddedDatasets, ch.UpdatedDatasets, ch.RemovedDatasets, ch.NewPeriods)
			}
			return nil
		},
	})
	c.AddCommand(a.releaseInputsCmd(), a.releaseDiffCmd(), a.releaseRebuildCmd())
	return c
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (a *app) configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Check and print the configuration"}
	c.AddCommand(&cobra.Command{
		Use:   "validate",
		Short: "Validate the configuration: unknown keys, cron specs, ids, each error with its line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			var ce *config.Error
			if errors.As(err, &ce) && a.asJSON {
				_ = a.printJSON(map[string]any{"file": ce.File, "ok": false, "problems": ce.Problems})
				return &ExitError{Code: 2, Err: fmt.Errorf("%d problem(s)", len(ce.Problems))}
			}
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			if a.asJSON {
				return a.printJSON(map[string]any{"ok": true, "sources": cfg.SourceNames(), "observatories": len(cfg.Observatories), "warnings": cfg.Warnings()})
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintln(a.stderr, "warning:", w)
			}
			n := 0
			for _, s := range cfg.Sources {
				n += len(s.Datasets)
			}
			fmt.Fprintf(a.stdout, "configuration is valid: %d source(s), %d dataset(s), %d observatories\n", len(cfg.Sources), n, len(cfg.Observatories))
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (after environment overrides; secrets left out)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			return a.printJSON(cfg)
		},
	})
	return c
}

func (a *app) scheduleCmd() *cobra.Command {
	c := &cobra.Command{Use: "schedule", Short: "The sources' Temporal Schedules: sync, list, pause, resume, trigger"}
	c.AddCommand(a.scheduleListCmd(), a.scheduleActionCmd("pause"), a.scheduleActionCmd("resume"), a.scheduleActionCmd("trigger"))
	c.AddCommand(&cobra.Command{
		Use:   "sync",
		Short: "Create or update one Temporal Schedule per source from the configuration (Europe/Rome)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			defer p.Close()
			scheds, err := p.RegisterSchedules(cmd.Context())
			a.record(cmd.Context(), p, "schedule.sync", p.Config.Storage.Bucket, map[string]string{"schedules": fmt.Sprint(len(scheds)), "error": errString(err)})
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(scheds)
			}
			for _, s := range scheds {
				fmt.Fprintf(a.stdout, "%s %s: %q in %s\n", s.Action, s.ID, s.Cron, platform.TimeZone)
			}
			return nil
		},
	})
	return c
}

func (a *app) mirrorCmd() *cobra.Command {
	var addr string
	c := &cobra.Command{
		Use:   "mirror",
		Short: "Serve the recorded source responses that ship with the platform",
		Long: `Serves the recorded responses (mirror/recorded) on ADDR. Point a source at it with
OSSERVATORIO_<SOURCE>_BASE_URL=http://ADDR/<source>, e.g. OSSERVATORIO_EUROSTAT_BASE_URL=http://127.0.0.1:8090/eurostat.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "serving recorded responses on http://%s/<source>/…\n", l.Addr())
			return serveUntilDone(cmd.Context(), l, mirror.New(mirror.Recorded()))
		},
	}
	c.Flags().StringVar(&addr, "addr", "127.0.0.1:8090", "address to listen on")
	return c
}

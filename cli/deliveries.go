package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

func (a *app) deliveriesCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "deliveries VERSION",
		Short: "Show how a release reached every observatory: pending, delivered, notified, acknowledged or failed",
		Long: `deliveries shows the ledger of a release: per observatory its delivery mode (pull, or push into its own
space), the bundle it receives (the release, or its slice), the webhook notices sent, and whether it pulled,
verified and acknowledged the release with its own key.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.openRelease(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			ds, err := p.Releases.Deliveries(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			byID := map[string]release.Delivery{}
			for _, d := range ds {
				byID[d.Observatory] = d
			}
			type row struct {
				Observatory string `json:"observatory"`
				Name        string `json:"name"`
				release.Delivery
			}
			var rows []row
			for _, o := range p.Config.Observatories {
				d, ok := byID[o.ID]
				if !ok {
					d = release.Delivery{Release: args[0], Observatory: o.ID, Status: "none", Error: "no delivery recorded (observatory added after this release?)"}
				}
				delete(byID, o.ID)
				rows = append(rows, row{Observatory: o.ID, Name: o.Name, Delivery: d})
			}
			for id, d := range byID { // ledger entries of observatories no longer configured
				rows = append(rows, row{Observatory: id, Delivery: d})
			}
			if a.asJSON {
				return a.printJSON(rows)
			}
			tw := a.table()
			fmt.Fprintln(tw, "OBSERVATORY\tSTATUS\tMODE\tBUNDLE\tATTEMPTS\tNOTICES\tTIME\tERROR")
			for _, r := range rows {
				t := ""
				if !r.Time.IsZero() {
					t = r.Time.Format(time.RFC3339)
				}
				if r.Acknowledged != nil {
					t = r.Acknowledged.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\n", r.Observatory, r.Status, orDash(r.Mode), orDash(r.Bundle), r.Attempts, r.NotifyAttempts, t, r.Error)
			}
			return tw.Flush()
		},
	}
	c.AddCommand(a.deliveriesReplayCmd())
	return c
}

// openRelease opens the platform and checks that version is a published release (else exit 2).
func (a *app) openRelease(ctx context.Context, version string) (*platform.Platform, error) {
	p, err := a.open()
	if err != nil {
		return nil, err
	}
	_, err = a.manifest(ctx, p, version)
	return p, err
}

// openReleaseDB is openRelease with an in-memory DuckDB, for the commands that read release tables; the
// caller calls done.
func (a *app) openReleaseDB(ctx context.Context, version string) (p *platform.Platform, db *warehouse.DB, done func(), err error) {
	if p, err = a.openRelease(ctx, version); err != nil {
		return nil, nil, nil, err
	}
	if db, err = warehouse.Open(ctx, warehouse.Options{}); err != nil {
		p.Close()
		return nil, nil, nil, err
	}
	return p, db, func() { db.Close(); p.Close() }, nil
}

func (a *app) deliveriesReplayCmd() *cobra.Command {
	var observatory string
	c := &cobra.Command{
		Use:   "replay VERSION --observatory ID",
		Short: "Deliver a release to one observatory again: its bundle, the copy in push mode, and its webhook notice",
		Long: `replay runs the delivery of a published release to one observatory again, as a new workflow. Its webhook
is enabled first if it had been disabled after repeated failures (asking for a replay is asking to call it).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.openRelease(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if _, err := observatoryOf(p, observatory); err != nil {
				return err
			}
			d, runID, err := p.ReplayDelivery(cmd.Context(), args[0], observatory)
			a.record(cmd.Context(), p, "delivery.replay", args[0]+"/"+observatory, map[string]string{"workflow": runID, "error": errString(err)})
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(map[string]any{"workflow": runID, "delivery": d})
			}
			fmt.Fprintf(a.stdout, "delivery of %s to %s replayed (workflow %s): %s", args[0], observatory, runID, d.Status)
			if d.Error != "" {
				fmt.Fprintf(a.stdout, " (%s)", d.Error)
			}
			fmt.Fprintln(a.stdout)
			fmt.Fprintf(a.stdout, "its webhook notice, if any, follows on its schedule: osservatorio deliveries %s\n", args[0])
			return nil
		},
	}
	c.Flags().StringVar(&observatory, "observatory", "", "the observatory to deliver to")
	_ = c.MarkFlagRequired("observatory")
	return c
}

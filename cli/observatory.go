package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/access"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

func (a *app) observatoryCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "observatory",
		Short: "The observatories: their subscriptions, and their own storage credentials (list, credentials, revoke)",
	}
	cmd.AddCommand(a.observatoryListCmd(), a.observatoryCredentialsCmd(), a.observatoryRevokeCmd(), a.observatoryEnableCmd(), a.observatorySubscribeCmd())
	return cmd
}

// openObservatory opens the platform and returns the configured observatory id, or exit 2.
func (a *app) openObservatory(id string) (*platform.Platform, config.Observatory, error) {
	p, err := a.open()
	if err != nil {
		return nil, config.Observatory{}, err
	}
	o, err := observatoryOf(p, id)
	return p, o, err
}

// observatoryOf returns the configured observatory id, or exit 2.
func observatoryOf(p *platform.Platform, id string) (config.Observatory, error) {
	for _, o := range p.Config.Observatories {
		if o.ID == id {
			return o, nil
		}
	}
	return config.Observatory{}, &ExitError{Code: 2, Err: fmt.Errorf("observatory %q is not configured (configured: %v)", id, p.Config.ObservatoryIDs())}
}

func (a *app) observatoryListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the observatories with their province, subscription, delivery mode and credentials",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			m, err := p.Access()
			if err != nil {
				return err
			}
			type row struct {
				config.Observatory
				Credentials *access.Identity `json:"credentials,omitempty"`
			}
			var rows []row
			for _, o := range p.Config.Observatories {
				id, ok, err := m.Get(cmd.Context(), o.ID)
				if err != nil {
					return err
				}
				r := row{Observatory: o}
				if ok {
					r.Credentials = &id
				}
				rows = append(rows, r)
			}
			if a.asJSON {
				return a.printJSON(rows)
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tPROVINCE\tSUBSCRIPTION\tDELIVERY\tACCESS KEY\tCREDENTIALS")
			for _, r := range rows {
				state := "none (observatory credentials " + r.ID + ")"
				key := "-"
				if c := r.Credentials; c != nil {
					key, state = c.AccessKey, "made "+c.Created.Format(time.RFC3339)
					if !c.Rotated.IsZero() {
						state += ", rotated " + c.Rotated.Format(time.RFC3339)
					}
					if c.Revoked != nil {
						state = "revoked " + c.Revoked.Format(time.RFC3339)
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, orDash(r.Province), r.Subscription.String(), r.Delivery, key, state)
			}
			return tw.Flush()
		},
	}
}

func (a *app) observatoryCredentialsCmd() *cobra.Command {
	var rotate bool
	c := &cobra.Command{
		Use:   "credentials ID [--rotate]",
		Short: "Make an observatory's own storage key (shown once; with --json: endpoint, bucket, access_key, secret_key)",
		Long: `credentials makes the observatory's own MinIO identity and prints its key once: it reads the published
releases, the public keys and its own delivery space, and writes only its acknowledgements. The secret is not
stored anywhere: --rotate gives a new one (the old one stops working at once).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, o, err := a.openObservatory(args[0])
			if err != nil {
				return err
			}
			m, err := p.Access()
			if err != nil {
				return err
			}
			creds, err := m.Issue(cmd.Context(), o.ID, o.Bucket, rotate)
			if err == nil {
				a.record(cmd.Context(), p, "observatory.credentials", o.ID, map[string]string{"access_key": creds.AccessKey, "rotate": fmt.Sprint(rotate)})
			}
			if errors.Is(err, access.ErrExists) {
				return &ExitError{Code: 2, Err: fmt.Errorf("%w; its secret was shown when it was made: use --rotate for a new one", err)}
			}
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(creds)
			}
			fmt.Fprintf(a.stdout, "storage credentials of %s (the secret is shown once):\n  endpoint    %s\n  bucket      %s\n  access key  %s\n  secret key  %s\n",
				o.ID, creds.Endpoint, creds.Bucket, creds.AccessKey, creds.SecretKey)
			fmt.Fprintf(a.stdout, "at the observatory: OSSERVATORIO_PULL_ENDPOINT=%s OSSERVATORIO_PULL_BUCKET=%s OSSERVATORIO_PULL_ACCESS_KEY=%s OSSERVATORIO_PULL_SECRET_KEY=… osservatorio pull --dir DIR\n",
				creds.Endpoint, creds.Bucket, creds.AccessKey)
			return nil
		},
	}
	c.Flags().BoolVar(&rotate, "rotate", false, "give an existing identity a new secret")
	return c
}

func (a *app) observatoryRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke ID",
		Short: "Remove an observatory's storage identity: its key is refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, err := a.openObservatory(args[0])
			if err != nil {
				return err
			}
			m, err := p.Access()
			if err != nil {
				return err
			}
			if err := m.Revoke(cmd.Context(), args[0]); errors.Is(err, access.ErrNone) {
				return &ExitError{Code: 2, Err: err}
			} else if err != nil {
				return err
			}
			a.record(cmd.Context(), p, "observatory.revoke", args[0], nil)
			if a.asJSON {
				return a.printJSON(map[string]any{"observatory": args[0], "revoked": true})
			}
			fmt.Fprintf(a.stdout, "revoked the storage key of %s\n", args[0])
			return nil
		},
	}
}

func (a *app) observatoryEnableCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "enable ID",
		Short: "Enable an observatory's webhook that was disabled after repeated failures",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, _, err := a.openObservatory(args[0])
			if err != nil {
				return err
			}
			before, err := p.Releases.EndpointState(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := p.Releases.SetEndpointState(cmd.Context(), release.Endpoint{Observatory: args[0]}); err != nil {
				return err
			}
			a.record(cmd.Context(), p, "observatory.enable", args[0], nil)
			if a.asJSON {
				return a.printJSON(map[string]any{"observatory": args[0], "was_disabled_until": before.DisabledUntil, "enabled": true})
			}
			if before.DisabledUntil.After(time.Now()) {
				fmt.Fprintf(a.stdout, "webhook of %s enabled (it was disabled until %s: %s)\n", args[0], before.DisabledUntil.Format(time.RFC3339), before.Reason)
			} else {
				fmt.Fprintf(a.stdout, "webhook of %s was not disabled\n", args[0])
			}
			return nil
		},
	}
}

func (a *app) observatorySubscribeCmd() *cobra.Command {
	var sub config.Subscription
	var all bool
	c := &cobra.Command{
		Use:   "subscribe ID [--tables T,…] [--sources S,…] [--province-only] | --all",
		Short: "Choose what an observatory receives of the next releases: some tables, some sources, its province only",
		Long: `subscribe stores what the observatory receives from the next release on (it replaces the tables, sources
and province_only of the configuration; its webhook stays there). Without --all, a selection makes a signed
slice of each release for it (slices/<id>/<version>/), derived from the release and reproducible. Without
flags it prints the current subscription.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, o, err := a.openObservatory(args[0])
			if err != nil {
				return err
			}
			changed := all || cmd.Flags().Changed("tables") || cmd.Flags().Changed("sources") || cmd.Flags().Changed("province-only")
			if changed {
				if all {
					sub = config.Subscription{}
				}
				if probs := p.Config.CheckSubscription(o, sub); len(probs) > 0 {
					return &ExitError{Code: 2, Err: fmt.Errorf("%s", strings.Join(probs, "; "))}
				}
				if err := p.Releases.SetSubscription(cmd.Context(), release.Subscription{Observatory: o.ID, Tables: sub.Tables,
					Sources: sub.Sources, ProvinceOnly: sub.ProvinceOnly, By: "cli"}); err != nil {
					return err
				}
				a.record(cmd.Context(), p, "subscription.change", o.ID, map[string]string{"subscription": sub.String()})
			}
			current, ok, err := p.Releases.Subscription(cmd.Context(), o.ID)
			if err != nil {
				return err
			}
			if !ok {
				current = release.Subscription{Observatory: o.ID, Tables: o.Subscription.Tables, Sources: o.Subscription.Sources,
					ProvinceOnly: o.Subscription.ProvinceOnly, By: "configuration"}
			}
			if a.asJSON {
				return a.printJSON(current)
			}
			shown := config.Subscription{Tables: current.Tables, Sources: current.Sources, ProvinceOnly: current.ProvinceOnly}
			fmt.Fprintf(a.stdout, "%s subscribes to %s (set by %s)\n", o.ID, shown.String(), current.By)
			return nil
		},
	}
	c.Flags().StringSliceVar(&sub.Tables, "tables", nil, "release tables to receive (comma-separated)")
	c.Flags().StringSliceVar(&sub.Sources, "sources", nil, "sources whose data to receive (comma-separated)")
	c.Flags().BoolVar(&sub.ProvinceOnly, "province-only", false, "labour events and flows of its own province only")
	c.Flags().BoolVar(&all, "all", false, "receive every release whole")
	return c
}

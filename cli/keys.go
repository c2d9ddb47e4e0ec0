package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/signing"
)

// rotationGrace is how long a rotated key stays valid: releases being built when it rotates still sign
// with it and verify.
const rotationGrace = time.Hour

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "The ed25519 keys that sign releases: list the published ones, rotate the signing key",
	}
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the public keys published under keys/, with their validity",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			keys, err := p.Releases.Keys(cmd.Context())
			if err != nil {
				return err
			}
			list := make([]signing.PublicKey, 0, len(keys))
			for _, k := range keys {
				list = append(list, k)
			}
			sort.Slice(list, func(i, j int) bool { return list[i].ValidFrom.Before(list[j].ValidFrom) })
			if a.asJSON {
				return a.printJSON(list)
			}
			tw := a.table()
			fmt.Fprintln(tw, "KEY ID\tVALID FROM\tVALID UNTIL\tPUBLIC KEY")
			for _, k := range list {
				until := "-"
				if k.ValidUntil != nil {
					until = k.ValidUntil.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KeyID, k.ValidFrom.Format(time.RFC3339), until, k.PublicKey)
			}
			return tw.Flush()
		},
	})
	cmd.AddCommand(&cobra.Command{
		Use:   "rotate",
		Short: "Make a new signing key in release.signing_key; the old one stays valid an hour more, then signs nothing",
		Long: `rotate writes a new ed25519 key to the file named by release.signing_key (the old one is kept beside it
as <file>.<old key id>), publishes its public key under keys/, and closes the old key's validity an hour from
now, so releases being built meanwhile still verify. Every release the old key signed keeps verifying.
Workers read the key file at every build: with a shared secret file, nothing needs restarting.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			path := p.Config.Release.SigningKey
			old, err := signing.Load(path)
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			next, err := signing.Generate()
			if err != nil {
				return err
			}
			now := time.Now()
			if old != nil {
				if err := os.Rename(path, path+"."+old.ID); err != nil {
					return err
				}
				if err := p.Releases.PublishKey(cmd.Context(), old.Public(now)); err != nil {
					return err
				}
				if err := p.Releases.RetireKey(cmd.Context(), old.ID, now.Add(rotationGrace)); err != nil {
					return err
				}
			}
			if err := next.Save(path); err != nil {
				return err
			}
			if err := p.Releases.PublishKey(cmd.Context(), next.Public(now)); err != nil {
				return err
			}
			retired := ""
			if old != nil {
				retired = old.ID
			}
			a.record(cmd.Context(), p, "keys.rotate", next.ID, map[string]string{"retired": retired})
			if a.asJSON {
				out := map[string]any{"key_id": next.ID, "file": path}
				if old != nil {
					out["retired"], out["retired_valid_until"] = old.ID, now.Add(rotationGrace).UTC().Truncate(time.Second)
				}
				return a.printJSON(out)
			}
			fmt.Fprintf(a.stdout, "new signing key %s in %s, published under keys/\n", next.ID, path)
			if old != nil {
				fmt.Fprintf(a.stdout, "key %s signs until %s; the releases it signed keep verifying\n", old.ID, now.Add(rotationGrace).UTC().Format(time.RFC3339))
			}
			return nil
		},
	})
	return cmd
}

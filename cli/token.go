package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/identity"
)

// tokenCmd manages API tokens. The CLI acts as admin: it runs where the platform's storage keys are.
func (a *app) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke API tokens (roles: engineer, auditor, admin, observatory:<id>)",
	}
	var role, name string
	create := &cobra.Command{
		Use:   "create --role ROLE [--name NAME]",
		Short: "Create a token; its secret is printed once (with --json under \"token\")",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			r, err := identity.ParseRole(role, p.Config.HasObservatory)
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			tok, secret, err := p.Tokens.Create(cmd.Context(), r, name)
			if err != nil {
				return err
			}
			a.record(cmd.Context(), p, "token.create", tok.ID, map[string]string{"role": string(tok.Role), "name": tok.Name})
			if a.asJSON {
				return a.printJSON(map[string]any{"id": tok.ID, "role": tok.Role, "name": tok.Name, "created": tok.Created, "token": secret})
			}
			fmt.Fprintf(a.stdout, "token %s for role %s (shown once; send it as Authorization: Bearer …):\n%s\n", tok.ID, tok.Role, secret)
			return nil
		},
	}
	create.Flags().StringVar(&role, "role", "", "engineer, auditor, admin or observatory:<id>")
	create.Flags().StringVar(&name, "name", "", "who or what the token is for")
	_ = create.MarkFlagRequired("role")
	list := &cobra.Command{
		Use:   "list",
		Short: "List tokens (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			toks, err := p.Tokens.List(cmd.Context())
			if err != nil {
				return err
			}
			if a.asJSON {
				return a.printJSON(toks)
			}
			tw := a.table()
			fmt.Fprintln(tw, "ID\tROLE\tNAME\tCREATED\tREVOKED")
			for _, t := range toks {
				revoked := ""
				if t.Revoked != nil {
					revoked = t.Revoked.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Name, t.Created.Format(time.RFC3339), revoked)
			}
			return tw.Flush()
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: every request carrying it is refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.open()
			if err != nil {
				return err
			}
			t, err := p.Tokens.Revoke(cmd.Context(), args[0])
			if err != nil {
				return &ExitError{Code: 2, Err: err}
			}
			a.record(cmd.Context(), p, "token.revoke", t.ID, map[string]string{"role": string(t.Role)})
			if a.asJSON {
				return a.printJSON(t)
			}
			fmt.Fprintf(a.stdout, "token %s (%s) revoked\n", t.ID, t.Role)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/explore"
	"github.com/osservatorio-lombardia/osservatorio/report"
)

func (a *app) reportCmd() *cobra.Command {
	var territory, format, out string
	c := &cobra.Command{
		Use:   "report VERSION --territory 020 [--format html|pdf] [--out FILE]",
		Short: "A territorial report of a release (saldi since 2017, the last 18 months, the province among the others, methods and data notes)",
		Long: `report writes "Le dinamiche degli eventi lavorativi" of a province (Istat code, e.g. 020 Mantova) or of the
region (03) from a release's labour tables: one self-contained HTML page (charts drawn as in the console,
every figure also in a table), or PDF printed by headless Chromium. To stdout without --out.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "html" && format != "pdf" {
				return &ExitError{Code: 2, Err: fmt.Errorf("--format %q: want html or pdf", format)}
			}
			if format == "pdf" && out == "" {
				return &ExitError{Code: 2, Err: fmt.Errorf("a PDF needs --out FILE")}
			}
			p, db, done, err := a.openReleaseDB(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			defer done()
			e := &explore.Explorer{Releases: p.Releases, DB: db, Cache: p.ReleaseCache()}
			r, err := report.Build(cmd.Context(), e, args[0], territory)
			if errors.Is(err, explore.ErrQuestion) {
				return &ExitError{Code: 2, Err: err}
			}
			if err != nil {
				return err
			}
			if format == "pdf" {
				if err := r.PDF(cmd.Context(), out); err != nil {
					return err
				}
				fmt.Fprintf(a.stderr, "report of %s (%s), release %s: %s\n", r.Name, territory, args[0], out)
				return nil
			}
			w := a.stdout
			if out != "" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			return r.HTML(w)
		},
	}
	c.Flags().StringVar(&territory, "territory", "03", "Istat code of a Lombardy province (012 … 108) or 03 for the region")
	c.Flags().StringVar(&format, "format", "html", "html or pdf")
	c.Flags().StringVar(&out, "out", "", "file to write (stdout for HTML without it)")
	return c
}

package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/osservatorio-lombardia/osservatorio/cogen"
)

func (a *app) genCmd() *cobra.Command {
	c := &cobra.Command{Use: "gen", Short: "Generate synthetic source files for tests, demos and benchmarks"}
	var events int
	var seed uint64
	var kind, out, from, to string
	co := &cobra.Command{
		Use:   "co",
		Short: "Write a CO export in Regione Lombardia's format (DATA, GENERE, ETA, … ITALIANO) with the real data's quirks",
		Long: `Writes --events synthetic comunicazioni obbligatorie in the regional export format: dates dd/mm/yyyy
with seasonal peaks, Milano about 40% of events, upper-case labels with the real dataset's quirks (mixed
case, double spaces, accent and apostrophe variants, empty working time, outlier ages and dates, a few
employers outside Lombardy and a few labels no code list knows). The same --seed writes the same bytes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := cogen.Options{Events: events, Seed: seed, Kind: kind}
			var err error
			if from != "" {
				if opts.From, err = time.Parse("2006-01-02", from); err != nil {
					return fmt.Errorf("--from: %w", err)
				}
			}
			if to != "" {
				if opts.To, err = time.Parse("2006-01-02", to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			var w io.Writer = a.stdout
			var f *os.File
			if out != "" && out != "-" {
				if f, err = os.Create(out); err != nil {
					return err
				}
				w = bufio.NewWriterSize(f, 1<<20)
			}
			start := time.Now()
			st, err := cogen.Write(w, opts)
			if f != nil {
				if bw, ok := w.(*bufio.Writer); ok && err == nil {
					err = bw.Flush()
				}
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			if err != nil {
				return err
			}
			if f != nil {
				fmt.Fprintf(a.stderr, "wrote %d %s events (%s) to %s in %s\n", st.Events, opts.Kind, humanBytes(st.Bytes), out, time.Since(start).Round(time.Millisecond))
			}
			return nil
		},
	}
	co.Flags().IntVar(&events, "events", 100000, "number of events")
	co.Flags().Uint64Var(&seed, "seed", 1, "random seed")
	co.Flags().StringVar(&kind, "kind", "attivati", "attivati, cessati, prorogati or trasformati")
	co.Flags().StringVarP(&out, "out", "o", "-", "output file (- for standard output)")
	co.Flags().StringVar(&from, "from", "", "first event date, YYYY-MM-DD (default 2017-01-01)")
	co.Flags().StringVar(&to, "to", "", "last event date, YYYY-MM-DD (default 2024-12-31)")
	c.AddCommand(co)
	return c
}

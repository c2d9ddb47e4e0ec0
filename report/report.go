// Package report writes a territorial report of a release: "Le dinamiche degli eventi lavorativi" of a
// province or the region, as one self-contained HTML page (the charts drawn by the console's ECharts, the
// figures in tables beside them), and as PDF printed by headless Chromium. Every figure comes from the
// release's labour tables (package explore).
package report

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/console"
	"github.com/osservatorio-lombardia/osservatorio/explore"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

//go:embed report.html.tmpl
var pageTmpl string

// Breakdowns are the report's breakdowns of the last 18 months, with their Italian titles.
var Breakdowns = [][2]string{{"contract_class", "Tipo di contratto"}, {"sector_section", "Settore (sezione Ateco)"},
	{"age_class", "Classe d'età"}, {"sex", "Sesso"}, {"citizenship_group", "Cittadinanza"}}

// Report is what a report shows.
type Report struct {
	Version, Territory, Name string
	Generated                string
	LastMonth                string                    // the last complete month in the release
	Years                    []explore.Flow            // saldi and flows by year, 2017 → the last year
	Balances                 []explore.Balance         // monthly, with the cumulative balance
	Recent                   map[string][]explore.Flow // breakdown → the last 18 months summed by group
	Compare                  []explore.Flow            // the last complete year, every territory (Group = territory)
	Names                    map[string]string
	Sources                  []release.Source
}

// Build gathers a report of territory from release version.
func Build(ctx context.Context, e *explore.Explorer, version, territory string) (*Report, error) {
	m, err := e.Manifest(ctx, version)
	if err != nil {
		return nil, err
	}
	r := &Report{Version: version, Territory: territory, Recent: map[string][]explore.Flow{}, Names: map[string]string{}}
	for _, t := range explore.Territories() {
		r.Names[t.Istat] = t.Name
	}
	if r.Name = r.Names[territory]; r.Name == "" {
		return nil, fmt.Errorf("%w: territory %q is not a Lombardy province or the region (03)", explore.ErrQuestion, territory)
	}
	r.Generated = m.Created.In(rome()).Format("02/01/2006")
	for _, s := range m.Sources {
		if s.Source == "lombardia" {
			r.Sources = append(r.Sources, s)
		}
	}
	if r.Years, err = e.Flows(ctx, version, territory, "year", ""); err != nil {
		return nil, err
	}
	if r.Balances, err = e.Balances(ctx, version, territory); err != nil {
		return nil, err
	}
	months, err := e.Flows(ctx, version, territory, "month", "")
	if err != nil {
		return nil, err
	}
	if len(months) == 0 {
		return nil, fmt.Errorf("%w: release %s has no monthly flows for %s", explore.ErrQuestion, version, territory)
	}
	r.LastMonth = months[len(months)-1].Period
	from := months[max(0, len(months)-18)].Period
	for _, b := range Breakdowns {
		rows, err := e.Flows(ctx, version, territory, "month", b[0])
		if err != nil {
			return nil, err
		}
		r.Recent[b[0]] = sumByGroup(rows, from)
	}
	all, err := e.Flows(ctx, version, "", "year", "territory")
	if err != nil {
		return nil, err
	}
	last := r.Years[len(r.Years)-1].Period
	for _, f := range all {
		if f.Period == last {
			r.Compare = append(r.Compare, f)
		}
	}
	sort.SliceStable(r.Compare, func(i, j int) bool { return r.Compare[i].Saldo > r.Compare[j].Saldo })
	return r, nil
}

// sumByGroup sums the months from from on, by group.
func sumByGroup(rows []explore.Flow, from string) []explore.Flow {
	by := map[string]*explore.Flow{}
	var order []string
	for _, f := range rows {
		if f.Period < from {
			continue
		}
		s, ok := by[f.Group]
		if !ok {
			s = &explore.Flow{Period: from + " → ", Group: f.Group, Label: f.Label}
			by[f.Group] = s
			order = append(order, f.Group)
		}
		s.Attivazioni += f.Attivazioni
		s.Cessazioni += f.Cessazioni
		s.Proroghe += f.Proroghe
		s.TrasformazioniIn += f.TrasformazioniIn
		s.TrasformazioniOut += f.TrasformazioniOut
		s.Saldo += f.Saldo
	}
	slices.Sort(order)
	out := make([]explore.Flow, len(order))
	for i, g := range order {
		out[i] = *by[g]
	}
	return out
}

// HTML writes the report as one self-contained page.
func (r *Report) HTML(w io.Writer) error { return r.page(w, "") }

// EChartsFile is the chart library a report in a bundle loads from beside it (reports/), stored once.
const EChartsFile = "echarts-6.1.0.min.js"

// page writes the report; with scriptSrc, the chart library is loaded from there rather than inlined.
func (r *Report) page(w io.Writer, scriptSrc string) error {
	var echarts []byte
	if scriptSrc == "" {
		var err error
		if echarts, err = console.Asset("vendor/" + EChartsFile); err != nil {
			return err
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	t, err := template.New("report").Funcs(template.FuncMap{"num": itNumber, "title": title}).Parse(pageTmpl)
	if err != nil {
		return err
	}
	return t.Execute(w, struct {
		*Report
		ECharts    template.JS
		ScriptSrc  string
		Data       template.JS
		Breakdowns [][2]string
	}{r, template.JS(echarts), scriptSrc, template.JS(data), Breakdowns})
}

// PDF prints the report with headless Chromium (Debian's chromium, or $CHROMIUM) to out.
func (r *Report) PDF(ctx context.Context, out string) error {
	dir, err := os.MkdirTemp("", "report-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := r.HTML(&buf); err != nil {
		return err
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		return err
	}
	bin := os.Getenv("CHROMIUM")
	if bin == "" {
		if bin, err = exec.LookPath("chromium"); err != nil {
			return fmt.Errorf("PDF needs chromium (apt-get install chromium, or make tools): %w", err)
		}
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--virtual-time-budget=5000", "--no-pdf-header-footer", "--print-to-pdf="+abs, "file://"+page)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("chromium --print-to-pdf: %w: %s", err, strings.TrimSpace(string(msg)))
	}
	if st, err := os.Stat(abs); err != nil || st.Size() == 0 {
		return fmt.Errorf("chromium wrote no PDF at %s", abs)
	}
	return nil
}

// itNumber formats an integer the Italian way: 12.345, -1.234.
func itNumber(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// title is a group's label in the report.
func title(g string) string {
	if g == "" {
		return "n.d."
	}
	return g
}

func rome() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return loc
}

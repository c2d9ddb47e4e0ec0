package integration

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/osservatorio-lombardia/osservatorio/api"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// artifacts is where the browser tests leave their screenshots (git-ignored).
func artifacts(t *testing.T) string {
	dir := filepath.Join(repoRoot(), "integration", "artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// consoleShowsTheReleaseFigures drives the console in Debian's headless chromium: Milano's observatory
// signs in with its token (an HttpOnly cookie) and lands on its province; the figures in the page equal
// those DuckDB computes from the published Parquet tables, for months and years and for another province;
// an engineer sees the sources and every page loads with no console error. Screenshots of each page go
// to integration/artifacts.
func consoleShowsTheReleaseFigures(t *testing.T, ctx context.Context) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is not installed: make tools installs Debian's package")
	}
	srv := httptest.NewServer(api.Handler(shared.p, nil))
	defer srv.Close()
	_, observatory, err := shared.p.Tokens.Create(ctx, identity.Role("observatory:milano"), "Osservatorio di Milano")
	if err != nil {
		t.Fatal(err)
	}
	_, engineer, err := shared.p.Tokens.Create(ctx, identity.Engineer, "Ingegnera dei dati")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1600))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	var mu sync.Mutex
	var problems []string
	bctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, fmt.Sprintf("exception: %s %v", e.ExceptionDetails.Text, e.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, fmt.Sprintf("console.error: %v", e.Args))
			}
		}
	}))
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	js := func(expr string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[any](expr, chromedp.EvalAwaitPromise)(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			top, err := chromedp.CaptureScreenshot()(ctx, tg) // what a visitor sees first
			if err != nil {
				return chromedp.Void{}, err
			}
			if err := os.WriteFile(filepath.Join(artifacts(t), strings.TrimSuffix(name, ".png")+"-schermo.png"), top, 0o644); err != nil {
				return chromedp.Void{}, err
			}
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return chromedp.Void{}, err
			}
			return chromedp.Void{}, os.WriteFile(filepath.Join(artifacts(t), name), png, 0o644)
		}
	}
	open := func(hash string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			js(`document.body.dataset.ready = ''; location.hash = '` + hash + `'`),
			chromedp.WaitVisible(`body[data-ready]:not([data-ready=""])`),
		}
	}
	// Sign in as Milano's observatory: the dashboard opens on its province.
	err = chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/accesso"),
		chromedp.SendKeys("#token", observatory),
		chromedp.Click(`button[type="submit"]`),
		chromedp.WaitVisible(`body[data-ready]`),
		chromedp.WaitVisible(`#flussi tbody tr`),
		shot("console-cruscotto.png"))
	if err != nil {
		t.Fatalf("sign in and dashboard: %v (%v)", err, problems)
	}
	if selected, err := chromedp.Run(bctx, chromedp.Value("#territorio")); err != nil || selected != "015" {
		t.Errorf("Milano's observatory landed on territory %q (%v), want 015", selected, err)
	}
	m, err := shared.p.Releases.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ hash, territory, table string }{
		{"#/?territorio=015&freq=month", "015", "labour_flows"},
		{"#/?territorio=015&freq=year", "015", "labour_flows_yearly"},
		{"#/?territorio=016&freq=month&confronto=03", "016", "labour_flows"},
	} {
		if err := chromedp.Do(bctx, open(c.hash)...); err != nil {
			t.Fatalf("%s: %v", c.hash, err)
		}
		shown, err := chromedp.Run(bctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#flussi tbody tr')].map(tr =>
			[tr.dataset.period, ...[...tr.querySelectorAll('td[data-field]')].map(td => td.dataset.value)])`))
		if err != nil {
			t.Fatalf("%s: %v", c.hash, err)
		}
		want := flowsFromParquet(t, ctx, m.Version, c.table, c.territory)
		if got := fmt.Sprint(shown); got != fmt.Sprint(want) || len(want) == 0 {
			t.Errorf("%s: the page shows %v, the Parquet table %v", c.hash, shown, want)
		}
	}
	if err := chromedp.Do(bctx, shot("console-confronto.png")); err != nil {
		t.Fatal(err)
	}
	perThousandResidents(t, ctx, bctx, open, m.Version)
	officialRatesShown(t, ctx, bctx, open, m.Version)
	// In English on request: the interface and the release's English labels, the same figures.
	if err := chromedp.Do(bctx, append([]chromedp.Action[chromedp.Void]{js(`localStorage.setItem('osv-lang', 'en')`), chromedp.Reload(),
		chromedp.WaitVisible(`body[data-ready]:not([data-ready=""])`)},
		append(open("#/?territorio=015&freq=month&per=contract_class"), shot("console-english.png"))...)...); err != nil {
		t.Fatal(err)
	}
	english, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`[document.querySelector('h2').textContent, document.querySelector('header nav a').textContent,
		echarts.getInstanceByDom(document.querySelectorAll('.grafico')[2]).getOption().series.map(s => s.name).join('|'), document.documentElement.lang]`))
	if err != nil || len(english) != 4 || english[0] != "Hires, terminations and balance" || english[1] != "Dashboard" ||
		!strings.Contains(english[2], "Fixed-term") || english[3] != "en" {
		t.Errorf("the English interface shows %q (%v)", english, err)
	}
	if err := chromedp.Do(bctx, js(`localStorage.removeItem('osv-lang')`), chromedp.Reload(), chromedp.WaitVisible(`body[data-ready]:not([data-ready=""])`)); err != nil {
		t.Fatal(err)
	}
	// The map: the 12 provinces, each with its year's saldo as the yearly table has it.
	if err := chromedp.Do(bctx, append(open("#/mappa?indicatore=saldo"), shot("console-mappa.png"))...); err != nil {
		t.Fatal(err)
	}
	areas, err := chromedp.Run(bctx, chromedp.Evaluate[int](`echarts.getInstanceByDom(document.getElementById('mappa')).getOption().series[0].data.length`))
	if err != nil || areas != 12 {
		t.Errorf("the map has %d provinces (%v), want 12", areas, err)
	}
	year, _ := chromedp.Run(bctx, chromedp.Value("#anno"))
	mapped, err := chromedp.Run(bctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll('#province tbody tr')].map(tr => [tr.dataset.istat, tr.querySelector('td').dataset.value]))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"012", "015", "108"} {
		want := flowsFromParquet(t, ctx, m.Version, "labour_flows_yearly", code)
		for _, row := range want {
			if row[0] == year && mapped[code] != row[6] {
				t.Errorf("map %s %s: saldo %q, the yearly table %q", code, year, mapped[code], row[6])
			}
		}
	}
	// An engineer sees the sources; the releases page lists every release.
	count := func(sel string) int {
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	steps := append([]chromedp.Action[chromedp.Void]{js(`fetch('/api/session', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({token: '` + engineer + `'})}).then(r => r.status)`)},
		open("#/fonti")...)
	if err := chromedp.Do(bctx, append(steps, shot("console-fonti.png"))...); err != nil {
		t.Fatal(err)
	}
	sources := count("#fonti tbody tr")
	if err := chromedp.Do(bctx, append(open("#/rilasci"), shot("console-rilasci.png"))...); err != nil {
		t.Fatal(err)
	}
	releases := count("#rilasci tbody tr")
	// A release's page: its change log, its files (each downloadable, the bytes the manifest hashes), its
	// deliveries.
	if err := chromedp.Do(bctx, append(open("#/rilasci/"+m.Version), shot("console-rilascio.png"))...); err != nil {
		t.Fatal(err)
	}
	files, deliveries := count("#file tbody tr"), count("#consegne tbody tr")
	if n := count("#rapporti a"); n != 13 {
		t.Errorf("release page: %d territorial reports listed, want 13", n)
	}
	// A report opens in the browser from the release: a page, its charts drawn (the library beside it).
	opened, err := chromedp.Run(bctx, chromedp.Evaluate[string](`fetch(document.querySelector('#rapporti a').getAttribute('href')).then(r => r.headers.get('content-type') + ' ' + r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(opened, "text/html") || !strings.HasSuffix(opened, " 200") {
		t.Errorf("a report from the release page: %q (%v)", opened, err)
	}
	wantFiles := 0
	for _, r := range m.Resources {
		wantFiles += len(r.Files())
	}
	if files != wantFiles || deliveries == 0 || count("#cambiamenti li") == 0 {
		t.Errorf("release page: %d files (manifest %d), %d deliveries, change log %d", files, wantFiles, deliveries, count("#cambiamenti li"))
	}
	// Against the previous release, file by file: what kept its bytes is "invariato".
	if prev, err := shared.p.Releases.Get(ctx, m.Osservatorio.Previous); err == nil {
		had := map[string]bool{}
		for _, r := range prev.Resources {
			for _, f := range r.Files() {
				had[f.Hash] = true
			}
		}
		same := 0
		for _, r := range m.Resources {
			for _, f := range r.Files() {
				if had[f.Hash] {
					same++
				}
			}
		}
		if got := count(`#file td[data-status="invariato"]`); got != same || count("#confronto-file") != 1 {
			t.Errorf("release page: %d files unchanged against %s, the manifests say %d", got, prev.Version, same)
		}
	} else {
		t.Errorf("previous release %q: %v", m.Osservatorio.Previous, err)
	}
	sum, err := chromedp.Run(bctx, chromedp.Evaluate[string](`fetch(document.querySelector('#file tbody a').getAttribute('href')).then(r => r.arrayBuffer()).then(b => crypto.subtle.digest('SHA-256', b)).then(d => [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, '0')).join(''))`, chromedp.EvalAwaitPromise))
	if first := m.Resources[0].Files()[0]; err != nil || "sha256:"+sum != first.Hash {
		t.Errorf("downloaded %s: sha256 %s (%v), the manifest says %s", first.Path, sum, err, first.Hash)
	}
	versions, _ := shared.p.Releases.Versions(ctx)
	if sources == 0 || releases != len(versions) {
		t.Errorf("sources page %d rows, releases page %d rows (%d releases)", sources, releases, len(versions))
	}
	// An engineer traces a figure from the dashboard: the period's cell, recounted from its events.
	if err := chromedp.Do(bctx, open("#/?territorio=015&freq=month")...); err != nil {
		t.Fatal(err)
	}
	trace := func(button string) string {
		traced, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(async () => {
			const out = document.getElementById('origine');
			out.textContent = '';
			document.querySelector('`+button+`').click();
			for (let i = 0; i < 100 && !/"figures"|non disponibile/.test(out.textContent); i++) await new Promise((r) => setTimeout(r, 100));
			return out.textContent;
		})()`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Errorf("tracing %s: %v", button, err)
		}
		return traced
	}
	if traced := trace("#flussi tbody button"); !strings.Contains(traced, `"figures"`) || !strings.Contains(traced, "raw_sha256") {
		t.Errorf("tracing a flows figure from the dashboard: %.300s", traced)
	}
	if traced := trace("#indicatori tbody button"); !strings.Contains(traced, `"figures"`) || !strings.Contains(traced, "raw_position") {
		t.Errorf("tracing an official rate from the dashboard: %.300s", traced)
	}
	// Mantova's report as the release carries it, opened in the browser: its charts drawn by the library
	// stored beside it, under the report's own content policy.
	report := srv.URL + "/api/releases/" + m.Version + "/files/reports/020.html"
	rctx, rcancel := context.WithTimeout(bctx, 30*time.Second)
	defer rcancel()
	if err := chromedp.Do(rctx, chromedp.Navigate(report), chromedp.WaitVisible(`body[data-ready="true"]`), shot("report-bundle.png")); err != nil {
		text, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.documentElement.outerHTML.slice(0, 400)`))
		t.Errorf("the bundled report of 020: %v; the page: %s", err, text)
	} else if n := count("svg"); n < 3 {
		t.Errorf("the bundled report of 020 draws %d charts", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("console errors: %s", strings.Join(problems, "; "))
	}
}

// releaseTable opens a DuckDB on a table of a published release: the SQL FROM expression of its files.
func releaseTable(t *testing.T, ctx context.Context, version, table string) (*warehouse.DB, string) {
	t.Helper()
	from := tableFrom(t, ctx, version, table)
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, from
}

// tableFrom copies the files of a table of a published release here and returns the SQL FROM expression
// that reads them (a flow table is one file per year).
func tableFrom(t *testing.T, ctx context.Context, version, table string) string {
	t.Helper()
	m, err := shared.p.Releases.Get(ctx, version)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := m.Resource(table)
	if !ok {
		t.Fatalf("release %s has no %s", version, table)
	}
	paths, err := shared.p.Releases.LocalCopies(ctx, m, r.Files(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range paths {
		paths[i] = "'" + p + "'"
	}
	return "read_parquet([" + strings.Join(paths, ", ") + "])"
}

// flowsFromParquet computes what the dashboard's table should show from the release's Parquet files.
func flowsFromParquet(t *testing.T, ctx context.Context, version, table, territory string) [][]string {
	db, from := releaseTable(t, ctx, version, table)
	rows, err := db.SQL().QueryContext(ctx, `SELECT period, sum(attivazioni)::VARCHAR, sum(cessazioni)::VARCHAR, sum(proroghe)::VARCHAR,
		sum(trasformazioni_in)::VARCHAR, sum(trasformazioni_out)::VARCHAR, sum(saldo)::VARCHAR
		FROM `+from+` WHERE territory = ? AND sex = 'T' GROUP BY period ORDER BY period`, territory)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		rec := make([]string, 7)
		if err := rows.Scan(&rec[0], &rec[1], &rec[2], &rec[3], &rec[4], &rec[5], &rec[6]); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// reportMatchesTheTables writes Mantova's report of the latest release as HTML and PDF: every yearly
// figure equals the yearly flows table, the last 18 months by contract class equal the monthly table
// summed, and the PDF is a PDF with its pages.
func reportMatchesTheTables(t *testing.T, ctx context.Context) {
	m, err := shared.p.Releases.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dir := artifacts(t)
	page := filepath.Join(dir, "report-020.html")
	if code, out, errs := osv(t, ctx, "report", m.Version, "--territory", "020", "--out", page); code != 0 {
		t.Fatalf("report: exit %d %s%s", code, out, errs)
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	html := string(data)
	rowRE := regexp.MustCompile(`<tr data-period="([^"]+)"><th>[^<]*</th>((?:<td class="num" data-value="-?\d+">[^<]*</td>)+)</tr>`)
	valRE := regexp.MustCompile(`data-value="(-?\d+)"`)
	var years [][]string
	for _, row := range rowRE.FindAllStringSubmatch(html, -1) {
		rec := []string{row[1]}
		for _, v := range valRE.FindAllStringSubmatch(row[2], -1) {
			rec = append(rec, v[1])
		}
		years = append(years, rec)
	}
	if want := flowsFromParquet(t, ctx, m.Version, "labour_flows_yearly", "020"); fmt.Sprint(years) != fmt.Sprint(want) || len(want) == 0 {
		t.Errorf("the report's years %v, the yearly table %v", years, want)
	}
	recent := recentByContract(t, ctx, m.Version, "020")
	section := html[strings.Index(html, `data-by="contract_class"`):]
	section = section[:strings.Index(section, "</table>")]
	for class, attivazioni := range recent {
		if !regexp.MustCompile(fmt.Sprintf(`<tr data-group="%s"><th>[^<]+</th><td class="num" data-value="%d">`, class, attivazioni)).MatchString(section) {
			t.Errorf("the report's last 18 months of %s: want %d attivazioni in\n%s", class, attivazioni, section)
		}
	}
	if !strings.Contains(section, "<th>Tempo determinato</th>") { // the release's label, not the code
		t.Errorf("the report names contract classes by code:\n%s", section)
	}
	bundledReports(t, ctx, m, html)
	pdf := filepath.Join(dir, "report-020.pdf")
	if code, out, errs := osv(t, ctx, "report", m.Version, "--territory", "020", "--format", "pdf", "--out", pdf); code != 0 {
		t.Fatalf("report --format pdf: exit %d %s%s", code, out, errs)
	}
	b, err := os.ReadFile(pdf)
	if err != nil {
		t.Fatal(err)
	}
	pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(b, -1))
	if !bytes.HasPrefix(b, []byte("%PDF-")) || pages < 3 {
		t.Errorf("the PDF: %d bytes, %d pages, starts %q; want a PDF of at least 3 pages", len(b), pages, b[:min(8, len(b))])
	}
	t.Logf("report of Mantova, release %s: %d bytes of HTML, a PDF of %d pages (%d bytes)", m.Version, len(data), pages, len(b))
}

// recentByContract sums the last 18 months of attivazioni by contract class from the monthly table.
func recentByContract(t *testing.T, ctx context.Context, version, territory string) map[string]int64 {
	db, from := releaseTable(t, ctx, version, "labour_flows")
	rows, err := db.SQL().QueryContext(ctx, `WITH months AS (SELECT DISTINCT period FROM `+from+` WHERE territory = ? AND sex = 'T' ORDER BY period DESC LIMIT 18)
		SELECT contract_class, sum(attivazioni) FROM `+from+` WHERE territory = ? AND sex = 'T' AND period IN (SELECT period FROM months) GROUP BY 1`, territory, territory)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			t.Fatal(err)
		}
		out[c] = n
	}
	if len(out) == 0 {
		t.Fatal("no recent flows to compare")
	}
	return out
}

// perThousandResidents opens Mantova's yearly flows per 1,000 residents, compared with Milano: each cell is
// the yearly table's count over the population on 1 January of its year (of the latest published year
// before it, or the first after) as the release's observations have it.
func perThousandResidents(t *testing.T, ctx, bctx context.Context, open func(string) []chromedp.Action[chromedp.Void], version string) {
	t.Helper()
	hash := "#/?territorio=020&freq=year&confronto=015&scala=per1000"
	if err := chromedp.Do(bctx, open(hash)...); err != nil {
		t.Fatalf("%s: %v", hash, err)
	}
	note, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.getElementById('scala-nota').textContent`))
	if err != nil || !strings.Contains(note, "popolazione al 1° gennaio") {
		t.Fatalf("%s: the note says %q (%v)", hash, note, err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#flussi tbody tr')].map(tr =>
		[tr.dataset.period, ...[...tr.querySelectorAll('td[data-field]')].map(td => td.dataset.value)])`))
	if err != nil {
		t.Fatal(err)
	}
	db, from := releaseTable(t, ctx, version, "observations")
	rows, err := db.SQL().QueryContext(ctx, `SELECT period, value * pow(10, unit_mult) FROM `+from+`
		WHERE indicator = 'population' AND territory = '020' AND freq = 'A' AND sex = 'T' AND age = 'TOTAL'
		  AND education = 'TOTAL' AND citizenship = 'TOTAL' AND regexp_full_match(breakdown, '([^=;]+=TOTAL)?(;[^=;]+=TOTAL)*') AND value IS NOT NULL
		QUALIFY row_number() OVER (PARTITION BY period ORDER BY source <> 'istat', source, dataset) = 1 ORDER BY period`)
	if err != nil {
		t.Fatal(err)
	}
	var years []string
	pop := map[string]float64{}
	for rows.Next() {
		var y string
		var v float64
		if err := rows.Scan(&y, &v); err != nil {
			t.Fatal(err)
		}
		years, pop[y] = append(years, y), v
	}
	rows.Close()
	if len(years) == 0 {
		t.Fatal("the release has no population of Mantova")
	}
	residents := func(year string) float64 {
		at := years[0]
		for _, y := range years {
			if y <= year {
				at = y
			}
		}
		return pop[at]
	}
	want := flowsFromParquet(t, ctx, version, "labour_flows_yearly", "020")
	if len(shown) != len(want) {
		t.Fatalf("%s: %d rows shown, %d in the table", hash, len(shown), len(want))
	}
	for i, row := range want {
		for j := 1; j < len(row); j++ {
			count, _ := strconv.ParseFloat(row[j], 64)
			got, err := strconv.ParseFloat(shown[i][j], 64)
			if exp := count * 1000 / residents(row[0]); err != nil || math.Abs(got-exp) > 1e-9*math.Max(1, math.Abs(exp)) {
				t.Errorf("%s %s column %d: shown %s, want %g (%s per %g residents)", hash, row[0], j, shown[i][j], exp, row[j], residents(row[0]))
			}
		}
	}
	t.Logf("Mantova per 1,000 residents: %d years checked against %d years of published population", len(want), len(years))
}

// officialRatesShown opens Mantova's dashboard: its official rates are those of the release's observations,
// each indicator's latest year, at its standard age class, Istat's figure before Eurostat's.
func officialRatesShown(t *testing.T, ctx, bctx context.Context, open func(string) []chromedp.Action[chromedp.Void], version string) {
	t.Helper()
	if err := chromedp.Do(bctx, open("#/?territorio=020&freq=year")...); err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[[][]string](`[...document.querySelectorAll('#indicatori tbody tr')].map(tr =>
		[tr.dataset.indicator, tr.querySelector('[data-year]').dataset.year, tr.querySelector('[data-value]').dataset.value])`))
	if err != nil {
		t.Fatal(err)
	}
	db, from := releaseTable(t, ctx, version, "observations")
	rows, err := db.SQL().QueryContext(ctx, `SELECT indicator, period, (value * pow(10, unit_mult))::VARCHAR FROM `+from+`
		WHERE territory = '020' AND freq = 'A' AND sex = 'T' AND education = 'TOTAL' AND citizenship = 'TOTAL' AND regexp_full_match(breakdown, '([^=;]+=TOTAL)?(;[^=;]+=TOTAL)*')
		  AND value IS NOT NULL AND ((indicator = 'unemployment_rate' AND age = 'Y15-74') OR (indicator = 'employment_rate' AND age = 'Y15-64')
		  OR (indicator = 'activity_rate' AND age = 'Y15-64'))
		QUALIFY row_number() OVER (PARTITION BY indicator ORDER BY period DESC, source <> 'istat', source, dataset) = 1
		ORDER BY indicator`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	want := map[string][2]string{}
	for rows.Next() {
		var ind, year, value string
		if err := rows.Scan(&ind, &year, &value); err != nil {
			t.Fatal(err)
		}
		want[ind] = [2]string{year, value}
	}
	if len(want) == 0 || len(shown) != len(want) {
		t.Fatalf("the dashboard shows %v, the release has %v", shown, want)
	}
	for _, row := range shown {
		w := want[row[0]]
		got, _ := strconv.ParseFloat(row[2], 64)
		exp, _ := strconv.ParseFloat(w[1], 64)
		if row[1] != w[0] || math.Abs(got-exp) > 1e-9 {
			t.Errorf("%s: shown %s in %s, the release %s in %s", row[0], row[2], row[1], w[1], w[0])
		}
	}
	t.Logf("Mantova's official rates shown as published: %v", shown)
}

// bundledReports checks the reports the release carries: one per territory and an index, signed with it
// (release.Verify), and Mantova's the very page `osservatorio report` writes, but for the chart library,
// loaded from beside it instead of inlined.
func bundledReports(t *testing.T, ctx context.Context, m *release.Manifest, cli string) {
	t.Helper()
	r, ok := m.Resource(release.ReportsResource)
	if !ok {
		t.Fatalf("release %s has no reports", m.Version)
	}
	pages := 0
	for _, f := range r.Files() {
		if strings.HasSuffix(f.Path, ".html") && f.Path != "reports/index.html" {
			pages++
		}
	}
	if pages != 13 {
		t.Errorf("release %s carries %d territorial reports, want 13 (12 provinces and the region)", m.Version, pages)
	}
	bundled := getObject(t, ctx, fileKey(t, ctx, m.Version, "reports/020.html"))
	// The CLI's page inlines the library in its first script element.
	start := strings.Index(cli, "<script>")
	end := start + strings.Index(cli[start:], "</script>") + len("</script>")
	if start < 0 || end-start < 100000 {
		t.Fatalf("the CLI's report does not inline the chart library")
	}
	if want := cli[:start] + `<script src="echarts-6.1.0.min.js"></script>` + cli[end:]; bundled != want {
		t.Errorf("the bundled report of 020 (%d bytes) differs from osservatorio report's (%d bytes, library aside)", len(bundled), len(want))
	}
	for _, c := range release.Verify(ctx, shared.p.Bucket, release.Prefix(m.Version), m) {
		if !c.OK {
			t.Errorf("%+v", c)
		}
	}
}

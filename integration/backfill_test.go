package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/lineage"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

const (
	backfillSource = "istat"
	backfilled     = "disoccupazione_province"
	backfilledFlow = "151_914_DF_DCCV_TAXDISOCCU1_8"
	rowsPerYear    = 36 // the configured filters keep 36 series of the recording, one value a year
)

// backfillHistory: the dataset is configured from 2021; a backfill of 2018–2020 fetches each year as its
// own raw object (the mirror answers each request with the recorded years it asks for, with esploradati's
// off-by-one endPeriod), the release holds every year once, lineage leads a 2019 figure to its year's raw
// object and request, a second run fetches nothing, an overlapping range does not duplicate what the
// latest fetch holds, and a refresh keeps the history.
func backfillHistory(t *testing.T, ctx context.Context) {
	st, ok, err := shared.p.Lake.State(ctx, backfillSource, backfilled)
	if err != nil || !ok || st.Rows != 4*rowsPerYear || st.FirstPeriod != "2021" {
		t.Fatalf("state before: %d rows from %s, %v %v; want 2021–2024", st.Rows, st.FirstPeriod, ok, err)
	}
	asked := istatByPeriod(t, st.URL)
	prev := latestVersion(t)

	res := backfillCLI(t, ctx, "--from", "2018", "--to", "2020")
	if len(res.Datasets) != 1 || len(res.Datasets[0].Chunks) != 3 || res.Release == nil || res.Release.Skipped {
		t.Fatalf("backfill = %+v", res)
	}
	raws := map[string]string{} // year → raw key
	for _, c := range res.Datasets[0].Chunks {
		year := c.Period.From
		want := fmt.Sprintf("endPeriod=%d&startPeriod=%s", mustAtoi(t, year)-1, year)
		if c.State != "done" || !c.Added || c.Rows != rowsPerYear || !strings.HasSuffix(c.URL, want) || c.Requests != 1 {
			t.Errorf("chunk %s = %+v; want %d rows from …?%s in one request", year, c, rowsPerYear, want)
		}
		raws[year] = c.RawKey
	}
	if len(raws) != 3 || raws["2018"] == raws["2019"] {
		t.Errorf("raw objects %v: want one per year", raws)
	}
	version := res.Release.Version
	if version == prev {
		t.Fatalf("no new release after %s", prev)
	}
	obs := releasedYears(t, ctx, version)
	for y := 2018; y <= 2024; y++ {
		if obs[strconv.Itoa(y)] != rowsPerYear {
			t.Errorf("release %s: %d observations in %d, want %d (by year: %v)", version, obs[strconv.Itoa(y)], y, rowsPerYear, obs)
		}
	}
	if obs["dup"] != 0 {
		t.Errorf("release %s: %d observations twice", version, obs["dup"])
	}
	traceBackfilled(t, ctx, version, raws["2019"])
	replayRuns(t, ctx, backfillRuns)

	// Again: the history holds every year, nothing is asked of the source, no release.
	n := asked.Load()
	code, out, errs := osv(t, ctx, "backfill", backfillSource, "--from", "2018", "--to", "2020", "--wait")
	if code != 0 || strings.Count(out, " held ") != 3 || !strings.Contains(out, "no release: the history did not change") || asked.Load() != n {
		t.Errorf("second backfill: exit %d, %d requests\n%s%s", code, asked.Load()-n, out, errs)
	}

	// 2020–2021 with 2020 held: 2021 is fetched, but the latest fetch's 2021 stays the published one.
	over := backfillCLI(t, ctx, "--from", "2020", "--to", "2021")
	if c := over.Datasets[0].Chunks; len(c) != 1 || c[0].Period.From != "2021" || len(over.Datasets[0].Held) != 1 {
		t.Fatalf("overlapping backfill = %+v", over.Datasets)
	}
	if over.Release != nil && !over.Release.Skipped {
		obs := releasedYears(t, ctx, over.Release.Version)
		if obs["2021"] != rowsPerYear || obs["dup"] != 0 || obs["2021 from history"] != 0 {
			t.Errorf("release %s after an overlapping backfill: %v", over.Release.Version, obs)
		}
	}

	// A refresh accepting the dataset anew keeps its history.
	if err := shared.p.Lake.UpdateState(ctx, backfillSource, backfilled, func(s *lake.State, _ bool) error {
		s.SnapshotKey = strings.Replace(s.SnapshotKey, fmt.Sprintf("-h%d.", lake.HarmonizerVersion), "-h1.", 1)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r, err := refreshSource(t, backfillSource); err != nil || !report(t, r, backfilled).Changed {
		t.Fatalf("refresh: %+v, %v", r, err)
	}
	if after, _, _ := shared.p.Lake.State(ctx, backfillSource, backfilled); len(after.History) != 4 {
		t.Errorf("history after a refresh: %+v, want the 4 years backfilled", after.History)
	}
	if code, out, errs := osv(t, ctx, "verify", latestVersion(t)); code != 0 {
		t.Errorf("verify: exit %d %s%s", code, out, errs)
	}
	backfillEvents(t, ctx)
}

// backfillEvents: a CO dataset's range of dates is taken again through Socrata's date window on `data`,
// year by year, on top of its accepted rows less those dates (a new base each): the source holds the rows
// accepted, so every flow table of the release that follows has the bytes of the one before, and no event
// counts twice. A row updated at the source since the last refresh makes the backfill refuse to run.
func backfillEvents(t *testing.T, ctx context.Context) {
	before, _, err := shared.p.Lake.State(ctx, "lombardia", "cessati")
	if err != nil {
		t.Fatal(err)
	}
	prev := latestVersion(t)
	// The source as the dataset was last accepted (its recording and the 300 rows appended since).
	sodaOverride(t, "nwz3-p6vm", 1764000100, cessatiWithCopies(t))
	code, out, errs := osv(t, ctx, "--json", "backfill", "lombardia", "--dataset", "cessati", "--from", "2018", "--to", "2019", "--wait")
	var doc struct {
		Result workflows.BackfillResult `json:"result"`
	}
	if err := fromCLI(out, &doc); err != nil || code != 0 {
		t.Fatalf("backfill lombardia: exit %d, %v\n%s%s", code, err, out, errs)
	}
	res := doc.Result
	if len(res.Datasets) != 1 || len(res.Datasets[0].Chunks) != 2 || res.Release == nil || res.Release.Skipped {
		t.Fatalf("backfill = %+v", res)
	}
	for i, c := range res.Datasets[0].Chunks {
		year := 2018 + i
		where := fmt.Sprintf("data >= '%d-01-01T00:00:00.000' AND data < '%d-01-01T00:00:00.000'", year, year+1)
		if c.State != "done" || !c.Added || c.Rows != before.Rows || !strings.Contains(c.Detail, "taken again") {
			t.Errorf("chunk %d = %+v; want the dataset's %d rows, the year's taken again", year, c, before.Rows)
		}
		side := sidecarOf(t, ctx, c.RawKey)
		if side.Period != fmt.Sprintf("%d/%d", year, year) || len(side.Replaces) == 0 || !strings.Contains(side.URL, url.QueryEscape(where)) {
			t.Errorf("sidecar of %d: period %q, replaces %v, url %s", year, side.Period, side.Replaces, side.URL)
		}
	}
	after, _, _ := shared.p.Lake.State(ctx, "lombardia", "cessati")
	if after.Rows != before.Rows || len(after.Segments) != 1 || after.RawKey != res.Datasets[0].Chunks[1].RawKey || after.Cursor.Watermark != before.Cursor.Watermark {
		t.Errorf("state after: %d rows in %d segments, raw %s, watermark %s; before %d rows, watermark %s",
			after.Rows, len(after.Segments), after.RawKey, after.Cursor.Watermark, before.Rows, before.Cursor.Watermark)
	}
	old, err := shared.p.Releases.Get(ctx, prev)
	if err != nil {
		t.Fatal(err)
	}
	m, err := shared.p.Releases.Get(ctx, res.Release.Version)
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"labour_flows", "labour_flows_yearly", "labour_balances"} {
		a, _ := old.Resource(table)
		b, _ := m.Resource(table)
		if len(a.Files()) == 0 || fmt.Sprint(a.Files()) != fmt.Sprint(b.Files()) {
			t.Errorf("%s changed after taking the same rows again:\n%v\n%v", table, a.Files(), b.Files())
		}
	}
	if a, _ := old.Resource("labour_events"); func() int64 {
		b, _ := m.Resource("labour_events")
		return rowsOf(b) - rowsOf(a)
	}() != 0 {
		t.Errorf("labour_events rows changed from %s to %s", prev, res.Release.Version)
	}
	// A row the region rewrote since the last refresh: the backfill says so and changes nothing.
	table := cessatiWithCopies(t) + "row-nwz3-late,2025-10-31T09:00:00.000Z,2026-02-01T08:00:00.000Z,2018-05-02T00:00:00.000,F,34,Commercio,LICENZA MEDIA,LAVORO A TEMPO DETERMINATO,TEMPO PIENO,MILANO,ITALIA\n"
	sodaOverride(t, "nwz3-p6vm", 1764000200, table)
	code, out, errs = osv(t, ctx, "backfill", "lombardia", "--dataset", "cessati", "--from", "2018", "--to", "2018", "--wait")
	if still, _, _ := shared.p.Lake.State(ctx, "lombardia", "cessati"); code != 2 || !strings.Contains(out+errs, "1 rows were updated at the source since the last download") || still.RawKey != after.RawKey {
		t.Errorf("backfill with a row updated since: exit %d, state %s\n%s%s", code, still.RawKey, out, errs)
	}
}

func rowsOf(r interface{ Files() []release.Part }) int64 {
	var n int64
	for _, p := range r.Files() {
		n += p.Rows
	}
	return n
}

func sidecarOf(t *testing.T, ctx context.Context, rawKey string) lake.Sidecar {
	t.Helper()
	var side lake.Sidecar
	if err := shared.p.Bucket.GetJSON(ctx, lake.SidecarKey(rawKey), &side); err != nil {
		t.Fatal(err)
	}
	return side
}

// backfillCLI runs `osservatorio --json backfill istat --dataset … ARGS --wait` and returns its result.
func backfillCLI(t *testing.T, ctx context.Context, args ...string) workflows.BackfillResult {
	t.Helper()
	args = append([]string{"--json", "backfill", backfillSource, "--dataset", backfilled, "--wait"}, args...)
	code, out, errs := osv(t, ctx, args...)
	var doc struct {
		Result workflows.BackfillResult `json:"result"`
		Error  string                   `json:"error"`
	}
	if err := fromCLI(out, &doc); err != nil || code != 0 {
		t.Fatalf("backfill: exit %d, %v\n%s%s", code, err, out, errs)
	}
	return doc.Result
}

// releasedYears counts the dataset's observations by period in a release, with "dup" the keys found more
// than once and "<year> from history" the rows of a year taken from a raw object other than the state's.
func releasedYears(t *testing.T, ctx context.Context, version string) map[string]int {
	t.Helper()
	db, from := releaseTable(t, ctx, version, "observations")
	st, _, _ := shared.p.Lake.State(ctx, backfillSource, backfilled)
	rows, err := db.SQL().QueryContext(ctx, fmt.Sprintf(`SELECT period, count(*), count(*) FILTER (raw_sha256 <> '%s'),
		count(*) - count(DISTINCT (indicator, breakdown, unit, territory, sex, age, education, sector, citizenship))
		FROM %s WHERE dataset = '%s' GROUP BY period`, st.RawSHA256, from, backfilled))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var p string
		var n, history, dup int
		if err := rows.Scan(&p, &n, &history, &dup); err != nil {
			t.Fatal(err)
		}
		out[p], out[p+" from history"] = n, history
		out["dup"] += dup
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// traceBackfilled follows a 2019 observation to the raw object of the 2019 range and its request.
func traceBackfilled(t *testing.T, ctx context.Context, version, rawKey string) {
	t.Helper()
	code, out, errs := osv(t, ctx, "lineage", version, "observations", "--where", "dataset = '"+backfilled+"' AND period = '2019'", "--limit", "1", "--json")
	var ans lineage.Answer
	if code != 0 || fromCLI(out, &ans) != nil || len(ans.Figures) != 1 || ans.Figures[0].Raw == nil {
		t.Fatalf("lineage: exit %d %s%s", code, out, errs)
	}
	r := ans.Figures[0].Raw
	if r.Key != rawKey || r.Sidecar == nil || r.Sidecar.Period != "2019/2019" || !strings.Contains(r.Sidecar.URL, "startPeriod=2019") ||
		!strings.Contains(r.Harmonized, "backfill-istat-") || !strings.Contains(r.SnapshotKey, "observations-") {
		t.Errorf("lineage of a 2019 figure: %+v (sidecar %+v), want raw %s", r, r.Sidecar, rawKey)
	}
	body := getObject(t, ctx, r.Key)
	if !strings.Contains(body, `<generic:ObsDimension value="2019"/>`) || strings.Contains(body, `value="2020"/>`) {
		t.Errorf("raw object %s does not hold 2019 alone", r.Key)
	}
}

var obsRE = regexp.MustCompile(`<generic:Obs><generic:ObsDimension value="(\d{4})"/>.*?</generic:Obs>`)

// istatByPeriod makes the mirror answer the dataset's data URL as esploradati does: only the recorded
// years from startPeriod to endPeriod plus one (its off-by-one), the rest of the document as recorded.
// It returns a count of the requests.
func istatByPeriod(t *testing.T, dataURL string) *atomic.Int64 {
	t.Helper()
	u, err := url.Parse(dataURL)
	if err != nil {
		t.Fatal(err)
	}
	var asked atomic.Int64
	shared.sources.override(t, u.Path, func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		rec := httptest.NewRecorder()
		shared.sources.base.ServeHTTP(rec, r)
		q := r.URL.Query()
		from, to := 0, 9999
		if s := q.Get("startPeriod"); s != "" {
			from, _ = strconv.Atoi(s[:4])
		}
		if e := q.Get("endPeriod"); e != "" {
			to, _ = strconv.Atoi(e[:4])
			to++
		}
		body := obsRE.ReplaceAllStringFunc(rec.Body.String(), func(o string) string {
			y, _ := strconv.Atoi(obsRE.FindStringSubmatch(o)[1])
			if y < from || y > to {
				return ""
			}
			return o
		})
		for k, v := range rec.Header() {
			if k != "Content-Length" && k != "Etag" && k != "Last-Modified" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		io.WriteString(w, body)
	})
	return &asked
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

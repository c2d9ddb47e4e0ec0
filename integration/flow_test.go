package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors/inail"
	"github.com/osservatorio-lombardia/osservatorio/mirror"

	"go.yaml.in/yaml/v3"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/api"
	"github.com/osservatorio-lombardia/osservatorio/cli"
	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/identity"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
	reports "github.com/osservatorio-lombardia/osservatorio/report"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
	"github.com/osservatorio-lombardia/osservatorio/worker"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

const (
	unemployment = "lfst_r_lfu3rt"
	employment   = "lfst_r_lfe2emprt"
	population   = "demo_r_pjangrp3"
)

func refresh(t *testing.T) (workflows.RefreshResult, error) {
	t.Helper()
	return refreshSource(t, "eurostat")
}

func refreshSource(t *testing.T, source string) (workflows.RefreshResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := shared.p.StartRefresh(ctx, source, platform.RefreshOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return platform.WaitRefresh(ctx, run)
}

func report(t *testing.T, res workflows.RefreshResult, dataset string) workflows.DatasetReport {
	t.Helper()
	for _, d := range res.Datasets {
		if d.Dataset == dataset {
			return d
		}
	}
	t.Fatalf("no report for %s in %+v", dataset, res.Datasets)
	return workflows.DatasetReport{}
}

func versions(t *testing.T) []string {
	t.Helper()
	vs, err := shared.p.Releases.Versions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func countKeys(t *testing.T, prefix string) int {
	t.Helper()
	infos, err := shared.p.Bucket.List(context.Background(), prefix, true)
	if err != nil {
		t.Fatal(err)
	}
	return len(infos)
}

// TestEndToEnd runs the whole flow in order; each step builds on the state the previous one left.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	steps := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"first refresh publishes and delivers 1.0.0", func(t *testing.T) {
			res, err := refresh(t)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range res.Datasets {
				if !d.Changed || d.Rows == 0 || d.Bytes == 0 || !strings.HasPrefix(d.RawKey, "raw/eurostat/"+d.Dataset+"/") {
					t.Errorf("report %+v: want changed with rows, bytes and a raw key", d)
				}
			}
			if res.Release == nil || res.Release.Version != "1.0.0" {
				t.Fatalf("release = %+v, want 1.0.0", res.Release)
			}
			delivered, pending, failed := 0, 0, 0
			for _, d := range res.Release.Deliveries {
				switch {
				case d.Status == release.Delivered && d.Observatory == "milano" && d.Mode == "push":
					delivered++
				case d.Status == release.Pending && d.Mode == "pull" && (d.Bundle == "releases/1.0.0/" || d.Bundle == "slices/sondrio/1.0.0/" && d.Observatory == "sondrio"):
					pending++
				case d.Observatory == "broken" && d.Status == release.Failed:
					failed++
				default:
					t.Errorf("delivery %+v", d)
				}
			}
			if delivered != 1 || pending != 12 || failed != 1 {
				t.Errorf("pushed %d, ready to pull %d, failed %d; want Milano pushed, 12 to pull and the broken one failed", delivered, pending, failed)
			}
			ledger, err := shared.p.Releases.Deliveries(ctx, "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			if len(ledger) != 14 {
				t.Errorf("ledger has %d entries, want 14", len(ledger))
			}
			for _, d := range ledger {
				if d.Observatory == "broken" && (d.Status != release.Failed || d.Attempts != 2 || !strings.Contains(d.Error, "obs-does-not-exist")) {
					t.Errorf("ledger entry of the broken observatory = %+v", d)
				}
			}
		}},
		{"the release verifies, here and at the observatory", func(t *testing.T) {
			m, err := shared.p.Releases.Get(ctx, "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range release.Verify(ctx, shared.p.Bucket, release.Prefix("1.0.0"), m) {
				if !c.OK {
					t.Errorf("published %+v", c)
				}
			}
			obs := shared.p.Store.Bucket("obs-milano")
			for _, c := range release.Verify(ctx, obs, "releases/1.0.0/", m) {
				if !c.OK {
					t.Errorf("delivered %+v", c)
				}
			}
			if sig, err := release.VerifySignature(ctx, shared.p.Bucket, release.Prefix("1.0.0")); err != nil || sig.KeyID == "" {
				t.Errorf("signature of 1.0.0: %+v, %v", sig, err)
			}
			if len(m.Sources) != 4 || m.Schema != release.ProfileURL || m.Version != "1.0.0" {
				t.Errorf("manifest: %d sources, schema %q, version %q", len(m.Sources), m.Schema, m.Version)
			}
			for _, s := range m.Sources {
				if !strings.Contains(s.Path, "/statistics/1.0/data/"+s.Dataset) || len(s.RawSHA256) != 64 || s.FetchedAt.IsZero() {
					t.Errorf("source %+v lacks its URL, raw sha256 or fetch time", s)
				}
			}
		}},
		{"every row traces back to its raw object and sidecar", func(t *testing.T) {
			m, _ := shared.p.Releases.Get(ctx, "1.0.0")
			dir := t.TempDir()
			local := filepath.Join(dir, "obs.parquet")
			if err := shared.p.Bucket.GetFile(ctx, fileKey(t, ctx, "1.0.0", "data/observations.parquet"), local); err != nil {
				t.Fatal(err)
			}
			db, err := warehouse.Open(ctx, warehouse.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var rows, territories int64
			var milanoNUTS string
			q := fmt.Sprintf(`SELECT count(*), count(DISTINCT territory),
				max(CASE WHEN territory = '015' THEN territory_nuts END) FROM read_parquet('%s')`, local)
			if err := db.SQL().QueryRowContext(ctx, q).Scan(&rows, &territories, &milanoNUTS); err != nil {
				t.Fatal(err)
			}
			want, _ := m.Resource("observations")
			if rows != want.Rows || territories != 13 || milanoNUTS != "ITC4C" {
				t.Errorf("rows %d (manifest %d), territories %d, Milano NUTS %q", rows, want.Rows, territories, milanoNUTS)
			}
			var sha string
			var pos int64
			q = fmt.Sprintf(`SELECT raw_sha256, raw_position FROM read_parquet('%s') WHERE dataset = '%s' AND territory = '108'
				AND period = '2020' AND sex = 'T' AND age = 'TOTAL'`, local, population)
			if err := db.SQL().QueryRowContext(ctx, q).Scan(&sha, &pos); err != nil {
				t.Fatal(err)
			}
			var side lake.Sidecar
			if err := shared.p.Bucket.GetJSON(ctx, lake.SidecarKey(lake.RawKey("eurostat", population, sha, "json")), &side); err != nil {
				t.Fatalf("sidecar of the raw object of a published row: %v", err)
			}
			if side.SHA256 != sha || side.Status != http.StatusOK || !strings.Contains(side.URL, population) || side.Bytes == 0 {
				t.Errorf("sidecar = %+v", side)
			}
		}},
		{"an unchanged source costs one request per dataset and makes nothing", func(t *testing.T) {
			raw, harmonized := countKeys(t, "raw/"), countKeys(t, "harmonized/")
			before := shared.sources.requests.Load()
			res, err := refresh(t)
			if err != nil {
				t.Fatal(err)
			}
			if got := shared.sources.requests.Load() - before; got != 4 {
				t.Errorf("requests = %d, want 4 (one change check per dataset)", got)
			}
			for _, d := range res.Datasets {
				if d.Changed || d.Requests != 1 {
					t.Errorf("report %+v: want unchanged after one request", d)
				}
			}
			if res.Release != nil {
				t.Errorf("release = %+v, want none", res.Release)
			}
			if r, h := countKeys(t, "raw/"), countKeys(t, "harmonized/"); r != raw || h != harmonized {
				t.Errorf("raw objects %d→%d, snapshots %d→%d: want none new", raw, r, harmonized, h)
			}
			if vs := versions(t); len(vs) != 1 {
				t.Errorf("versions = %v", vs)
			}
		}},
		{"a revision makes a patch release with only that dataset changed", func(t *testing.T) {
			doc := reviseFirst(t, recorded(t, unemployment))
			shared.sources.set("/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFU3RT/latest", serve("application/xml", dataflow(unemployment, "2025-10-24T23:00:00+0200")))
			shared.sources.set("/eurostat/statistics/1.0/data/"+unemployment, serve("application/json", doc))
			res, err := refresh(t)
			if err != nil {
				t.Fatal(err)
			}
			if !report(t, res, unemployment).Changed || report(t, res, employment).Changed {
				t.Errorf("reports %+v", res.Datasets)
			}
			if res.Release == nil || res.Release.Version != "1.0.1" {
				t.Fatalf("release = %+v, want 1.0.1 (a revision)", res.Release)
			}
			m, _ := shared.p.Releases.Get(ctx, "1.0.1")
			if got := m.Osservatorio.Changes.UpdatedDatasets; len(got) != 1 || got[0] != "eurostat/"+unemployment {
				t.Errorf("updated datasets = %v", got)
			}
			// The change log names the one revised figure, its old and new value, in JSON and in Italian.
			var log release.ChangeLog
			if err := shared.p.Bucket.GetJSON(ctx, fileKey(t, ctx, "1.0.1", release.ChangesJSON), &log); err != nil {
				t.Fatal(err)
			}
			if len(log.Revised) != 1 || log.Revised[0].Table != "observations" || log.Revised[0].Count != 1 ||
				log.Revised[0].Sample[0].New != "99.9" || log.Revised[0].Sample[0].Old == "" || log.Bump != "patch" || len(log.NewPeriods) != 0 {
				t.Errorf("changes.json = %+v", log)
			}
			rc, err := shared.p.Bucket.Get(ctx, fileKey(t, ctx, "1.0.1", release.ChangesMD))
			if err != nil {
				t.Fatal(err)
			}
			md, _ := io.ReadAll(rc)
			rc.Close()
			if !strings.Contains(string(md), "1 valori rivisti") || !strings.Contains(string(md), "| 99.9 |") {
				t.Errorf("CHANGES.md:\n%s", md)
			}
			onlyChangedFilesStored(t, ctx, "1.0.0", "1.0.1")
		}},
		{"an HTML page instead of data is rejected, kept, and changes nothing published", func(t *testing.T) {
			before, _, _ := shared.p.Lake.State(ctx, "eurostat", employment)
			shared.sources.override(t, "/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFE2EMPRT/latest", serve("application/xml", dataflow(employment, "2025-11-01T11:00:00+0100")))
			shared.sources.override(t, "/eurostat/statistics/1.0/data/"+employment, serve("text/html", "<!DOCTYPE html><html><body><h1>Service temporarily unavailable</h1></body></html>"))
			res, err := refresh(t)
			assertBadInput(t, res, err, employment, "HTML page")
			r := report(t, res, employment)
			var side lake.Sidecar
			if err := shared.p.Bucket.GetJSON(ctx, lake.SidecarKey(r.RawKey), &side); err != nil {
				t.Fatalf("the rejected bytes were not kept: %v", err)
			}
			if side.Rejected == "" {
				t.Errorf("sidecar %+v does not say why it was rejected", side)
			}
			after, _, _ := shared.p.Lake.State(ctx, "eurostat", employment)
			if after.RawSHA256 != before.RawSHA256 {
				t.Errorf("accepted snapshot moved from %s to %s", before.RawSHA256, after.RawSHA256)
			}
			if vs := versions(t); vs[len(vs)-1] != "1.0.1" {
				t.Errorf("versions = %v, want 1.0.1 still the latest", vs)
			}
		}},
		{"a truncated download is rejected", func(t *testing.T) {
			shared.sources.override(t, "/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFE2EMPRT/latest", serve("application/xml", dataflow(employment, "2025-11-02T11:00:00+0100")))
			body := recorded(t, employment)
			shared.sources.override(t, "/eurostat/statistics/1.0/data/"+employment, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", fmt.Sprint(len(body)))
				w.Write([]byte(body[:len(body)/2])) // the server closes the connection short of Content-Length
			})
			res, err := refresh(t)
			assertBadInput(t, res, err, employment, "truncated body")
		}},
		{"a 2 GB answer where kilobytes were expected stops at the size limit", func(t *testing.T) {
			shared.sources.override(t, "/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFE2EMPRT/latest", serve("application/xml", dataflow(employment, "2025-11-02T12:00:00+0100")))
			var sent atomic.Int64
			shared.sources.override(t, "/eurostat/statistics/1.0/data/"+employment, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", fmt.Sprint(int64(2)<<30))
				chunk := bytes.Repeat([]byte(" "), 1<<20)
				for sent.Load() < 2<<30 {
					if _, err := w.Write(chunk); err != nil {
						return // the client hung up at its limit
					}
					sent.Add(int64(len(chunk)))
				}
			})
			res, err := refresh(t)
			assertBadInput(t, res, err, employment, "larger than the limit")
			if got := sent.Load(); got > 256<<20 {
				t.Errorf("the server sent %d MB before the client stopped reading", got>>20)
			}
		}},
		{"malformed JSON-stat is rejected", func(t *testing.T) {
			shared.sources.override(t, "/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFE2EMPRT/latest", serve("application/xml", dataflow(employment, "2025-11-03T11:00:00+0100")))
			body := recorded(t, employment)
			shared.sources.override(t, "/eurostat/statistics/1.0/data/"+employment, serve("application/json", body[:len(body)-40]))
			res, err := refresh(t)
			assertBadInput(t, res, err, employment, "malformed JSON-stat")
		}},
		{"an unknown territory code is rejected", func(t *testing.T) {
			shared.sources.override(t, "/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFE2EMPRT/latest", serve("application/xml", dataflow(employment, "2025-11-04T11:00:00+0100")))
			body := strings.ReplaceAll(recorded(t, employment), `"ITC4"`, `"ITC11"`)
			shared.sources.override(t, "/eurostat/statistics/1.0/data/"+employment, serve("application/json", body))
			res, err := refresh(t)
			assertBadInput(t, res, err, employment, "unknown territory code(s) ITC11")
		}},
		{"CO exports become labour events and flows in a minor release", func(t *testing.T) {
			// The second page of attivati fails three times in a row (past the in-attempt retries): the next
			// attempt of the fetch resumes after the first page, from its heartbeat, without asking for it again.
			var mu sync.Mutex
			var offsets []string
			failures := 0
			page := mirror.New(mirror.Recorded())
			shared.sources.override(t, "/lombardia/resource/qbau-cyuc.csv", func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				off := r.URL.Query().Get("$offset")
				offsets = append(offsets, off)
				fail := off == "1000" && failures < 3
				if fail {
					failures++
				}
				mu.Unlock()
				if fail {
					http.Error(w, "upstream timeout", http.StatusGatewayTimeout)
					return
				}
				page.ServeHTTP(w, r)
			})
			res, err := refreshSource(t, "lombardia")
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			if got := strings.Join(offsets, ","); got != "0,1000,1000,1000,1000,2000" {
				t.Errorf("pages asked: %s, want 0 once, 1000 three times failing and once more, then 2000", got)
			}
			mu.Unlock()
			for _, d := range res.Datasets {
				if !d.Changed || d.Rows == 0 || !strings.HasSuffix(d.RawKey, ".csv") {
					t.Errorf("report %+v", d)
				}
			}
			if res.Release == nil || res.Release.Version != "1.1.0" {
				t.Fatalf("release = %+v, want 1.1.0 (new datasets)", res.Release)
			}
			m, err := shared.p.Releases.Get(ctx, "1.1.0")
			if err != nil {
				t.Fatal(err)
			}
			ev, ok := m.Resource("labour_events")
			if !ok || len(ev.Parts) != 4 || ev.Rows != 3000+2400+700+400 {
				t.Fatalf("labour_events = %+v, want 4 parts and 6500 rows", ev)
			}
			st, _, _ := shared.p.Lake.State(ctx, "lombardia", "attivati")
			var side lake.Sidecar
			if err := shared.p.Bucket.GetJSON(ctx, lake.SidecarKey(st.RawKey), &side); err != nil || side.Requests != 4 || st.Cursor == nil ||
				st.Cursor.Watermark != "2025-10-31T09:00:00.000Z" || st.Cursor.Rows != 3000 {
				t.Errorf("attivati: sidecar %+v (%v), cursor %+v", side, err, st.Cursor)
			}
			if left, _ := shared.p.Bucket.List(ctx, "work/", true); len(left) != 0 {
				t.Errorf("work objects left behind: %d", len(left))
			}
			for _, name := range []string{"observations", "labour_flows", "labour_flows_quarterly", "labour_flows_yearly", "labour_balances", "territories"} {
				if r, ok := m.Resource(name); !ok || r.Rows == 0 {
					t.Errorf("resource %s missing or empty", name)
				}
			}
			for _, c := range release.Verify(ctx, shared.p.Bucket, release.Prefix("1.1.0"), m) {
				if !c.OK {
					t.Errorf("%+v", c)
				}
			}
			rep, err := shared.p.Releases.Checks(ctx, "1.1.0")
			if err != nil {
				t.Fatal(err)
			}
			if rep.Ran < 20 || rep.Errors != 0 {
				t.Errorf("checks: %d ran, %d errors", rep.Ran, rep.Errors)
			}
			var er activities.EventsReport
			if err := shared.p.Bucket.GetJSON(ctx, st.ReportKey, &er); err != nil || er.Events != 3000 || len(er.Checks) == 0 || er.Flags == nil {
				t.Errorf("harmonization report %s: %v, %d events, %d checks", st.ReportKey, err, er.Events, len(er.Checks))
			}
			// Harmonized by the worker that fetched it, from its raw cache, which it then emptied.
			if _, ok := er.Timings["read_cache"]; !ok {
				t.Errorf("attivati was not harmonized from the fetching worker's cache: timings %v", er.Timings)
			}
			if left, _ := os.ReadDir(filepath.Join(shared.state, "raw-cache")); len(left) != 0 {
				t.Errorf("raw cache holds %d files after harmonizing", len(left))
			}
		}},
		{"published flows add up", func(t *testing.T) {
			db, err := warehouse.Open(ctx, warehouse.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			get := func(name string) string { return tableFrom(t, ctx, "1.1.0", name) }
			flows, yearly, balances := get("labour_flows"), get("labour_flows_yearly"), get("labour_balances")
			var monthly, year, provinces, region int64
			db.SQL().QueryRow("SELECT sum(saldo) FROM " + flows + " WHERE period LIKE '2022-%'").Scan(&monthly)
			db.SQL().QueryRow("SELECT sum(saldo) FROM " + yearly + " WHERE period = '2022'").Scan(&year)
			db.SQL().QueryRow("SELECT sum(saldo) FROM " + balances + " WHERE territory <> '03' AND contract_class <> 'TOTAL'").Scan(&provinces)
			db.SQL().QueryRow("SELECT sum(saldo) FROM " + balances + " WHERE territory = '03' AND contract_class = 'TOTAL'").Scan(&region)
			if monthly != year || monthly == 0 {
				t.Errorf("2022: months sum to %d, the year says %d", monthly, year)
			}
			if provinces != region || region == 0 {
				t.Errorf("provinces × classes sum to %d, the region total says %d", provinces, region)
			}
		}},
		{"a flows cell and an observation traced to their raw rows, whose recount equals the published figure", func(t *testing.T) {
			traceFigures(t, ctx)
		}},
		{"new CO rows failing a quality gate are not accepted", func(t *testing.T) {
			// 200 rows published after the watermark, with a contract nobody knows: an incremental download
			// appends them to the accepted 2,400, and the share of unmapped contracts blocks the dataset.
			var b strings.Builder
			b.WriteString(recordedTable(t, "nwz3-p6vm"))
			for i := 0; i < 200; i++ {
				fmt.Fprintf(&b, "row-zzzz-%07d,2025-11-20T08:00:00.000Z,2025-11-20T08:00:00.000Z,2024-03-15T00:00:00.000,M,30,Alberghi,LICENZA MEDIA,CONTRATTO MAI VISTO,TEMPO PIENO,MILANO,ITALIA\n", i)
			}
			sodaOverride(t, "nwz3-p6vm", 1764000000, b.String())
			res, err := refreshSource(t, "lombardia")
			if err == nil {
				t.Fatal("refresh succeeded")
			}
			r := report(t, res, "cessati")
			if r.ErrorKind != "QualityGateFailed" || !strings.Contains(r.Error, "contract_class=UNMAPPED") {
				t.Errorf("report = %+v", r)
			}
			if r.Requests != 3 || !strings.Contains(r.Reason, "incremental: 200 rows") {
				t.Errorf("want an incremental download in 3 requests (signal, count, one page): %+v", r)
			}
			if vs := versions(t); vs[len(vs)-1] != "1.1.0" {
				t.Errorf("versions = %v, want 1.1.0 still the latest", vs)
			}
		}},
		{"a renamed CO column is rejected as schema drift", func(t *testing.T) {
			table := strings.Replace(recordedTable(t, "nwz3-p6vm"), ",genere,", ",sesso,", 1)
			table = strings.ReplaceAll(table, "2025-10-31T09:00:00.000Z,2025-10-31T09:00:00.000Z", "2025-10-31T09:00:00.000Z,2025-11-21T08:00:00.000Z")
			sodaOverride(t, "nwz3-p6vm", 1764000001, table)
			res, err := refreshSource(t, "lombardia")
			if err == nil {
				t.Fatal("refresh succeeded")
			}
			if r := report(t, res, "cessati"); r.ErrorKind != string(fault.BadInput) || !strings.Contains(r.Error, "GENERE missing") {
				t.Errorf("report = %+v", r)
			}
		}},
		{"a republication with nothing new takes the date window again and publishes nothing", func(t *testing.T) {
			// Every row rewritten (new :updated_at, same content): the rows of the last 92 days are asked
			// for again (none: the recorded events are older), the rest kept; the bytes are those accepted.
			table := strings.ReplaceAll(recordedTable(t, "nwz3-p6vm"), "2025-10-31T09:00:00.000Z,2025-10-31T09:00:00.000Z", "2025-10-31T09:00:00.000Z,2025-11-22T08:00:00.000Z")
			sodaOverride(t, "nwz3-p6vm", 1764000002, table)
			res, err := refreshSource(t, "lombardia")
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, "cessati")
			if r.Changed || r.Requests != 4 || !strings.Contains(r.Reason, "same bytes") || res.Release != nil {
				t.Errorf("report = %+v, release %+v; want unchanged after the signal, two counts and one page", r, res.Release)
			}
			// The new signal and watermark are kept: the next refresh stops at the change check.
			again, err := refreshSource(t, "lombardia")
			if r := report(t, again, "cessati"); err != nil || r.Changed || r.Requests != 1 {
				t.Errorf("next refresh: %+v, %v; want one request", r, err)
			}
		}},
		{"Istat flows through the same path, its request budget held", func(t *testing.T) {
			res, err := refreshSource(t, "istat")
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, "disoccupazione_province")
			if !r.Changed || r.Rows != 144 || !strings.Contains(r.URL, "/data/151_914_DF_DCCV_TAXDISOCCU1_8/A.") || !strings.HasSuffix(r.URL, "?startPeriod=2021") {
				t.Errorf("report = %+v", r)
			}
			if res.Release == nil || res.Release.Version != "1.2.0" {
				t.Fatalf("release = %+v, want 1.2.0", res.Release)
			}
			var log struct {
				Requests []int64 `json:"requests"`
			}
			if err := shared.p.Bucket.GetJSON(ctx, "ratelimit/istat.json", &log); err != nil || len(log.Requests) != 2 {
				t.Errorf("rate-limit log: %v, %d requests recorded, want 2", err, len(log.Requests))
			}
			again, err := refreshSource(t, "istat")
			if err != nil || again.Release != nil || again.Datasets[0].Changed || again.Datasets[0].Requests != 1 {
				t.Errorf("second refresh: %+v, %v; want unchanged after one request", again, err)
			}
		}},
		{"MUR files are found in their CKAN package and harmonized", func(t *testing.T) {
			res, err := refreshSource(t, "mur")
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, "iscritti_residenza")
			if !r.Changed || r.Rows != 216 || !strings.HasSuffix(r.RawKey, ".csv") {
				t.Errorf("report = %+v", r)
			}
			for _, id := range []string{"immatricolati_residenza", "laureati_sede"} {
				if r := report(t, res, id); !r.Changed || r.Rows == 0 {
					t.Errorf("report = %+v", r)
				}
			}
			if res.Release == nil || res.Release.Version != "1.3.0" {
				t.Fatalf("release = %+v, want 1.3.0", res.Release)
			}
		}},
		{"INAIL injuries are counted per province and month", func(t *testing.T) {
			shared.sources.set("/inail/api/OpenData/DatiConCadenzaMensileInfortuni", inailAPI(t, time.Now().AddDate(0, -1, 0).Format("2006-01")))
			res, err := refreshSource(t, "inail")
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, "infortuni_mensili")
			if !r.Changed || r.Rows == 0 || !strings.HasSuffix(r.RawKey, ".zip") {
				t.Errorf("report = %+v", r)
			}
			// The REST API: one call per month of the ~18 it serves; the current month answers
			// 500 "Dati non trovati" and is skipped.
			if a := report(t, res, "infortuni_mensili_api"); !a.Changed || a.Rows == 0 || !strings.HasSuffix(a.RawKey, ".json") ||
				a.Requests != inail.APIWindowMonths || !strings.Contains(a.Reason, "not yet available") {
				t.Errorf("API report = %+v", a)
			}
			if res.Release == nil || res.Release.Version != "1.4.0" {
				t.Fatalf("release = %+v, want 1.4.0", res.Release)
			}
			again, err := refreshSource(t, "inail")
			if err != nil || again.Release != nil || again.Datasets[0].Changed || again.Datasets[1].Changed {
				t.Errorf("second refresh: %+v, %v; want not modified, and the API's same months", again, err)
			}
		}},
		{"INPS observatories are queried by POST, unchanged totals cost one request", func(t *testing.T) {
			res, err := refreshSource(t, "inps")
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, "precariato_assunzioni")
			if !r.Changed || r.Rows != 54 || !strings.HasSuffix(r.RawKey, ".json") || r.Requests != 2 {
				t.Errorf("report = %+v", r)
			}
			if res.Release == nil || res.Release.Version != "1.5.0" {
				t.Fatalf("release = %+v, want 1.5.0", res.Release)
			}
			var side lake.Sidecar
			if err := shared.p.Bucket.GetJSON(ctx, lake.SidecarKey(r.RawKey), &side); err != nil || side.Method != http.MethodPost {
				t.Errorf("sidecar %+v, %v: the raw object must say it was asked by POST", side, err)
			}
			again, err := refreshSource(t, "inps")
			if err != nil || again.Release != nil || again.Datasets[0].Changed || again.Datasets[0].Requests != 1 {
				t.Errorf("second refresh: %+v, %v; want unchanged after one request", again, err)
			}
		}},
		{"the labour ministry's CO table is found in dati.gov.it's catalogue", func(t *testing.T) {
			res, err := refreshSource(t, "mlps")
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, "co_regione_genere")
			if !r.Changed || r.Rows != 32 || !strings.Contains(r.URL, "/mlps/files/SpodCkanApi/") {
				t.Errorf("report = %+v", r)
			}
			if res.Release == nil || res.Release.Version != "1.6.0" {
				t.Fatalf("release = %+v, want 1.6.0", res.Release)
			}
		}},
		{"MIM students are joined to the registry for their province", func(t *testing.T) {
			res, err := refreshSource(t, "mim")
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, "alunni_corso_eta")
			if !r.Changed || r.Rows == 0 || !strings.HasSuffix(r.RawKey, ".zip") || r.Requests != 4 {
				t.Errorf("report = %+v (want 2 pages and 2 files)", r)
			}
			if s := report(t, res, "scuole_statali"); !s.Changed || s.Rows == 0 {
				t.Errorf("report = %+v", s)
			}
			if res.Release == nil || res.Release.Version != "1.7.0" {
				t.Fatalf("release = %+v, want 1.7.0", res.Release)
			}
			again, err := refreshSource(t, "mim")
			if err != nil || again.Release != nil {
				t.Errorf("second refresh: %+v, %v", again, err)
			}
			for _, d := range again.Datasets {
				if d.Changed {
					t.Errorf("%s changed on the second refresh: %+v", d.Dataset, d)
				}
			}
		}},
		{"one release, one common model: every coded column in its code list or flagged, every unit and label", func(t *testing.T) {
			commonModel(t, ctx)
		}},
		{"gc removes only what nothing needs: leftovers go, a running workflow's objects stay, every release still verifies", func(t *testing.T) {
			gcKeepsWhatIsNeeded(t, ctx)
		}},
		{"rebuilding a release from the same raw objects gives the same bytes", func(t *testing.T) {
			m, err := shared.p.Releases.Latest(ctx)
			if err != nil {
				t.Fatal(err)
			}
			states, err := shared.p.Lake.States(ctx)
			if err != nil {
				t.Fatal(err)
			}
			db, err := warehouse.Open(ctx, warehouse.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			plan := release.Plan{Version: m.Version, Previous: m.Osservatorio.Previous, Bump: m.Osservatorio.Bump, InputsDigest: m.Osservatorio.InputsDigest}
			again, err := shared.p.Releases.Build(ctx, states, release.BuildOptions{Name: m.Name, ReleaseID: "rebuild-test", Plan: plan,
				WorkDir: t.TempDir(), DB: db, Credits: worker.Credits(shared.cfg), Reports: reports.Bundle})
			if err != nil {
				t.Fatal(err)
			}
			defer shared.p.Releases.Discard(ctx, "rebuild-test")
			a, _ := release.Encode(m)
			b, _ := release.Encode(again)
			if !bytes.Equal(a, b) {
				t.Errorf("manifests differ:\n%s\n---\n%s", a, b)
			}
			// From the inputs each release recorded: the first one and the latest, after newer ones.
			for _, v := range []string{"1.0.0", m.Version} {
				if code, out, errs := osv(t, ctx, "release", "rebuild", v); code != 0 || !strings.Contains(out, "files identical") {
					t.Errorf("release rebuild %s: exit %d\n%s%s", v, code, out, errs)
				}
			}
			code, out, errs := osv(t, ctx, "release", "diff", "1.0.0", "1.0.1", "--json")
			var diff struct {
				Inputs release.InputsDiff `json:"inputs"`
			}
			if code != 0 || fromCLI(out, &diff) != nil || len(diff.Inputs.Datasets) != 1 || diff.Inputs.Datasets[0] != "eurostat/"+unemployment {
				t.Errorf("release diff 1.0.0 1.0.1: exit %d %s%s; want the revised dataset only", code, out, errs)
			}
			if code, out, _ := osv(t, ctx, "release", "inputs", "1.0.0"); code != 0 || !strings.Contains(out, "sql/observations.sql") {
				t.Errorf("release inputs: exit %d\n%s", code, out)
			}
		}},
		{"an observatory pulls with its own key, verifies, acknowledges; tampering is caught; a revoked key is refused", func(t *testing.T) {
			observatoryPulls(t, ctx)
		}},
		{"Sondrio gets a signed slice of its province, reproducible from the release, and a verified webhook notice", func(t *testing.T) {
			provinceSlice(t, ctx)
		}},
		{"a webhook failing once is retried on schedule; one failing always is disabled, then replayed", func(t *testing.T) {
			webhookRetries(t, ctx)
		}},
		{"after a key rotation new releases carry the new key and old ones still verify", func(t *testing.T) {
			keyRotation(t, ctx)
		}},
		{"an embargoed release is built at once, invisible to observatories until its time, then published", func(t *testing.T) {
			embargoedRelease(t, ctx)
		}},
		{"every job run emitted OpenLineage START and COMPLETE or FAIL, stored and posted, valid RunEvents", func(t *testing.T) {
			openLineageEvents(t, ctx)
		}},
		{"status judges every dataset by our checks and the source's own update; failing checks are alerted, signed", func(t *testing.T) {
			statusJudgesEveryDataset(t, ctx)
		}},
		{"the worker's and the API's /metrics count requests, checks, rows, failed checks, releases and deliveries", func(t *testing.T) {
			metricsCountTheRun(t, ctx)
		}},
		{"the console in a headless browser shows the published figures, for a province, a frequency and the sources", func(t *testing.T) {
			consoleShowsTheReleaseFigures(t, ctx)
		}},
		{"a territorial report's every figure equals the flows tables; its PDF has its pages", func(t *testing.T) {
			reportMatchesTheTables(t, ctx)
		}},
		{"this run's refresh histories replay on this code (kept for the next version's replay test)", func(t *testing.T) {
			historiesReplay(t, ctx)
		}},
		{"every operator action of the run is in the audit log", func(t *testing.T) {
			auditLog(t, ctx)
		}},
		{"two releases never share a version", func(t *testing.T) {
			st := shared.p.Releases
			for _, id := range []string{"race-a", "race-b"} {
				data := []byte("{}")
				if err := st.B.Put(ctx, "staging/"+id+"/datapackage.json", bytes.NewReader(data), 2, objectstore.PutOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			defer st.Discard(ctx, "race-a")
			defer st.Discard(ctx, "race-b")
			if _, err := st.Publish(ctx, "race-a", "99.0.0"); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Publish(ctx, "race-a", "99.0.0"); err != nil {
				t.Errorf("publishing the same release again: %v, want a no-op", err)
			}
			_, err := st.Publish(ctx, "race-b", "99.0.0")
			if !fault.Is(err, fault.Conflict) {
				t.Errorf("second release on 99.0.0: %v, want Conflict", err)
			}
		}},
		{"verify exits non-zero on a mismatch", func(t *testing.T) {
			path := writeConfig(t)
			var out, errb bytes.Buffer
			if code := cli.Main(ctx, []string{"--config", path, "verify", "1.2.0"}, &out, &errb); code != 0 {
				t.Errorf("verify 1.2.0 exit %d: %s%s", code, out.String(), errb.String())
			}
			out.Reset()
			if code := cli.Main(ctx, []string{"--config", path, "checks", "1.1.0"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "checks ran, 0 error(s)") {
				t.Errorf("checks 1.1.0 exit %d: %s", code, out.String())
			}
			// 99.0.0 (from the race above) claims a resource its files do not match.
			bad := `{"name":"x","version":"99.0.0","resources":[{"name":"t","path":"data/t.parquet","bytes":3,"hash":"sha256:00"}]}`
			if err := shared.p.Bucket.Put(ctx, "releases/99.0.1/datapackage.json", strings.NewReader(bad), int64(len(bad)), objectstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := shared.p.Bucket.Put(ctx, "releases/99.0.1/data/t.parquet", strings.NewReader("abc"), 3, objectstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			out.Reset()
			if code := cli.Main(ctx, []string{"--config", path, "verify", "99.0.1"}, &out, &errb); code != 3 {
				t.Errorf("verify of a tampered release exit %d, want 3: %s", code, out.String())
			}
			if !strings.Contains(out.String(), "MISMATCH") {
				t.Errorf("output does not name the mismatch:\n%s", out.String())
			}
		}},
		{"no secret is in a log line or a stored object", func(t *testing.T) {
			noSecretsStored(t, ctx)
		}},
		{"a workflow input cannot choose where a release is written", func(t *testing.T) {
			deliverIgnoresInputTargets(t, ctx)
		}},
		{"every role reaches the routes it may and no other", func(t *testing.T) {
			apiRoles(t, ctx)
		}},
		{"the HTTP API serves releases, verification, deliveries and dataset state", func(t *testing.T) {
			h := api.Handler(shared.p, nil)
			_, auditor, err := shared.p.Tokens.Create(ctx, identity.Auditor, "integration")
			if err != nil {
				t.Fatal(err)
			}
			get := func(path string, v any) int {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1"+path, nil)
				req.Header.Set("Authorization", "Bearer "+auditor)
				h.ServeHTTP(rec, req)
				if v != nil && rec.Code == http.StatusOK {
					if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
						t.Fatalf("%s: %v", path, err)
					}
				}
				return rec.Code
			}
			var list []api.Summary
			var order []string
			code := get("/api/releases", &list)
			for _, r := range list {
				if strings.HasPrefix(r.Version, "1.") {
					order = append(order, r.Version)
				}
			}
			if code != 200 || strings.Join(order, " ") != "1.7.2 1.7.1 1.7.0 1.6.0 1.5.0 1.4.0 1.3.0 1.2.0 1.1.0 1.0.1 1.0.0" {
				t.Errorf("releases: %d, %v (newest first)", code, order)
			}
			var v release.Verification
			if code := get("/api/releases/1.1.0/verify", &v); code != 200 || !v.OK || len(v.Files) < 6 || v.Signature == nil {
				t.Errorf("verify: %d %+v", code, v)
			}
			var ds []release.Delivery
			if code := get("/api/releases/1.1.0/deliveries", &ds); code != 200 || len(ds) != 14 {
				t.Errorf("deliveries: %d, %d entries", code, len(ds))
			}
			var states []lake.State
			if code := get("/api/datasets", &states); code != 200 || len(states) != 18 {
				t.Errorf("datasets: %d, %d states, want 4 Eurostat, 1 Istat, 3 MUR, 2 INAIL, 4 CO, 1 INPS, 1 MLPS and 2 MIM", code, len(states))
			}
			if code := get("/api/releases/7.7.7", nil); code != http.StatusNotFound {
				t.Errorf("unknown release: %d, want 404", code)
			}
		}},
		{"a rate-limited source is paced across every worker", func(t *testing.T) {
			// Same stack, a copy of the configuration on a queue of its own, Eurostat capped at 2 requests
			// per 4 s, and two workers (each with its own HTTP client) polling the queue.
			cfg := *shared.cfg
			cfg.Temporal.TaskQueue += "-rl"
			cfg.Sources = map[string]config.Source{}
			for k, v := range shared.cfg.Sources {
				cfg.Sources[k] = v
			}
			es := cfg.Sources["eurostat"]
			es.RateLimit = &config.RateLimit{Requests: 2, Per: config.Duration(4 * time.Second)}
			cfg.Sources["eurostat"] = es
			p, err := platform.Open(&cfg, shared.logger)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			for i := 0; i < 2; i++ {
				ws, err := p.NewWorker(ctx, t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				if err := ws.Start(); err != nil {
					t.Fatal(err)
				}
				defer ws.Stop()
			}
			start := time.Now()
			run, err := p.StartRefresh(ctx, "eurostat", platform.RefreshOptions{Force: true})
			if err != nil {
				t.Fatal(err)
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			defer cancel()
			if _, err := platform.WaitRefresh(wctx, run); err != nil {
				t.Fatal(err)
			}
			at := shared.sources.arrivals(start)
			if len(at) != 8 {
				t.Fatalf("%d requests, want 8 (a check and a fetch per dataset)", len(at))
			}
			window := 4 * time.Second
			for i := range at {
				n := 0
				for _, t2 := range at[i:] {
					if t2.Sub(at[i]) < window {
						n++
					}
				}
				if n > 2 {
					t.Errorf("%d requests within %s of request %d: the limit of 2 per %s does not hold", n, window, i, window)
				}
			}
			if span := at[len(at)-1].Sub(at[0]); span < 3*window {
				t.Errorf("8 requests in %s; at 2 per %s they need at least %s", span, window, 3*window)
			}
		}},
		{"schedules are registered once per source in Europe/Rome", func(t *testing.T) {
			for _, want := range []string{"created", "updated"} {
				s, err := shared.p.RegisterSchedules(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if len(s) != len(shared.cfg.Sources) || s[0].Action != want || s[len(s)-1].Action != want {
					t.Errorf("schedules = %+v, want one per source, %s", s, want)
				}
			}
			c, _ := shared.p.Temporal(ctx)
			desc, err := c.ScheduleClient().GetHandle(ctx, platform.ScheduleID("eurostat")).Describe(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tz := desc.Schedule.Spec.TimeZoneName; tz != "Europe/Rome" {
				t.Errorf("time zone = %q", tz)
			}
			if n := len(desc.Info.NextActionTimes); n == 0 {
				t.Error("the schedule has no next action")
			}
			// A source removed from the configuration loses its schedule.
			trimmed := *shared.cfg
			trimmed.Sources = map[string]config.Source{}
			for name, src := range shared.cfg.Sources {
				if name != "mur" {
					trimmed.Sources[name] = src
				}
			}
			p2 := *shared.p
			p2.Config = &trimmed
			s, err := p2.RegisterSchedules(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if last := s[len(s)-1]; last.Action != "deleted" || last.Source != "mur" {
				t.Errorf("schedules = %+v, want mur deleted", s)
			}
			if _, err := c.ScheduleClient().GetHandle(ctx, platform.ScheduleID("mur")).Describe(ctx); !platform.IsNotFound(err) {
				t.Errorf("mur's schedule is still there: %v", err)
			}
			if s, err := shared.p.RegisterSchedules(ctx); err != nil || len(s) != len(shared.cfg.Sources) {
				t.Errorf("re-registered: %+v, %v", s, err)
			}
		}},
		{"a worker killed mid-download: another resumes after the stored pages, nothing lost or taken twice", func(t *testing.T) {
			killWorkerMidDownload(t, ctx)
		}},
		{"a 429 with Retry-After is waited for; a dataset refresh while the source's runs is told so", func(t *testing.T) {
			busyAndRunning(t, ctx)
		}},
		{"two sources refreshed at once: their releases race, both end well, the newest holds both", func(t *testing.T) {
			concurrentReleases(t, ctx)
		}},
		{"a source that accepts the connection and never answers fails each attempt in seconds, naming the URL", func(t *testing.T) {
			stalledSource(t, ctx)
		}},
		{"refresh --wait on a failing source says within 30 s which attempt failed, why, and when the next comes", func(t *testing.T) {
			refreshTalks(t, ctx)
		}},
		{"MinIO, then Temporal, killed and restarted mid-run: the refresh ends, the release verifies", func(t *testing.T) {
			serversRestartedMidRun(t, ctx)
		}},
		{"a snapshot made by an older harmonizer is harmonized again from its raw object, with no download", func(t *testing.T) {
			const ds = "lfst_r_lfu3rt"
			current := olderHarmonizer(t, ctx, ds)
			raw, before := countKeys(t, "raw/"), shared.sources.requests.Load()
			res, err := refresh(t)
			if err != nil {
				t.Fatal(err)
			}
			r := report(t, res, ds)
			if !r.Changed || !strings.Contains(r.Reason, "older harmonizer or other dataset settings") || r.SnapshotKey != current {
				t.Errorf("report = %+v", r)
			}
			if got := shared.sources.requests.Load() - before; got != 4 || countKeys(t, "raw/") != raw {
				t.Errorf("%d requests (want 4 change checks, no download), raw objects %d → %d", got, raw, countKeys(t, "raw/"))
			}
			if res.Release == nil {
				t.Error("no release after the harmonization changed")
			}
			if st, _, _ := shared.p.Lake.State(ctx, "eurostat", ds); st.SnapshotKey != current {
				t.Errorf("state points at %s, want %s", st.SnapshotKey, current)
			}
		}},
		{"new CO rows land as a segment of their own, harmonized alone; the flows equal a harmonization from scratch", func(t *testing.T) {
			newRowsLandAsASegment(t, ctx)
		}},
		{"a backfill fetches Istat's 2018–2020 year by year into the dataset's history, released without duplicates", func(t *testing.T) {
			backfillHistory(t, ctx)
		}},
	}
	for _, s := range steps {
		if !t.Run(s.name, s.fn) {
			t.FailNow()
		}
	}
}

func assertBadInput(t *testing.T, res workflows.RefreshResult, err error, dataset, reason string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), workflows.RefreshIncomplete) && !strings.Contains(err.Error(), "failed") {
		t.Fatalf("err = %v, want the refresh to report a failed dataset", err)
	}
	r := report(t, res, dataset)
	if r.ErrorKind != string(fault.BadInput) || !strings.Contains(r.Error, reason) || !strings.Contains(r.Error, "eurostat/"+dataset) {
		t.Errorf("report = %+v, want BadInput for eurostat/%s with %q", r, dataset, reason)
	}
	for _, d := range res.Datasets {
		if d.Dataset != dataset && d.Error != "" {
			t.Errorf("%s failed too: %s", d.Dataset, d.Error)
		}
	}
	if res.Release != nil {
		t.Errorf("release = %+v, want none", res.Release)
	}
}

// reviseFirst changes the first value of a recorded JSON-stat response and its update time.
func reviseFirst(t *testing.T, doc string) string {
	t.Helper()
	doc = strings.Replace(doc, `"updated":"2025-04-24T23:00:00+0200"`, `"updated":"2025-10-24T23:00:00+0200"`, 1)
	i := strings.Index(doc, `"value":{"0":`)
	if i < 0 {
		t.Fatal("recorded response has no value 0")
	}
	j := i + len(`"value":{"0":`)
	k := strings.IndexByte(doc[j:], ',')
	return doc[:j] + "99.9" + doc[j+k:]
}

// olderHarmonizer makes the accepted snapshot of a Eurostat dataset look made by harmonizer 1, so that the
// next refresh harmonizes it again (and releases) with no download; it returns the current snapshot key.
func olderHarmonizer(t *testing.T, ctx context.Context, ds string) string {
	t.Helper()
	st, ok, err := shared.p.Lake.State(ctx, "eurostat", ds)
	if err != nil || !ok {
		t.Fatalf("state: %v", err)
	}
	current := st.SnapshotKey
	old := strings.Replace(current, fmt.Sprintf("-h%d.parquet", lake.HarmonizerVersion), "-h1.parquet", 1)
	if err := shared.p.Bucket.CopyTo(ctx, current, shared.p.Bucket, old); err != nil {
		t.Fatal(err)
	}
	if err := shared.p.Bucket.Remove(ctx, current); err != nil {
		t.Fatal(err)
	}
	st.SnapshotKey = old
	if err := shared.p.Lake.SetState(ctx, st); err != nil {
		t.Fatal(err)
	}
	return current
}

func writeConfig(t *testing.T) string {
	t.Helper()
	data, err := yaml.Marshal(shared.cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "osservatorio.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

package integration

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/api"
	"github.com/osservatorio-lombardia/osservatorio/platform"
)

// statusJudgesEveryDataset runs osservatorio status after the run's refreshes: Eurostat's datasets are
// stale by their own update date (the recorded UPDATE_DATA are from 2025), the other sources' are judged
// on our checks and fresh; the dataset that failed two checks in a row was alerted failing, signed.
func statusJudgesEveryDataset(t *testing.T, ctx context.Context) {
	code, out, errs := osv(t, ctx, "status", "--json")
	var list []platform.DatasetStatus
	if err := fromCLI(out, &list); err != nil || code != 6 {
		t.Fatalf("status --json: exit %d, %v\n%s%s; want 6 (stale datasets)", code, err, out, errs)
	}
	configured := 0
	for _, name := range shared.cfg.SourceNames() {
		configured += len(shared.cfg.Sources[name].Datasets)
	}
	if len(list) != configured {
		t.Errorf("status lists %d datasets, %d configured", len(list), configured)
	}
	byKey := map[string]platform.DatasetStatus{}
	for _, d := range list {
		byKey[d.Source+"/"+d.Dataset] = d
	}
	if d := byKey["eurostat/"+unemployment]; d.State != "error" || !strings.Contains(d.Why, "last update at the source") || d.SourceUpdated.Year() != 2025 || d.LastSuccess.IsZero() {
		t.Errorf("eurostat/%s: %+v; want error by the source's own update in 2025", unemployment, d)
	}
	if d := byKey["mur/iscritti_residenza"]; d.LastCheck.IsZero() || d.WarnAfter != "48h0m0s" {
		t.Errorf("mur/iscritti_residenza: %+v; want checked, judged on the default freshness", d)
	}
	var failing bool
	for _, m := range shared.alerts.all() {
		if m.Verified != nil {
			t.Errorf("alert %s: signature: %v", m.ID, m.Verified)
		}
		if m.Type == "dataset.failing" && m.Data["source"] == "eurostat" && m.Data["dataset"] == employment {
			failing = true
		}
	}
	if !failing {
		t.Errorf("no signed dataset.failing alert for eurostat/%s; got %+v", employment, shared.alerts.all())
	}
	if code, out, _ := osv(t, ctx, "status"); code != 6 || !strings.Contains(out, "stale or failing") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
}

// metricsCountTheRun scrapes the API's /metrics after the run (the worker runs in this process): the
// platform's counters and the Temporal SDK's are there, with the sources', datasets' and releases' values.
func metricsCountTheRun(t *testing.T, ctx context.Context) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequestWithContext(ctx, "GET", "http://127.0.0.1/metrics", nil)
	api.Handler(shared.p, nil).ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	values := map[string]float64{}
	sdk := 0
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		values[line[:i]] = v
		if strings.HasPrefix(line, "temporal_") {
			sdk++
		}
	}
	for _, series := range []string{
		`osservatorio_source_requests_total{code="200",source="eurostat"}`,
		`osservatorio_source_requests_total{code="504",source="lombardia"}`,
		`osservatorio_source_bytes_total{source="lombardia"}`,
		`osservatorio_dataset_checks_total{outcome="changed",source="eurostat"}`,
		`osservatorio_dataset_checks_total{outcome="unchanged",source="eurostat"}`,
		`osservatorio_dataset_checks_total{outcome="failed",source="eurostat"}`,
		`osservatorio_rows_harmonized_total{source="lombardia",table="labour_events"}`,
		`osservatorio_rows_harmonized_total{source="eurostat",table="observations"}`,
		`osservatorio_quality_checks_failed_total{severity="error"}`,
		`osservatorio_releases_published_total`,
		`osservatorio_release_bytes_total{how="copied"}`,
		`osservatorio_release_bytes_total{how="kept"}`,
		`osservatorio_deliveries_total{status="pending"}`,
		`osservatorio_deliveries_total{status="delivered"}`,
	} {
		if values[series] <= 0 {
			t.Errorf("%s = %v, want > 0", series, values[series])
		}
	}
	if sdk == 0 {
		t.Error("no temporal_ series: the SDK's metrics are not reported")
	}
}

package integration

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/platform"
)

// statusJudgesEveryDataset runs osservatorio status after the run's refreshes: Eurostat's datasets are
// stale by their own update date (the recorded UPDATE_DATA are from 2025), the other sources' are judged
// on our checks and fresh; the dataset that failed two checks in a row was alerted failing, signed.
func statusJudgesEveryDataset(t *testing.T, ctx context.Context) {
	code, out, errs := osv(t, ctx, "status", "--json")
	var list []platform.DatasetStatus
	if err := json.Unmarshal([]byte(out), &list); err != nil || code != 6 {
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

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/lineage"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// traceFigures: a labour_flows cell of the latest release traced to the events that make it, whose recount
// equals every published measure, and to the raw exports and their sidecars; an observation traced to the
// exact value at its position in its raw file.
func traceFigures(t *testing.T, ctx context.Context) {
	vs := versions(t)
	latest := vs[len(vs)-1]
	code, out, errs := osv(t, ctx, "lineage", latest, "labour_flows", "--where",
		"territory = '015' AND contract_class = 'fixed_term' AND sex = 'T' AND sector_section = 'I' AND attivazioni > 0", "--limit", "3", "--json")
	if code != 0 {
		t.Fatalf("lineage: exit %d %s%s", code, out, errs)
	}
	var ans lineage.Answer
	if err := json.Unmarshal([]byte(out), &ans); err != nil {
		t.Fatal(err)
	}
	if ans.Matched == 0 || len(ans.Figures) == 0 || !ans.Rule.Recorded || ans.Rule.SQL["sql/labour_flows.sql"] == "" || len(ans.Rule.CodeLists) == 0 {
		t.Fatalf("answer: matched %d, %d figures, rule %+v", ans.Matched, len(ans.Figures), ans.Rule)
	}
	for _, f := range ans.Figures {
		for _, m := range f.Measures {
			if m.Published != m.Recount {
				t.Errorf("cell %v: %s published %d, recounted %d", f.Row, m.Column, m.Published, m.Recount)
			}
		}
		if len(f.Events) == 0 || len(f.Sources) == 0 {
			t.Fatalf("cell %v: no events or sources", f.Row)
		}
		for _, s := range f.Sources {
			if s.Sidecar == nil || !strings.Contains(s.Sidecar.URL, "/lombardia/resource/") || s.Sidecar.Workflow == "" || s.Harmonized == "" {
				t.Errorf("source %+v: want its sidecar with the URL and the runs that fetched and harmonized it", s)
			}
		}
	}
	// One event of the sample, read back from its raw export with raw show: the row is the event's.
	e := ans.Figures[0].Events[0]
	key := ""
	for _, s := range ans.Figures[0].Sources {
		if s.SHA256 == e.RawSHA256 {
			key = s.Key
		}
	}
	code, out, errs = osv(t, ctx, "raw", "show", key, "--rows", fmt.Sprint(e.RawRow), "--json")
	var shown struct {
		Rows map[string]string `json:"rows"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &shown) != nil || !strings.Contains(strings.ToUpper(shown.Rows[fmt.Sprint(e.RawRow)]), "MILANO") {
		t.Errorf("raw show %s --rows %d: exit %d %s%s; want the row of a Milano event", key, e.RawRow, code, out, errs)
	}
	traceObservation(t, ctx, latest)
}

// traceObservation follows one Eurostat observation to the value at its position in the raw JSON-stat.
func traceObservation(t *testing.T, ctx context.Context, version string) {
	code, out, errs := osv(t, ctx, "lineage", version, "observations", "--where", "source = 'eurostat' AND period = '2020'", "--limit", "1", "--json")
	var ans lineage.Answer
	if code != 0 || json.Unmarshal([]byte(out), &ans) != nil || len(ans.Figures) != 1 || ans.Figures[0].Raw == nil || ans.Figures[0].Raw.Position == nil {
		t.Fatalf("lineage of an observation: exit %d %s%s", code, out, errs)
	}
	f := ans.Figures[0]
	rc, err := shared.p.Bucket.Get(ctx, f.Raw.Key)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(rc)
	rc.Close()
	var doc struct {
		Value map[string]float64 `json:"value"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if got, ok := doc.Value[fmt.Sprint(*f.Raw.Position)]; !ok || got != f.Row["value"] {
		t.Errorf("raw %s value[%d] = %v, the release says %v", f.Raw.Key, *f.Raw.Position, got, f.Row["value"])
	}
	if f.Raw.Sidecar == nil || !strings.Contains(f.Raw.Sidecar.URL, "/eurostat/") {
		t.Errorf("sidecar %+v", f.Raw.Sidecar)
	}
	if _, err := shared.p.Releases.Inputs(ctx, version); err != nil {
		t.Errorf("inputs of %s: %v", version, err)
	}
	_ = release.InputsName
}

// auditLog: the actions of the run are in the audit log, with who, what and from where.
func auditLog(t *testing.T, ctx context.Context) {
	code, out, errs := osv(t, ctx, "audit", "--json")
	if code != 0 {
		t.Fatalf("audit: exit %d %s%s", code, out, errs)
	}
	var entries []struct {
		Actor, Action, Target, From string
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, e := range entries {
		if e.From == "" {
			t.Errorf("entry %+v says not where it came from", e)
		}
		seen[e.Action] = e.Actor
	}
	for action, actor := range map[string]string{"release.publish": "workflow:", "observatory.credentials": "cli:", "observatory.revoke": "cli:",
		"subscription.change": "", "keys.rotate": "cli:", "delivery.replay": "cli:", "release.rebuild": "cli:", "config.applied": "worker:"} {
		if got, ok := seen[action]; !ok || !strings.HasPrefix(got, actor) {
			t.Errorf("audit log: %s by %q, want an entry by %s…", action, got, actor)
		}
	}
	if code, out, _ := osv(t, ctx, "audit", "--action", "keys.", "--since", "1h"); code != 0 || !strings.Contains(out, "keys.rotate") || strings.Contains(out, "release.publish") {
		t.Errorf("audit --action keys.: exit %d\n%s", code, out)
	}
}

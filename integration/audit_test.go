package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

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
	if err := fromCLI(out, &ans); err != nil {
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
	if code != 0 || fromCLI(out, &shown) != nil || !strings.Contains(strings.ToUpper(shown.Rows[fmt.Sprint(e.RawRow)]), "MILANO") {
		t.Errorf("raw show %s --rows %d: exit %d %s%s; want the row of a Milano event", key, e.RawRow, code, out, errs)
	}
	traceObservation(t, ctx, latest)
}

// traceObservation follows one Eurostat observation to the value at its position in the raw JSON-stat.
func traceObservation(t *testing.T, ctx context.Context, version string) {
	code, out, errs := osv(t, ctx, "lineage", version, "observations", "--where", "source = 'eurostat' AND period = '2020'", "--limit", "1", "--json")
	var ans lineage.Answer
	if code != 0 || fromCLI(out, &ans) != nil || len(ans.Figures) != 1 || ans.Figures[0].Raw == nil || ans.Figures[0].Raw.Position == nil {
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
	if err := fromCLI(out, &entries); err != nil {
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

// lineageReceiver is a Marquez-compatible endpoint: it keeps every event POSTed to /api/v1/lineage.
type lineageReceiver struct {
	mu     sync.Mutex
	events [][]byte
}

func (l *lineageReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/lineage" {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	l.events = append(l.events, body)
	l.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// openLineageEvents: every job run of the run so far emitted a START and a COMPLETE or FAIL, stored in the
// bucket and posted to the endpoint, each valid against the RunEvent rules; a failed fetch carries its
// error; harmonizations carry their SQL, fetches their source URL, runs their parent workflow run.
func openLineageEvents(t *testing.T, ctx context.Context) {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	sch, err := c.Compile(filepath.Join(repoRoot(), "integration/testdata/openlineage-runevent.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	infos, err := shared.p.Bucket.List(ctx, "lineage/", true)
	if err != nil {
		t.Fatal(err)
	}
	type event struct {
		EventType string `json:"eventType"`
		Run       struct {
			RunID  string                    `json:"runId"`
			Facets map[string]map[string]any `json:"facets"`
		} `json:"run"`
		Job struct {
			Name   string                    `json:"name"`
			Facets map[string]map[string]any `json:"facets"`
		} `json:"job"`
		Inputs []struct {
			Facets map[string]map[string]any `json:"facets"`
		} `json:"inputs"`
	}
	byRun := map[string][]event{}
	for _, in := range infos {
		rc, err := shared.p.Bucket.Get(ctx, in.Key)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := io.ReadAll(rc)
		rc.Close()
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			t.Fatalf("%s: %v", in.Key, err)
		}
		if err := sch.Validate(doc); err != nil {
			t.Errorf("%s does not follow the RunEvent rules: %v", in.Key, err)
		}
		var e event
		json.Unmarshal(line, &e)
		byRun[e.Run.RunID] = append(byRun[e.Run.RunID], e)
	}
	if len(byRun) < 20 {
		t.Fatalf("%d job runs traced", len(byRun))
	}
	var failedFetch, sql, dataSource, parent bool
	for id, evs := range byRun {
		if len(evs) != 2 || evs[0].EventType == evs[1].EventType {
			t.Errorf("run %s of %s: %d events, want a START and a COMPLETE or FAIL", id, evs[0].Job.Name, len(evs))
			continue
		}
		for _, e := range evs {
			if e.EventType == "FAIL" && strings.HasPrefix(e.Job.Name, "fetch.") && e.Run.Facets["errorMessage"]["message"] != nil {
				failedFetch = true
			}
			if strings.HasPrefix(e.Job.Name, "harmonize.") && e.Job.Facets["sql"]["query"] != nil {
				sql = true
			}
			if e.Run.Facets["parent"] != nil {
				parent = true
			}
			for _, in := range e.Inputs {
				if in.Facets["dataSource"] != nil {
					dataSource = true
				}
			}
		}
	}
	if !failedFetch || !sql || !dataSource || !parent {
		t.Errorf("facets seen: a failed fetch with its error %v, harmonization SQL %v, a source URL %v, a parent run %v", failedFetch, sql, dataSource, parent)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		shared.lineage.mu.Lock()
		posted := len(shared.lineage.events)
		shared.lineage.mu.Unlock()
		if posted >= len(infos) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d events posted to the endpoint, %d stored", posted, len(infos))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
}

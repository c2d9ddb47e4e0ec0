// Package lineage answers an auditor's question "where does this published figure come from": for the
// rows of a release table that match a condition, the rule that made them (SQL files, code lists, code
// version, by sha256, as the release recorded them), and what they come from: for an observation, its raw
// object and row; for a labour event, its raw export and row; for a flow cell, every measure recounted
// from the events, a sample of those events with their raw rows, and each raw export's sidecar and the
// Temporal run that fetched and harmonized it.
//
// Positions are 0-based everywhere: raw_position / raw_row is the data row of the raw file, not counting
// its header (a CSV's line number is the position + 2).
package lineage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// Positions says, once, how rows are counted.
const Positions = "0-based data rows of the raw file, header not counted (a CSV line is the position + 2)"

// Query is one lineage question.
type Query struct {
	Version string
	Table   string
	Where   []warehouse.Cond
	Limit   int // figures answered (default 10)
	Sample  int // events shown per measure of a flow cell (default 5)
}

// Answer is the lineage of the matching figures.
type Answer struct {
	Version   string   `json:"version"`
	Table     string   `json:"table"`
	Matched   int64    `json:"matched"`
	Rule      Rule     `json:"rule"`
	Figures   []Figure `json:"figures"`
	Positions string   `json:"positions"`
}

// Rule is what made the table: the SQL files and code lists (sha256), the code version and harmonizer.
type Rule struct {
	SQL               map[string]string `json:"sql"`
	CodeLists         map[string]string `json:"codeLists"`
	Build             release.Build     `json:"build"`
	HarmonizerVersion int               `json:"harmonizerVersion"`
	Recorded          bool              `json:"recorded"` // false: the release predates inputs.json; today's files are shown
}

// Figure is one matching row and where it comes from.
type Figure struct {
	Row      map[string]any           `json:"row"`
	Raw      *Raw                     `json:"raw,omitempty"`      // observations, labour_events
	Measures []warehouse.MeasureCount `json:"measures,omitempty"` // flow cells
	Events   []warehouse.EventRef     `json:"events,omitempty"`   // a sample of the events of each measure
	Sources  []Raw                    `json:"sources,omitempty"`  // the raw exports those events come from
}

// Raw is a raw object, a row in it, its sidecar and the Temporal runs that fetched and harmonized it.
type Raw struct {
	Key          string        `json:"key"`
	SHA256       string        `json:"sha256"`
	Position     *int64        `json:"position,omitempty"`
	Sidecar      *lake.Sidecar `json:"sidecar,omitempty"`
	Dataset      string        `json:"dataset"`
	Harmonized   string        `json:"harmonizedBy,omitempty"` // workflow/run
	SnapshotKey  string        `json:"snapshotKey,omitempty"`
	SidecarError string        `json:"sidecarError,omitempty"`
}

// sqlOf are the SQL files behind each table.
var sqlOf = map[string][]string{
	"observations":           {"sql/observations.sql"},
	"labour_events":          {"sql/labour_events.sql"},
	"labour_flows":           {"sql/labour_events.sql", "sql/labour_flows_part.sql", "sql/labour_flows.sql"},
	"labour_flows_quarterly": {"sql/labour_events.sql", "sql/labour_flows_part.sql", "sql/labour_flows.sql"},
	"labour_flows_yearly":    {"sql/labour_events.sql", "sql/labour_flows_part.sql", "sql/labour_flows.sql"},
}

// Tables are the tables lineage answers for.
func Tables() []string {
	out := make([]string, 0, len(sqlOf))
	for t := range sqlOf {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// ErrTable says lineage does not cover a table.
var ErrTable = errors.New("lineage covers " + strings.Join(Tables(), ", "))

// Tracer answers lineage questions on the platform's bucket.
type Tracer struct {
	Releases *release.Store
	DB       *warehouse.DB
	// Cache keeps downloaded release files by hash (they never change), so a second question is quick.
	Cache string
}

// Trace answers q.
func (tr *Tracer) Trace(ctx context.Context, q Query) (*Answer, error) {
	if _, ok := sqlOf[q.Table]; !ok {
		return nil, fmt.Errorf("%s: %w", q.Table, ErrTable)
	}
	if q.Limit <= 0 {
		q.Limit = 10
	}
	if q.Sample <= 0 {
		q.Sample = 5
	}
	m, err := tr.Releases.Get(ctx, q.Version)
	if err != nil {
		return nil, err
	}
	res, ok := m.Resource(q.Table)
	if !ok {
		return nil, fmt.Errorf("release %s has no table %s", q.Version, q.Table)
	}
	in, recorded, err := tr.inputs(ctx, q.Version, m)
	if err != nil {
		return nil, err
	}
	ans := &Answer{Version: q.Version, Table: q.Table, Positions: Positions, Rule: rule(q.Table, in, recorded)}
	files, err := tr.local(ctx, m, res.Files())
	if err != nil {
		return nil, err
	}
	var rows []map[string]any
	if ans.Matched, rows, err = tr.DB.Select(ctx, files, q.Where, q.Limit); err != nil {
		return nil, err
	}
	raws := rawIndex(m, in)
	for _, row := range rows {
		f := Figure{Row: row}
		switch q.Table {
		case "observations":
			f.Raw = tr.raw(ctx, raws, fmt.Sprint(row["raw_sha256"]), row["raw_position"])
		case "labour_events":
			f.Raw = tr.raw(ctx, raws, fmt.Sprint(row["raw_sha256"]), eventRow(res, files, row))
		default:
			if err := tr.flowCell(ctx, q, m, raws, &f); err != nil {
				return nil, err
			}
		}
		delete(row, "file") // a local cache path: the row is known by its values
		ans.Figures = append(ans.Figures, f)
	}
	return ans, nil
}

// flowCell recounts a flow cell from the release's events.
func (tr *Tracer) flowCell(ctx context.Context, q Query, m *release.Manifest, raws map[string]Raw, f *Figure) error {
	ev, ok := m.Resource("labour_events")
	if !ok {
		return fmt.Errorf("release %s has no labour_events to recount from", q.Version)
	}
	var parts []warehouse.EventPart
	offsets := map[string]int64{}
	for _, p := range ev.Files() {
		local, err := tr.local(ctx, m, []release.Part{p})
		if err != nil {
			return err
		}
		parts = append(parts, warehouse.EventPart{Path: local[0], Name: p.Path, RawSHA256: p.RawSHA256, Offset: offsets[p.RawSHA256]})
		offsets[p.RawSHA256] += p.Rows
	}
	var err error
	if f.Measures, f.Events, err = tr.DB.RecountFlow(ctx, q.Table, parts, f.Row, q.Sample); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, e := range f.Events {
		if !seen[e.RawSHA256] {
			seen[e.RawSHA256] = true
			if r := tr.raw(ctx, raws, e.RawSHA256, nil); r != nil {
				f.Sources = append(f.Sources, *r)
			}
		}
	}
	return nil
}

// eventRow is a labour_events row's position in its raw export: its row in its part plus the rows of the
// parts of the same export before it.
func eventRow(res release.Resource, local []string, row map[string]any) int64 {
	offsets := map[string]int64{}
	for i, p := range res.Files() {
		if local[i] == fmt.Sprint(row["file"]) {
			return offsets[p.RawSHA256] + warehouse.Int(row["row"])
		}
		offsets[p.RawSHA256] += p.Rows
	}
	return -1
}

// inputs returns the release's recorded inputs, or today's for a release made before they were recorded.
func (tr *Tracer) inputs(ctx context.Context, version string, m *release.Manifest) (release.Inputs, bool, error) {
	in, err := tr.Releases.Inputs(ctx, version)
	if err == nil {
		return in, true, nil
	}
	if !errors.Is(err, objectstore.ErrNotFound) {
		return in, false, err
	}
	in, err = release.CurrentInputs(version, nil, nil)
	return in, false, err
}

func rule(table string, in release.Inputs, recorded bool) Rule {
	r := Rule{SQL: map[string]string{}, CodeLists: in.CodeLists, Build: in.Build, HarmonizerVersion: in.HarmonizerVersion, Recorded: recorded}
	for _, f := range sqlOf[table] {
		r.SQL[f] = in.SQL[f]
	}
	return r
}

// rawIndex maps each raw object's sha256 to what the release knows of it.
func rawIndex(m *release.Manifest, in release.Inputs) map[string]Raw {
	out := map[string]Raw{}
	for _, s := range m.Sources {
		for _, g := range s.Raws() {
			out[g.RawSHA256] = Raw{Key: g.RawKey, SHA256: g.RawSHA256, Dataset: s.Source + "/" + s.Dataset, SnapshotKey: cmp.Or(g.SnapshotKey, s.SnapshotKey)}
		}
	}
	harmonized := func(sha, workflow, run string) {
		if r, ok := out[sha]; ok && workflow != "" {
			r.Harmonized = workflow + "/" + run
			out[sha] = r
		}
	}
	for _, st := range in.States {
		for _, g := range st.EventSegments() {
			harmonized(g.RawSHA256, st.Workflow, st.Run)
		}
		for _, c := range st.History {
			harmonized(c.RawSHA256, c.Workflow, c.Run)
		}
	}
	return out
}

// raw describes a raw object and a row of it, with its sidecar.
func (tr *Tracer) raw(ctx context.Context, raws map[string]Raw, sha string, position any) *Raw {
	r, ok := raws[sha]
	if !ok {
		return &Raw{SHA256: sha, SidecarError: "no source of the release has this raw object"}
	}
	if position != nil {
		p := warehouse.Int(position)
		r.Position = &p
	}
	var side lake.Sidecar
	if err := tr.Releases.B.GetJSON(ctx, lake.SidecarKey(r.Key), &side); err != nil {
		r.SidecarError = err.Error()
	} else {
		r.Sidecar = &side
	}
	return &r
}

// local returns local copies of release files, downloading those not in the cache.
func (tr *Tracer) local(ctx context.Context, m *release.Manifest, files []release.Part) ([]string, error) {
	return tr.Releases.LocalCopies(ctx, m, files, tr.Cache)
}

package release

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// Change log files of a bundle.
const (
	ChangesJSON = "changes.json"
	ChangesMD   = "CHANGES.md"
)

// changeLogResources are the resources every slice carries: the change log and the inputs record.
var changeLogResources = []string{"changes-json", "changes-md", "inputs"}

// ChangeLog is what a release changed against the previous one.
type ChangeLog struct {
	Version    string           `json:"version"`
	Previous   string           `json:"previous,omitempty"`
	Bump       string           `json:"bump"`
	BumpReason string           `json:"bumpReason"`
	Datasets   Changes          `json:"datasets"`
	NewPeriods []PeriodChange   `json:"newPeriods"`
	Revised    []TableRevisions `json:"revised"`
	Schema     []SchemaChange   `json:"schemaChanges"`
}

// PeriodChange is the periods a table gained for one series (source/dataset, or all the table).
type PeriodChange struct {
	Table   string   `json:"table"`
	Series  string   `json:"series,omitempty"`
	Periods []string `json:"periods"`
}

// TableRevisions counts the published figures of a table whose value changed, with a sample.
type TableRevisions struct {
	Table  string     `json:"table"`
	Count  int64      `json:"count"`
	Sample []Revision `json:"sample"`
}

// Revision is one revised figure.
type Revision = warehouse.Revision

// SchemaChange is a table added or removed, or columns added to or removed from one.
type SchemaChange struct {
	Table   string   `json:"table"`
	Change  string   `json:"change"` // table added, table removed, columns added, columns removed
	Columns []string `json:"columns,omitempty"`
}

// compared are the tables whose revisions and new periods the change log reports: key, measures, and
// the columns new periods are grouped by.
var compared = map[string]struct{ key, measures, group []string }{
	"observations": {key: []string{"source", "dataset", "indicator", "breakdown", "unit", "unit_mult", "territory", "period", "freq",
		"sex", "age", "education", "sector", "citizenship"}, measures: []string{"value", "status"}, group: []string{"source", "dataset"}},
	"labour_flows": {key: warehouse.FlowKeys["labour_flows"], measures: []string{"attivazioni", "cessazioni", "proroghe",
		"trasformazioni_in", "trasformazioni_out", "saldo"}},
}

// revisionSample is how many revised figures a change log shows per table.
const revisionSample = 10

// changeLog compares the new tables (local files) with the previous release's and writes changes.json
// and CHANGES.md under the staging prefix, as resources of m.
func (s *Store) changeLog(ctx context.Context, db *warehouse.DB, prev *Manifest, m *Manifest, local map[string]string, dir, stage string) error {
	log := ChangeLog{Version: m.Version, Previous: m.Osservatorio.Previous, Bump: m.Osservatorio.Bump,
		BumpReason: BumpReason(m.Osservatorio.Bump, m.Osservatorio.Changes), Datasets: m.Osservatorio.Changes,
		NewPeriods: []PeriodChange{}, Revised: []TableRevisions{}, Schema: schemaChanges(prev, m)}
	names := make([]string, 0, len(compared))
	for t := range compared {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, table := range names {
		if err := s.compareTable(ctx, db, prev, table, local[table], dir, &log); err != nil {
			return fmt.Errorf("change log of %s: %w", table, err)
		}
	}
	js, err := json.MarshalIndent(log, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name, media, format string
		data                []byte
	}{
		{ChangesJSON, "application/json", "json", append(js, '\n')},
		{ChangesMD, "text/markdown", "md", []byte(log.Markdown())},
	} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, f.data, 0o644); err != nil {
			return err
		}
		size, sum, err := hashFile(path)
		if err != nil {
			return err
		}
		if err := s.B.PutFile(ctx, stage+f.name, path, objectstore.PutOptions{ContentType: f.media}); err != nil {
			return err
		}
		name := strings.ToLower(strings.TrimSuffix(f.name, filepath.Ext(f.name)))
		m.Resources = append(m.Resources, Resource{Name: name + "-" + f.format, Path: Paths{f.name}, Format: f.format,
			MediaType: f.media, Bytes: size, Hash: "sha256:" + sum,
			Description: "What this release changed against the previous one (new periods, revised figures, schema)"})
	}
	return nil
}

// compareTable adds a table's new periods and revisions to the log.
func (s *Store) compareTable(ctx context.Context, db *warehouse.DB, prev *Manifest, table, newFile, dir string, log *ChangeLog) error {
	if newFile == "" {
		return nil
	}
	spec := compared[table]
	oldFile, err := s.previousTable(ctx, db, prev, table, dir)
	if err != nil {
		return err
	}
	periods, err := db.NewPeriods(ctx, oldFile, newFile, spec.group)
	if err != nil {
		return err
	}
	series := make([]string, 0, len(periods))
	for k := range periods {
		series = append(series, k)
	}
	sort.Strings(series)
	for _, k := range series {
		log.NewPeriods = append(log.NewPeriods, PeriodChange{Table: table, Series: k, Periods: periods[k]})
	}
	if oldFile == "" {
		return nil
	}
	n, sample, err := db.Revisions(ctx, warehouse.CompareSpec{Old: oldFile, New: newFile, Key: spec.key, Measures: spec.measures, Sample: revisionSample})
	if err != nil || n == 0 {
		return err
	}
	log.Revised = append(log.Revised, TableRevisions{Table: table, Count: n, Sample: sample})
	return nil
}

// schemaChanges lists tables and columns added or removed against the previous release.
func schemaChanges(prev, m *Manifest) []SchemaChange {
	out := []SchemaChange{}
	if prev == nil {
		return out
	}
	fields := func(r Resource) []string {
		var f []string
		for _, x := range r.Schema.Fields {
			f = append(f, x.Name)
		}
		return f
	}
	for _, r := range m.Resources {
		old, ok := prev.Resource(r.Name)
		if !ok {
			out = append(out, SchemaChange{Table: r.Name, Change: "table added"})
			continue
		}
		if added := minus(fields(r), fields(old)); len(added) > 0 {
			out = append(out, SchemaChange{Table: r.Name, Change: "columns added", Columns: added})
		}
		if removed := minus(fields(old), fields(r)); len(removed) > 0 {
			out = append(out, SchemaChange{Table: r.Name, Change: "columns removed", Columns: removed})
		}
	}
	for _, r := range prev.Resources {
		if _, ok := m.Resource(r.Name); !ok {
			out = append(out, SchemaChange{Table: r.Name, Change: "table removed"})
		}
	}
	return out
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

// Markdown is the change log in Italian, for people.
func (l ChangeLog) Markdown() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Rilascio %s\n\n", l.Version)
	if l.Previous != "" {
		fmt.Fprintf(&b, "Rilascio precedente: %s. Incremento di versione: **%s** (%s).\n\n", l.Previous, bumpIT[l.Bump], l.BumpReason)
	} else {
		fmt.Fprintf(&b, "Primo rilascio.\n\n")
	}
	b.WriteString("## Dataset\n\n")
	list := func(label string, xs []string) {
		if len(xs) > 0 {
			fmt.Fprintf(&b, "- %s: %s\n", label, strings.Join(xs, ", "))
		}
	}
	list("aggiunti", l.Datasets.AddedDatasets)
	list("aggiornati", l.Datasets.UpdatedDatasets)
	list("rimossi", l.Datasets.RemovedDatasets)
	if len(l.Datasets.AddedDatasets)+len(l.Datasets.UpdatedDatasets)+len(l.Datasets.RemovedDatasets) == 0 {
		b.WriteString("- nessuna modifica\n")
	}
	b.WriteString("\n## Nuovi periodi\n\n")
	if len(l.NewPeriods) == 0 {
		b.WriteString("- nessuno\n")
	}
	for _, p := range l.NewPeriods {
		series := p.Series
		if series == "" {
			series = "tutta la tabella"
		}
		fmt.Fprintf(&b, "- %s, %s: %s\n", p.Table, series, periodsIT(p.Periods))
	}
	b.WriteString("\n## Valori rivisti\n\n")
	if len(l.Revised) == 0 {
		b.WriteString("- nessun valore pubblicato è cambiato\n")
	}
	for _, r := range l.Revised {
		fmt.Fprintf(&b, "- %s: %d valori rivisti; esempi:\n\n| chiave | colonna | prima | dopo |\n|---|---|---|---|\n", r.Table, r.Count)
		for _, s := range r.Sample {
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", keyText(s.Key), s.Column, s.Old, s.New)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## Modifiche dello schema\n\n")
	if len(l.Schema) == 0 {
		b.WriteString("- nessuna\n")
	}
	for _, c := range l.Schema {
		fmt.Fprintf(&b, "- %s: %s %s\n", c.Table, schemaIT[c.Change], strings.Join(c.Columns, ", "))
	}
	return b.String()
}

var bumpIT = map[string]string{"major": "maggiore", "minor": "minore", "patch": "correttiva"}

var schemaIT = map[string]string{"table added": "tabella aggiunta", "table removed": "tabella rimossa",
	"columns added": "colonne aggiunte:", "columns removed": "colonne rimosse:"}

func periodsIT(ps []string) string {
	if len(ps) > 6 {
		return fmt.Sprintf("%s … %s (%d periodi)", ps[0], ps[len(ps)-1], len(ps))
	}
	return strings.Join(ps, ", ")
}

func keyText(k map[string]string) string {
	names := make([]string, 0, len(k))
	for n := range k {
		if k[n] != "" && k[n] != "TOTAL" && k[n] != "T" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + k[n]
	}
	return strings.Join(parts, " ")
}

package warehouse

import (
	"context"
	"fmt"
	"sort"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
)

// IndicatorColumns is the schema of the indicators table.
var IndicatorColumns = []Column{
	{"indicator", "string", "Indicator id, as in the observations table"},
	{"label_it", "string", "Name in Italian"},
	{"label_en", "string", "Name in English"},
	{"unit", "string", "Unit of measure (see labels, dimension unit)"},
	{"unit_mult", "integer", "Power of ten of the unit (3: thousands)"},
	{"source", "string", "Source"},
	{"dataset", "string", "Dataset of the source"},
	{"definition_url", "string", "Where the source defines it"},
}

// IndicatorKey is the key of the indicators table.
var IndicatorKey = []string{"indicator", "source", "dataset", "unit", "unit_mult"}

// LabelColumns is the schema of the labels table.
var LabelColumns = []Column{
	{"dimension", "string", "Coded column: sex, age, education, sector, citizenship, unit, freq, contract_class (age also labels age_class, sector sector_section, citizenship citizenship_group)"},
	{"code", "string", "Code"},
	{"label_it", "string", "Label in Italian"},
	{"label_en", "string", "Label in English"},
}

// LabelKey is the key of the labels table.
var LabelKey = []string{"dimension", "code"}

// WriteIndicators writes the indicators table of a release: one row per indicator of its observations
// (at observations), with its labels and definition from codelist/indicators.csv and its unit as
// published. An indicator no code list describes has empty labels (the release checks flag it).
func (d *DB) WriteIndicators(ctx context.Context, observations, out string) (int64, error) {
	m, err := d.Codes().Model()
	if err != nil {
		return 0, err
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE indicator_labels (source VARCHAR, indicator VARCHAR,
		label_it VARCHAR, label_en VARCHAR, definition_url VARCHAR)`); err != nil {
		return 0, err
	}
	sources, err := queryStrings(ctx, conn, "SELECT DISTINCT source FROM read_parquet("+quoteLiteral(observations)+") ORDER BY 1")
	if err != nil {
		return 0, err
	}
	for _, src := range sources {
		for id, in := range m.IndicatorLabels(src) {
			if _, err := conn.ExecContext(ctx, `INSERT INTO indicator_labels VALUES (?, ?, ?, ?, ?)`, src, id, in.IT, in.EN, in.DefinitionURL); err != nil {
				return 0, err
			}
		}
	}
	q := fmt.Sprintf(`SELECT o.indicator, l.label_it, l.label_en, o.unit, o.unit_mult, o.source, o.dataset, l.definition_url
		FROM (SELECT DISTINCT source, dataset, indicator, unit, unit_mult FROM read_parquet(%s)) o
		LEFT JOIN indicator_labels l ON l.source = o.source AND l.indicator = o.indicator
		ORDER BY o.indicator, o.source, o.dataset, o.unit, o.unit_mult`, quoteLiteral(observations))
	return copyToParquet(ctx, conn, q, out)
}

// ageColumns are the age columns of the release tables that may hold codes outside the enumerated list.
var ageColumns = map[string]string{"observations": "age", "labour_flows": "age_class"}

// WriteLabels writes the labels table of a release: every code of the common model's code lists with its
// Italian and English labels, and the age classes the tables (local Parquet files by table name) hold
// beyond the enumerated ones, with labels made from their codes.
func (d *DB) WriteLabels(ctx context.Context, tables map[string]string, out string) (int64, error) {
	m, err := d.Codes().Model()
	if err != nil {
		return 0, err
	}
	type row struct{ dim, code, it, en string }
	var rows []row
	for _, dim := range codelist.Labelled {
		for code, l := range m.Codes(dim) {
			rows = append(rows, row{dim, code, l.IT, l.EN})
		}
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	for table, col := range ageColumns {
		path, ok := tables[table]
		if !ok {
			continue
		}
		ages, err := queryStrings(ctx, conn, fmt.Sprintf(`SELECT DISTINCT "%s" FROM read_parquet(%s) WHERE "%s" <> '' ORDER BY 1`, col, quoteLiteral(path), col))
		if err != nil {
			return 0, err
		}
		for _, code := range ages {
			if _, listed := m.Codes(codelist.Age)[code]; listed {
				continue
			}
			if l, ok := m.Label(codelist.Age, code); ok {
				rows = append(rows, row{codelist.Age, code, l.IT, l.EN})
			}
		}
	}
	if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP TABLE labels (dimension VARCHAR, code VARCHAR, label_it VARCHAR, label_en VARCHAR)`); err != nil {
		return 0, err
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].dim+"\x00"+rows[i].code < rows[j].dim+"\x00"+rows[j].code })
	for _, r := range rows {
		if _, err := conn.ExecContext(ctx, `INSERT INTO labels VALUES (?, ?, ?, ?)`, r.dim, r.code, r.it, r.en); err != nil {
			return 0, err
		}
	}
	return copyToParquet(ctx, conn, "SELECT DISTINCT * FROM labels ORDER BY dimension, code", out)
}

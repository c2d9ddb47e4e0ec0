package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Cond is one condition of a lineage question: column op value.
type Cond struct {
	Column, Op, Value string
}

var (
	condRE   = regexp.MustCompile(`^\s*([a-z_][a-z0-9_]*)\s*(=|<>|!=|>=|<=|>|<|(?i:like))\s*('(?:[^']|'')*'|-?[0-9]+(?:\.[0-9]+)?)\s*$`)
	andSplit = regexp.MustCompile(`(?i)\s+AND\s+`)
)

// ParseWhere reads conditions like "territory='015' AND period='2023-01'": column, an operator (= <> !=
// >= <= > < LIKE) and a quoted string or a number, joined by AND. Nothing else is accepted, so nothing a
// user types reaches DuckDB but as a bound value.
func ParseWhere(s string) ([]Cond, error) {
	var out []Cond
	for _, part := range andSplit.Split(strings.TrimSpace(s), -1) {
		m := condRE.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("%q: want column = 'value' (operators = <> >= <= > < LIKE), joined by AND", part)
		}
		v := m[3]
		if strings.HasPrefix(v, "'") {
			v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
		}
		op := strings.ToUpper(m[2])
		if op == "!=" {
			op = "<>"
		}
		out = append(out, Cond{Column: m[1], Op: op, Value: v})
	}
	return out, nil
}

// userError is a mistake in a lineage question, to report to whoever asked.
type userError struct{ msg string }

func (e *userError) Error() string { return e.msg }

// IsUserError says whether err is a mistake in the question (an unknown column), not a failure.
func IsUserError(err error) bool {
	var u *userError
	return errors.As(err, &u)
}

// Select returns the number of rows of the Parquet files that meet every condition and up to limit of
// them: all columns, plus file (which of files) and row (its 0-based position in that file). A column the
// files lack is an error that names the columns they have.
func (d *DB) Select(ctx context.Context, files []string, conds []Cond, limit int) (int64, []map[string]any, error) {
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = quoteLiteral(f)
	}
	src := fmt.Sprintf("(SELECT * EXCLUDE (filename, file_row_number), filename AS file, file_row_number AS row FROM read_parquet([%s], filename = true, file_row_number = true))", strings.Join(quoted, ", "))
	cols, err := d.columns(ctx, src)
	if err != nil {
		return 0, nil, err
	}
	where, args := []string{"true"}, []any{}
	for _, c := range conds {
		if !cols[c.Column] {
			return 0, nil, &userError{fmt.Sprintf("no column %q (columns: %s)", c.Column, strings.Join(sortedSet(cols), ", "))}
		}
		where = append(where, fmt.Sprintf("CAST(%s AS VARCHAR) %s ?", ident(c.Column), c.Op))
		args = append(args, c.Value)
	}
	w := strings.Join(where, " AND ")
	var n int64
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM "+src+" WHERE "+w, args...).Scan(&n); err != nil {
		return 0, nil, err
	}
	rows, err := d.db.QueryContext(ctx, fmt.Sprintf("SELECT * FROM %s WHERE %s ORDER BY file, row LIMIT %d", src, w, limit), args...)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	out, err := maps(rows)
	return n, out, err
}

func (d *DB) columns(ctx context.Context, src string) (map[string]bool, error) {
	rows, err := d.db.QueryContext(ctx, "SELECT * FROM "+src+" LIMIT 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	out := map[string]bool{}
	for _, n := range names {
		out[n] = true
	}
	return out, err
}

// EventPart is one labour_events file of a release and where its rows start in their raw export.
type EventPart struct {
	Path      string // local file
	Name      string // its path in the release
	RawSHA256 string
	Offset    int64 // the rows of the parts of the same export before it
}

// MeasureCount is one measure of a flow cell recounted from the events.
type MeasureCount struct {
	Column    string `json:"column"`
	Published int64  `json:"published"`
	Recount   int64  `json:"recount"`
	Rule      string `json:"rule"` // which events count, in words
}

// EventRef is one event that counts in a cell: its raw export and 0-based data row there.
type EventRef struct {
	Measure   string `json:"measure"`
	EventType string `json:"event_type"`
	RawSHA256 string `json:"raw_sha256"`
	RawRow    int64  `json:"raw_row"`
	Part      string `json:"part"`
	PartRow   int64  `json:"part_row"`
}

// flowMeasures says which events each measure counts: the event type, and the expression of the contract
// class compared with the cell's (a transformation leaves fixed-term when it becomes permanent).
var flowMeasures = []struct{ column, eventType, class, rule string }{
	{"attivazioni", "attivazione", "contract_class", "hires in the cell's contract class"},
	{"cessazioni", "cessazione", "contract_class", "terminations in the cell's contract class"},
	{"proroghe", "proroga", "contract_class", "extensions in the cell's contract class"},
	{"trasformazioni_in", "trasformazione", "contract_class", "transformations into the cell's contract class"},
	{"trasformazioni_out", "trasformazione", "CASE WHEN contract_class = 'permanent' THEN 'fixed_term' ELSE contract_class END",
		"transformations out of the cell's contract class (fixed-term for those that became permanent)"},
}

// RecountFlow recounts one cell of a flow table from the events: every measure, and up to sample events
// of each with their raw row.
func (d *DB) RecountFlow(ctx context.Context, table string, parts []EventPart, cell map[string]any, sample int) ([]MeasureCount, []EventRef, error) {
	period, ok := FlowPeriods[table]
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a flow table (%v)", table, sortedSet(map[string]bool{"labour_flows": true, "labour_flows_quarterly": true, "labour_flows_yearly": true}))
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	var views []string
	for _, p := range parts {
		views = append(views, fmt.Sprintf("SELECT *, file_row_number AS part_row, file_row_number + %d AS raw_row, %s AS raw_export, %s AS part FROM read_parquet(%s, file_row_number = true)",
			p.Offset, quoteLiteral(p.RawSHA256), quoteLiteral(p.Name), quoteLiteral(p.Path)))
	}
	if _, err := conn.ExecContext(ctx, "CREATE OR REPLACE TEMP VIEW ev AS "+strings.Join(views, " UNION ALL ")); err != nil {
		return nil, nil, err
	}
	where := []string{"NOT flag_date_implausible", "NOT flag_outside_lombardy", "territory <> 'UNMAPPED'",
		"event_month >= DATE " + quoteLiteral(FlowsFrom.Format("2006-01-02")), period + " = ?"}
	args := []any{fmt.Sprint(cell["period"])}
	if t := fmt.Sprint(cell["territory"]); t != "03" {
		where, args = append(where, "territory = ?"), append(args, t)
	}
	if s := fmt.Sprint(cell["sex"]); s != "T" {
		where, args = append(where, "sex = ?"), append(args, s)
	}
	for _, c := range []string{"sector_section", "age_class", "citizenship_group"} {
		where, args = append(where, c+" IS NOT DISTINCT FROM ?"), append(args, cell[c])
	}
	base := strings.Join(where, " AND ")
	class := fmt.Sprint(cell["contract_class"])
	// One pass for every measure's count, then a small sample per measure.
	var filters []string
	for _, m := range flowMeasures {
		filters = append(filters, fmt.Sprintf("count(*) FILTER (WHERE event_type = %s AND %s = %s)", quoteLiteral(m.eventType), m.class, quoteLiteral(class)))
	}
	recount := make([]int64, len(flowMeasures))
	dst := make([]any, len(recount))
	for i := range recount {
		dst[i] = &recount[i]
	}
	if err := conn.QueryRowContext(ctx, "SELECT "+strings.Join(filters, ", ")+" FROM ev WHERE "+base, args...).Scan(dst...); err != nil {
		return nil, nil, err
	}
	var counts []MeasureCount
	var refs []EventRef
	for i, m := range flowMeasures {
		counts = append(counts, MeasureCount{Column: m.column, Published: toInt(cell[m.column]), Recount: recount[i], Rule: m.rule})
		if recount[i] == 0 {
			continue
		}
		w := base + " AND event_type = ? AND " + m.class + " = ?"
		a := append(append([]any{}, args...), m.eventType, class)
		rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT raw_export, raw_row, part, part_row FROM ev WHERE %s ORDER BY raw_export, raw_row LIMIT %d", w, sample), a...)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			r := EventRef{Measure: m.column, EventType: m.eventType}
			if err := rows.Scan(&r.RawSHA256, &r.RawRow, &r.Part, &r.PartRow); err != nil {
				rows.Close()
				return nil, nil, err
			}
			refs = append(refs, r)
		}
		rows.Close()
	}
	return counts, refs, nil
}

// Int reads an integer column's value as DuckDB returns it.
func Int(v any) int64 { return toInt(v) }

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case uint64:
		return int64(x)
	case float64:
		return int64(x)
	}
	return 0
}

// maps reads every row as a column → value map.
func maps(rows *sql.Rows) ([]map[string]any, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := map[string]any{}
		for i, c := range cols {
			m[c] = vals[i]
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

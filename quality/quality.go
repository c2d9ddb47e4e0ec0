// Package quality runs the declarative quality gates of checks.yaml on published tables with DuckDB and
// reports, per check, its query, severity, failing count and a sample of failing rows. A check of severity
// error that fails blocks the release; a run in which no check ran is itself a failure.
package quality

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
)

//go:embed checks.yaml
var checksYAML []byte

// Check is one declared check.
type Check struct {
	Kind      string   `yaml:"check" json:"check"`
	Columns   []string `yaml:"columns" json:"columns,omitempty"`
	Column    string   `yaml:"column" json:"column,omitempty"`
	Values    []string `yaml:"values" json:"values,omitempty"`
	Value     string   `yaml:"value" json:"value,omitempty"`
	Min       *float64 `yaml:"min" json:"min,omitempty"`
	Max       *float64 `yaml:"max" json:"max,omitempty"`
	MaxDrop   *float64 `yaml:"max_drop" json:"max_drop,omitempty"`
	Tolerance *float64 `yaml:"tolerance" json:"tolerance,omitempty"`
	Key       []string `yaml:"key" json:"key,omitempty"`
	By        []string `yaml:"by" json:"by,omitempty"`
	Freq      string   `yaml:"freq" json:"freq,omitempty"`
	List      string   `yaml:"list" json:"list,omitempty"`
	Severity  string   `yaml:"severity" json:"severity"`
}

// Checks returns the declared checks by table.
func Checks() (map[string][]Check, error) {
	var out map[string][]Check
	dec := yaml.NewDecoder(strings.NewReader(string(checksYAML)))
	dec.KnownFields(true)
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("checks.yaml: %w", err)
	}
	for table, cs := range out {
		for _, c := range cs {
			if c.Severity != "error" && c.Severity != "warn" {
				return nil, fmt.Errorf("checks.yaml: %s %s: severity %q", table, c.Kind, c.Severity)
			}
		}
	}
	return out, nil
}

// Result is one check's outcome.
type Result struct {
	Table    string   `json:"table"`
	Check    string   `json:"check"`
	Name     string   `json:"name"`
	Severity string   `json:"severity"`
	Query    string   `json:"query"`
	Failing  int64    `json:"failing"`
	Sample   []string `json:"sample,omitempty"`
	Passed   bool     `json:"passed"`
	Detail   string   `json:"detail,omitempty"`
}

// Report is every check of a release build.
type Report struct {
	Release string   `json:"release,omitempty"`
	Ran     int      `json:"ran"`
	Errors  int      `json:"errors"`
	Warns   int      `json:"warnings"`
	Results []Result `json:"results"`
}

// Add appends results and updates the counts.
func (r *Report) Add(rs ...Result) {
	for _, x := range rs {
		r.Results = append(r.Results, x)
		r.Ran++
		if !x.Passed {
			if x.Severity == "error" {
				r.Errors++
			} else {
				r.Warns++
			}
		}
	}
}

// Blocking returns the failed checks of severity error, and a failure when no check ran at all.
func (r *Report) Blocking() []string {
	var out []string
	if r.Ran == 0 {
		return []string{"no quality check ran"}
	}
	for _, x := range r.Results {
		if !x.Passed && x.Severity == "error" {
			out = append(out, fmt.Sprintf("%s %s: %d failing", x.Table, x.Name, x.Failing))
		}
	}
	return out
}

// Previous is what the previous release says of a table, for the checks that compare.
type Previous struct {
	Rows int64
	From string // SQL FROM expression of the previous table, "" when unavailable
}

// Run runs the checks of table over the SQL FROM expression from (e.g. read_parquet('…')); code_list
// checks use the code lists of codes (nil: those embedded in this binary).
func Run(ctx context.Context, db *sql.DB, codes *codelist.Model, table, from string, checks []Check, prev *Previous) []Result {
	if codes == nil {
		codes, _ = codelist.LoadModel()
	}
	var out []Result
	for _, c := range checks {
		r := Result{Table: table, Check: c.Kind, Severity: c.Severity, Name: name(c)}
		count, sample, detail, skip := build(c, codes, from, prev)
		if skip {
			continue // nothing to compare with (first release)
		}
		r.Query, r.Detail = count, detail
		if err := db.QueryRowContext(ctx, count).Scan(&r.Failing); err != nil {
			r.Failing, r.Detail = -1, "query failed: "+err.Error()
			out = append(out, r)
			continue
		}
		r.Passed = r.Failing == 0
		if !r.Passed && sample != "" {
			r.Sample = sampleRows(ctx, db, sample)
		}
		out = append(out, r)
	}
	return out
}

func name(c Check) string {
	switch {
	case c.Column != "" && c.Value != "":
		return fmt.Sprintf("%s(%s=%s)", c.Kind, c.Column, c.Value)
	case c.Column != "":
		return fmt.Sprintf("%s(%s)", c.Kind, c.Column)
	case len(c.Columns) > 0:
		return fmt.Sprintf("%s(%s)", c.Kind, strings.Join(c.Columns, ","))
	}
	return c.Kind
}

func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func idents(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = ident(c)
	}
	return strings.Join(out, ", ")
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// build returns the query counting failing rows, a query sampling them, a detail, and whether to skip.
func build(c Check, codes *codelist.Model, from string, prev *Previous) (count, sample, detail string, skip bool) {
	where := ""
	switch c.Kind {
	case "not_null":
		conds := make([]string, len(c.Columns))
		for i, col := range c.Columns {
			conds[i] = ident(col) + " IS NULL"
		}
		where = strings.Join(conds, " OR ")
	case "accepted_values":
		vals := make([]string, len(c.Values))
		for i, v := range c.Values {
			vals[i] = literal(v)
		}
		where = fmt.Sprintf("%s IS NOT NULL AND CAST(%s AS VARCHAR) NOT IN (%s)", ident(c.Column), ident(c.Column), strings.Join(vals, ", "))
	case "code_list":
		where = codeListWhere(c, codes)
	case "range":
		var conds []string
		if c.Min != nil {
			conds = append(conds, fmt.Sprintf("%s < %v", ident(c.Column), *c.Min))
		}
		if c.Max != nil {
			conds = append(conds, fmt.Sprintf("%s > %v", ident(c.Column), *c.Max))
		}
		where = strings.Join(conds, " OR ")
	case "unique":
		g := fmt.Sprintf("SELECT %s, count(*) AS n FROM %s GROUP BY ALL HAVING count(*) > 1", idents(c.Columns), from)
		return "SELECT count(*) FROM (" + g + ")", g + " ORDER BY n DESC LIMIT 5", "", false
	case "max_share":
		q := fmt.Sprintf(`SELECT CASE WHEN count(*) FILTER (WHERE CAST(%s AS VARCHAR) = %s) > %v * count(*) THEN count(*) FILTER (WHERE CAST(%s AS VARCHAR) = %s) ELSE 0 END FROM %s`,
			ident(c.Column), literal(c.Value), *c.Max, ident(c.Column), literal(c.Value), from)
		return q, "", fmt.Sprintf("fails when more than %.1f%% of rows have %s = %s", *c.Max*100, c.Column, c.Value), false
	case "period_continuity":
		parse := map[string]string{
			"M": "CAST(strptime({c} || '-01', '%Y-%m-%d') AS DATE)",
			"Q": "make_date(CAST(left({c}, 4) AS INTEGER), CAST(right({c}, 1) AS INTEGER) * 3 - 2, 1)",
			"A": "make_date(CAST({c} AS INTEGER), 1, 1)",
		}[c.Freq]
		months := map[string]int{"M": 1, "Q": 3, "A": 12}[c.Freq]
		if parse == "" {
			return "SELECT -1", "", "unknown freq " + c.Freq, false
		}
		by, byCols := "", ""
		if len(c.By) > 0 {
			by, byCols = "GROUP BY "+idents(c.By), idents(c.By)+", "
		}
		g := fmt.Sprintf(`SELECT %scount(DISTINCT _p) AS have, CAST(datediff('month', min(_p), max(_p)) / %d + 1 AS BIGINT) AS want
			FROM (SELECT *, %s AS _p FROM %s) %s`, byCols, months, strings.ReplaceAll(parse, "{c}", ident(c.Column)), from, by)
		return "SELECT COALESCE(sum(want - have), 0) FROM (" + g + ")", "SELECT * FROM (" + g + ") WHERE want > have LIMIT 5", "missing periods", false
	case "row_count_change":
		if prev == nil || prev.Rows == 0 {
			return "", "", "", true
		}
		q := fmt.Sprintf("SELECT CASE WHEN count(*) < %d * (1 - %v) THEN %d - count(*) ELSE 0 END FROM %s", prev.Rows, *c.MaxDrop, prev.Rows, from)
		return q, "", fmt.Sprintf("previous release had %d rows; fails when more than %.0f%% vanish", prev.Rows, *c.MaxDrop*100), false
	case "revisions":
		if prev == nil || prev.From == "" {
			return "", "", "", true
		}
		on := make([]string, len(c.Key))
		for i, k := range c.Key {
			on[i] = fmt.Sprintf("n.%s IS NOT DISTINCT FROM o.%s", ident(k), ident(k))
		}
		col := ident(c.Column)
		changed := fmt.Sprintf("abs(n.%s - o.%s) > %v * greatest(abs(o.%s), 1e-9)", col, col, *c.Tolerance, col)
		j := fmt.Sprintf("FROM %s o JOIN %s n ON %s", prev.From, from, strings.Join(on, " AND "))
		q := fmt.Sprintf("SELECT CASE WHEN count(*) FILTER (WHERE %s) > %v * count(*) THEN count(*) FILTER (WHERE %s) ELSE 0 END %s", changed, *c.Max, changed, j)
		s := fmt.Sprintf("SELECT %s, o.%s AS previous, n.%s AS now %s WHERE %s LIMIT 5", prefixed("n", c.Key), col, col, j, changed)
		return q, s, fmt.Sprintf("fails when more than %.0f%% of previous values moved by more than %.0f%%", *c.Max*100, *c.Tolerance*100), false
	default:
		return "SELECT -1", "", "unknown check " + c.Kind, false
	}
	count = fmt.Sprintf("SELECT count(*) FROM %s WHERE %s", from, where)
	sample = fmt.Sprintf("SELECT * FROM %s WHERE %s LIMIT 5", from, where)
	return count, sample, "", false
}

// codeListWhere selects the rows whose column holds a code outside the common model's code list c.List
// (see package codelist) without naming the column in their unmapped flag: a code that is neither mapped
// nor flagged, which the harmonization must never publish.
func codeListWhere(c Check, m *codelist.Model) string {
	if m == nil {
		return "true" // the code lists did not load: every row fails, loudly
	}
	codes := make([]string, 0, len(m.Codes(c.List)))
	for code := range m.Codes(c.List) {
		codes = append(codes, literal(code))
	}
	sort.Strings(codes)
	if len(codes) == 0 {
		return "true" // an unknown list fails every row, loudly
	}
	col := ident(c.Column)
	outside := fmt.Sprintf("%s NOT IN (%s)", col, strings.Join(codes, ", "))
	if c.List == codelist.Age {
		outside += " AND NOT regexp_full_match(" + col + ", " + literal(codelist.AgePattern) + ")"
	}
	flagged := fmt.Sprintf("list_contains(string_split(COALESCE(unmapped, ''), ','), %s)", literal(c.Column))
	return fmt.Sprintf("(%s IS NULL OR (%s AND NOT %s))", col, outside, flagged)
}

func prefixed(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + ident(c)
	}
	return strings.Join(out, ", ")
}

func sampleRows(ctx context.Context, db *sql.DB, q string) []string {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return []string{"sample failed: " + err.Error()}
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if rows.Scan(ptrs...) != nil {
			break
		}
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = fmt.Sprintf("%s=%v", c, vals[i])
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

// Tables returns the tables with declared checks, sorted.
func Tables(all map[string][]Check) []string {
	out := make([]string, 0, len(all))
	for t := range all {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// ChecksYAML returns the declared checks as embedded in this binary.
func ChecksYAML() []byte { return checksYAML }

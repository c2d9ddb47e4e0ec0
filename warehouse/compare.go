package warehouse

import (
	"context"
	"fmt"
	"strings"
)

// CompareSpec compares one table of two releases on its key.
type CompareSpec struct {
	Old, New string   // Parquet files of the previous and the new release
	Key      []string // the columns that identify a row
	Measures []string // the columns whose change is a revision
	Sample   int      // how many revisions to return
}

// Revision is one published figure that changed.
type Revision struct {
	Key    map[string]string `json:"key"`
	Column string            `json:"column"`
	Old    string            `json:"old"`
	New    string            `json:"new"`
}

// Revisions counts the rows present in both files whose measures differ, and returns a sample of them
// (one measure each, ordered by key).
func (d *DB) Revisions(ctx context.Context, spec CompareSpec) (int64, []Revision, error) {
	on := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		on[i] = fmt.Sprintf("o.%s IS NOT DISTINCT FROM n.%s", ident(k), ident(k))
	}
	var differs, firstCol, oldVal, newVal []string
	for _, m := range spec.Measures {
		c := "o." + ident(m) + " IS DISTINCT FROM n." + ident(m)
		differs = append(differs, c)
		firstCol = append(firstCol, fmt.Sprintf("WHEN %s THEN '%s'", c, m))
		oldVal = append(oldVal, fmt.Sprintf("WHEN %s THEN CAST(o.%s AS VARCHAR)", c, ident(m)))
		newVal = append(newVal, fmt.Sprintf("WHEN %s THEN CAST(n.%s AS VARCHAR)", c, ident(m)))
	}
	from := fmt.Sprintf("read_parquet(%s) o JOIN read_parquet(%s) n ON %s WHERE %s", quoteLiteral(spec.Old), quoteLiteral(spec.New),
		strings.Join(on, " AND "), strings.Join(differs, " OR "))
	var n int64
	if err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM "+from).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("compare %v: %w", spec.Key, err)
	}
	keys := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		keys[i] = "CAST(n." + ident(k) + " AS VARCHAR)"
	}
	q := fmt.Sprintf("SELECT %s, CASE %s END, coalesce(CASE %s END, ''), coalesce(CASE %s END, '') FROM %s ORDER BY %s LIMIT %d",
		strings.Join(keys, ", "), strings.Join(firstCol, " "), strings.Join(oldVal, " "), strings.Join(newVal, " "), from,
		strings.Join(keys, ", "), spec.Sample)
	rows, err := d.db.QueryContext(ctx, q)
	if err != nil {
		return 0, nil, fmt.Errorf("compare %v: %w", spec.Key, err)
	}
	defer rows.Close()
	var out []Revision
	for rows.Next() {
		vals := make([]any, len(spec.Key)+3)
		strs := make([]*string, len(vals))
		for i := range vals {
			strs[i] = new(string)
			vals[i] = &nullable{s: strs[i]}
		}
		if err := rows.Scan(vals...); err != nil {
			return 0, nil, err
		}
		r := Revision{Key: map[string]string{}, Column: *strs[len(spec.Key)], Old: *strs[len(spec.Key)+1], New: *strs[len(spec.Key)+2]}
		for i, k := range spec.Key {
			r.Key[k] = *strs[i]
		}
		out = append(out, r)
	}
	return n, out, rows.Err()
}

// NewPeriods lists, per group (e.g. source and dataset), the periods the new file has and the old does not.
func (d *DB) NewPeriods(ctx context.Context, oldFile, newFile string, group []string) (map[string][]string, error) {
	g := make([]string, len(group))
	for i, c := range group {
		g[i] = ident(c)
	}
	cols := strings.Join(g, ", ")
	if cols == "" {
		cols = "''"
	}
	q := fmt.Sprintf(`SELECT concat_ws('/', %[1]s), period FROM (
		SELECT DISTINCT %[1]s, period FROM read_parquet(%[2]s) EXCEPT SELECT DISTINCT %[1]s, period FROM read_parquet(%[3]s))
		ORDER BY 1, 2`, cols, quoteLiteral(newFile), quoteLiteral(oldFile))
	if oldFile == "" {
		q = fmt.Sprintf(`SELECT DISTINCT concat_ws('/', %[1]s), period FROM read_parquet(%[2]s) ORDER BY 1, 2`, cols, quoteLiteral(newFile))
	}
	rows, err := d.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("new periods: %w", err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var k, p string
		if err := rows.Scan(&k, &p); err != nil {
			return nil, err
		}
		out[k] = append(out[k], p)
	}
	return out, rows.Err()
}

// ident quotes a column name.
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// nullable scans a possibly NULL text into a string ("" for NULL).
type nullable struct{ s *string }

func (n *nullable) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*n.s = ""
	case string:
		*n.s = x
	case []byte:
		*n.s = string(x)
	default:
		*n.s = fmt.Sprint(x)
	}
	return nil
}

// RowDifference counts the rows only in a and only in b (as multisets, in any order).
func (d *DB) RowDifference(ctx context.Context, a, b string) (int64, int64, error) {
	var onlyA, onlyB int64
	q := "SELECT count(*) FROM (SELECT * FROM read_parquet(%s) EXCEPT ALL SELECT * FROM read_parquet(%s))"
	if err := d.db.QueryRowContext(ctx, fmt.Sprintf(q, quoteLiteral(a), quoteLiteral(b))).Scan(&onlyA); err != nil {
		return 0, 0, err
	}
	if err := d.db.QueryRowContext(ctx, fmt.Sprintf(q, quoteLiteral(b), quoteLiteral(a))).Scan(&onlyB); err != nil {
		return 0, 0, err
	}
	return onlyA, onlyB, nil
}

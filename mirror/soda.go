package mirror

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SODA answers the SoQL queries the Socrata connector sends, over a recorded table: a CSV whose header
// names the fields and the system fields :id, :created_at and :updated_at. It is what a mirror of a
// paged, incremental API has to be: the recording of one table, queried. The subset understood is
//
//	$select=count(*) AS n, max(:updated_at) AS last_updated, min(:created_at) AS first_created  (.json)
//	$where=<cond> [AND <cond>…] with <cond> = <field> <op> '<value>' (op one of > >= < <= =) or 1=1
//	$order=:id, $limit, $offset  (.csv: the fields, not the system fields, as Socrata writes them:
//	                              every header and every value in double quotes)
//
// Anything else is a 400 with Socrata's error shape, so a connector that drifts from it fails loudly.
type SODA struct {
	Table fs.FS
	Path  string // the recorded table in Table
	// MinimalQuoting writes values quoted only where CSV needs it, as other CSV writers do, instead of
	// quoting every value as Socrata does.
	MinimalQuoting bool
}

var cond = regexp.MustCompile(`^\s*(:?[a-z_]+)\s*(>=|<=|>|<|=)\s*'([^']*)'\s*$`)

const sodaAggregate = "count(*) AS n, max(:updated_at) AS last_updated, min(:created_at) AS first_created"

// ServeHTTP implements http.Handler.
func (s SODA) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, err := fs.ReadFile(s.Table, s.Path)
	if err != nil {
		sodaError(w, http.StatusNotFound, "not-found", "no recorded table "+s.Path)
		return
	}
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(recs) == 0 {
		sodaError(w, http.StatusInternalServerError, "internal", "recorded table: "+fmt.Sprint(err))
		return
	}
	header, rows := recs[0], recs[1:]
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	q := r.URL.Query()
	for k := range q {
		if !slices.Contains([]string{"$select", "$where", "$order", "$limit", "$offset"}, k) {
			sodaError(w, http.StatusBadRequest, "query.soql.no-such-parameter", "unsupported parameter "+k)
			return
		}
	}
	if where := q.Get("$where"); where != "" && strings.TrimSpace(where) != "1=1" {
		for _, part := range strings.Split(where, " AND ") {
			m := cond.FindStringSubmatch(part)
			if m == nil {
				sodaError(w, http.StatusBadRequest, "query.soql.type-mismatch", "cannot parse $where "+part)
				return
			}
			i, ok := col[m[1]]
			if !ok {
				sodaError(w, http.StatusBadRequest, "query.soql.no-such-column", "no such column: "+m[1])
				return
			}
			rows = slices.DeleteFunc(rows, func(row []string) bool { return !compare(row[i], m[2], m[3]) })
		}
	}
	if strings.HasSuffix(r.URL.Path, ".json") {
		if q.Get("$select") != sodaAggregate {
			sodaError(w, http.StatusBadRequest, "query.soql.unsupported", "this mirror answers .json only for $select="+sodaAggregate)
			return
		}
		agg := map[string]string{"n": strconv.Itoa(len(rows))}
		for _, row := range rows {
			if u := row[col[":updated_at"]]; u > agg["last_updated"] {
				agg["last_updated"] = u
			}
			if c := row[col[":created_at"]]; agg["first_created"] == "" || c < agg["first_created"] {
				agg["first_created"] = c
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		json.NewEncoder(w).Encode([]map[string]string{agg})
		return
	}
	if o := q.Get("$order"); o != ":id" && o != "" {
		sodaError(w, http.StatusBadRequest, "query.soql.unsupported", "this mirror orders only by :id")
		return
	}
	slices.SortStableFunc(rows, func(a, b []string) int { return strings.Compare(a[col[":id"]], b[col[":id"]]) })
	limit, offset := 1000, 0 // Socrata's default page
	if v := q.Get("$limit"); v != "" {
		limit, _ = strconv.Atoi(v)
	}
	if v := q.Get("$offset"); v != "" {
		offset, _ = strconv.Atoi(v)
	}
	rows = rows[min(offset, len(rows)):min(offset+limit, len(rows))]
	var fields []int
	for i, h := range header {
		if !strings.HasPrefix(h, ":") {
			fields = append(fields, i)
		}
	}
	var b bytes.Buffer
	quoted := make([]string, len(fields))
	for j, i := range fields {
		quoted[j] = quoteCSV(header[i])
	}
	b.WriteString(strings.Join(quoted, ",") + "\n") // Socrata quotes every header
	cw := csv.NewWriter(&b)
	out := make([]string, len(fields))
	for _, row := range rows {
		for j, i := range fields {
			out[j] = row[i]
			if !s.MinimalQuoting {
				out[j] = quoteCSV(row[i])
			}
		}
		if s.MinimalQuoting {
			cw.Write(out)
			continue
		}
		b.WriteString(strings.Join(out, ",") + "\n")
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=UTF-8")
	w.Header().Set("X-SODA2-Fields", fmt.Sprintf("%q", quoted))
	w.Write(b.Bytes())
}

func compare(v, op, x string) bool {
	c := strings.Compare(v, x) // timestamps and :id compare as strings
	switch op {
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	}
	return c == 0
}

func sodaError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"code": code, "error": true, "message": msg})
}

// quoteCSV writes a CSV value in double quotes, a quote inside doubled, as Socrata writes every value.
func quoteCSV(v string) string { return `"` + strings.ReplaceAll(v, `"`, `""`) + `"` }

package quality

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
)

func TestDeclaredChecksParse(t *testing.T) {
	all, err := Checks()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"observations", "labour_events", "labour_flows", "labour_balances", "territories"} {
		if len(all[table]) == 0 {
			t.Errorf("no checks for %s", table)
		}
	}
}

func f(v float64) *float64 { return &v }

func TestEachKindFailsOnBadRowsAndPassesOnGood(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec := func(q string) {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`CREATE TABLE t AS SELECT * FROM (VALUES ('015', '2024-01', 'fixed_term', 5.0), ('015', '2024-02', 'fixed_term', 7.0),
		('015', '2024-04', NULL, -1.0), ('016', '2024-01', 'permanent', 3.0), ('016', '2024-01', 'UNMAPPED', 3.0)) v(territory, period, class, value)`)
	mustExec(`CREATE TABLE prev AS SELECT * FROM (VALUES ('015', '2024-01', 'fixed_term', 5.0), ('015', '2024-02', 'fixed_term', 2.0)) v(territory, period, class, value)`)
	tests := []struct {
		check   Check
		failing int64
	}{
		{Check{Kind: "not_null", Columns: []string{"territory", "class"}}, 1},
		{Check{Kind: "not_null", Columns: []string{"territory"}}, 0},
		{Check{Kind: "accepted_values", Column: "class", Values: []string{"fixed_term", "permanent"}}, 1},
		{Check{Kind: "unique", Columns: []string{"territory", "period"}}, 1},
		{Check{Kind: "unique", Columns: []string{"territory", "period", "class"}}, 0},
		{Check{Kind: "range", Column: "value", Min: f(0)}, 1},
		{Check{Kind: "max_share", Column: "class", Value: "UNMAPPED", Max: f(0.1)}, 1},
		{Check{Kind: "max_share", Column: "class", Value: "UNMAPPED", Max: f(0.5)}, 0},
		{Check{Kind: "period_continuity", Column: "period", Freq: "M", By: []string{"territory"}}, 1}, // 015 lacks 2024-03
		{Check{Kind: "row_count_change", MaxDrop: f(0.1)}, 5},                                         // 10 → 5
		{Check{Kind: "revisions", Key: []string{"territory", "period"}, Column: "value", Tolerance: f(0.05), Max: f(0.4)}, 1},
	}
	for _, tt := range tests {
		tt.check.Severity = "error"
		rs := Run(context.Background(), db, nil, "t", "t", []Check{tt.check}, &Previous{Rows: 10, From: "prev"})
		if len(rs) != 1 {
			t.Fatalf("%s: %d results", name(tt.check), len(rs))
		}
		if rs[0].Failing != tt.failing || rs[0].Passed != (tt.failing == 0) {
			t.Errorf("%s: failing %d (passed %v, %s), want %d", name(tt.check), rs[0].Failing, rs[0].Passed, rs[0].Detail, tt.failing)
		}
		if tt.failing > 0 && rs[0].Query == "" {
			t.Errorf("%s: no query reported", name(tt.check))
		}
	}
	var rep Report
	if got := rep.Blocking(); len(got) != 1 || got[0] != "no quality check ran" {
		t.Errorf("an empty run must block, got %v", got)
	}
}

// code_list passes codes of the list, age classes of its form and flagged codes; it fails a code that is
// neither listed nor flagged, and an empty one.
func TestCodeList(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE o AS SELECT * FROM (VALUES
		('T', 'TOTAL', 'ED3_4', ''), ('F', 'Y15-29', 'ED1', ''), ('M', 'Y6', 'ISTITUTO COMPRENSIVO', 'education'),
		('9', '6 anni', 'PRIMARIA', 'indicator'), (NULL, 'Y_GE65', 'TOTAL', 'age,education')) v(sex, age, education, unmapped)`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		column  string
		failing int64
	}{{"sex", 2}, {"age", 1}, {"education", 1}} {
		r := Run(context.Background(), db, nil, "o", "o", []Check{{Kind: "code_list", Column: c.column, List: c.column, Severity: "error"}}, nil)
		if len(r) != 1 || r[0].Failing != c.failing {
			t.Errorf("code_list(%s): %+v, want %d failing", c.column, r, c.failing)
		}
	}
}

package warehouse

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/osservatorio-lombardia/osservatorio/cogen"
	"github.com/osservatorio-lombardia/osservatorio/fault"
)

var fetched = time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)

// harmonizeCO harmonizes one export into dir and returns its events and flows part paths.
func harmonizeCO(t *testing.T, db *DB, csvPath, eventType, dir string) (string, string, COStats) {
	t.Helper()
	ev, fl := filepath.Join(dir, eventType+".parquet"), filepath.Join(dir, eventType+"-flows.parquet")
	st, err := db.HarmonizeCO(context.Background(), CORequest{CSVPath: csvPath, EventType: eventType, RawSHA256: strings.Repeat("a", 64),
		RefDate: fetched, EventsOut: ev, FlowsOut: fl})
	if err != nil {
		t.Fatal(err)
	}
	return ev, fl, st
}

func openDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func queryRows(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
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
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func TestCOEventsHarmonizedByHand(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	ev, _, st := harmonizeCO(t, db, "testdata/co_attivati_small.csv", "attivazione", dir)
	if st.Events != 8 {
		t.Fatalf("events = %d, want 8", st.Events)
	}
	got := queryRows(t, db.SQL(), `SELECT territory, sex, age_class, citizenship_group, education_isced, sector_section, contract_class, working_time,
		flag_age_implausible, flag_date_implausible, flag_outside_lombardy FROM read_parquet('`+ev+`')`)
	want := []string{
		"015 M Y25-34 IT ED2 I fixed_term full_time false false false",
		"016 F Y45-54 EU ED3 I permanent part_time false false false",
		"015 F Y_LT25 NON_EU ED6 I fixed_term not_defined false false false", // mixed case, double space, empty working time
		"015 M UNKNOWN IT ED2 I fixed_term not_defined true false false",     // age 221
		"001 M Y35-44 IT ED2 I fixed_term full_time false false true",        // Torino
		"015 F Y35-44 IT ED2 I fixed_term full_time false true false",        // year 2201
		"015 F Y35-44 IT ED2 I fixed_term full_time false false false",
		"108 M Y25-34 UNMAPPED ED3 UNMAPPED intermittent full_time false false false", // unknown sector and country; À
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	wantUnmapped := []Unmapped{{"SETTOREECONOMICODETTAGLIO", "Attività di sorveglianza lunare", 1}, {"ITALIANO", "ATLANTIDE", 1}}
	if diff := cmp.Diff(wantUnmapped, st.Unmapped); diff != "" {
		t.Errorf("unmapped (-want +got):\n%s", diff)
	}
	if st.Flags["flag_age_implausible"] != 1 || st.Flags["flag_date_implausible"] != 1 || st.Flags["flag_outside_lombardy"] != 1 {
		t.Errorf("flags = %v", st.Flags)
	}
}

func TestCOFlowsByHand(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	var parts []string
	for kind, typ := range map[string]string{"attivati": "attivazione", "cessati": "cessazione", "trasformati": "trasformazione"} {
		_, fl, _ := harmonizeCO(t, db, "testdata/co_"+kind+"_small.csv", typ, dir)
		parts = append(parts, fl)
	}
	rows, err := db.BuildFlows(context.Background(), parts, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rows["labour_balances"] == 0 {
		t.Fatal("no balances")
	}
	yearly := filepath.Join(dir, "labour_flows_yearly.parquet")
	got := queryRows(t, db.SQL(), `SELECT territory, contract_class, sum(attivazioni), sum(cessazioni), sum(trasformazioni_in), sum(trasformazioni_out), sum(saldo)
		FROM read_parquet('`+yearly+`') WHERE period = '2021' AND sex = 'T' GROUP BY ALL ORDER BY ALL`)
	want := []string{
		// Milano fixed-term: 3 hires (one with age 221 counts; Torino, 2201 and 2016 do not), 1 termination,
		// 1 transformation to permanent out.
		"015 fixed_term 3 1 0 1 1",
		"015 permanent 0 0 1 0 1",
		"016 permanent 1 1 0 0 0",
		// Lombardy: the sum of its provinces.
		"03 fixed_term 3 1 0 1 1",
		"03 intermittent 1 0 0 0 1",
		"03 permanent 1 1 1 0 1",
		"108 intermittent 1 0 0 0 1",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("2021 flows (-want +got):\n%s", diff)
	}
	balances := filepath.Join(dir, "labour_balances.parquet")
	got = queryRows(t, db.SQL(), `SELECT territory, contract_class, period, saldo, saldo_cumulato FROM read_parquet('`+balances+`')
		WHERE territory = '03' AND contract_class = 'TOTAL' AND period IN ('2017-01', '2021-03', '2021-04', '2021-06')`)
	want = []string{"03 TOTAL 2017-01 0 0", "03 TOTAL 2021-03 1 1", "03 TOTAL 2021-04 1 2", "03 TOTAL 2021-06 0 3"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("regional balances (-want +got):\n%s", diff)
	}
}

func TestCOFlowIdentities(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	var parts []string
	for i, kind := range []string{"attivati", "cessati", "prorogati", "trasformati"} {
		path := filepath.Join(dir, kind+".csv")
		f, _ := os.Create(path)
		if _, err := cogen.Write(f, cogen.Options{Events: 20000, Seed: uint64(i + 1), Kind: kind}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, fl, _ := harmonizeCO(t, db, path, EventTypes[kind], dir)
		parts = append(parts, fl)
	}
	if _, err := db.BuildFlows(context.Background(), parts, dir); err != nil {
		t.Fatal(err)
	}
	tab := func(name string) string { return "read_parquet('" + filepath.Join(dir, name+".parquet") + "')" }
	checks := map[string]string{
		"sum over months equals the year": `SELECT count(*) FROM (SELECT territory, left(period, 4) y, contract_class, sector_section, sex, age_class, citizenship_group,
			sum(attivazioni) a, sum(cessazioni) c, sum(proroghe) p, sum(trasformazioni_in) ti, sum(trasformazioni_out) tout, sum(saldo) s FROM ` + tab("labour_flows") + ` GROUP BY ALL) m
			FULL JOIN ` + tab("labour_flows_yearly") + ` y ON m.territory = y.territory AND m.y = y.period AND m.contract_class = y.contract_class
			AND m.sector_section = y.sector_section AND m.sex = y.sex AND m.age_class = y.age_class AND m.citizenship_group = y.citizenship_group
			WHERE m.a IS DISTINCT FROM y.attivazioni OR m.c IS DISTINCT FROM y.cessazioni OR m.p IS DISTINCT FROM y.proroghe
			   OR m.ti IS DISTINCT FROM y.trasformazioni_in OR m.tout IS DISTINCT FROM y.trasformazioni_out OR m.s IS DISTINCT FROM y.saldo`,
		"sum over quarters equals the year": `SELECT count(*) FROM (SELECT left(period, 4) y, sum(saldo) s, sum(attivazioni) a FROM ` + tab("labour_flows_quarterly") + ` GROUP BY 1) q
			FULL JOIN (SELECT period y, sum(saldo) s, sum(attivazioni) a FROM ` + tab("labour_flows_yearly") + ` GROUP BY 1) y USING (y)
			WHERE q.s IS DISTINCT FROM y.s OR q.a IS DISTINCT FROM y.a`,
		"sum over provinces equals the region": `SELECT count(*) FROM (SELECT period, contract_class, sum(saldo) s FROM ` + tab("labour_balances") + `
			WHERE territory <> '03' GROUP BY ALL) p FULL JOIN (SELECT period, contract_class, saldo s FROM ` + tab("labour_balances") + ` WHERE territory = '03') r
			USING (period, contract_class) WHERE p.s IS DISTINCT FROM r.s`,
		"sum over contract classes equals the total": `SELECT count(*) FROM (SELECT territory, period, sum(saldo) s FROM ` + tab("labour_balances") + `
			WHERE contract_class <> 'TOTAL' GROUP BY ALL) c FULL JOIN (SELECT territory, period, saldo s FROM ` + tab("labour_balances") + ` WHERE contract_class = 'TOTAL') t
			USING (territory, period) WHERE c.s IS DISTINCT FROM t.s`,
		"sex totals are the sum of the sexes": `SELECT count(*) FROM (SELECT territory, period, contract_class, sector_section, age_class, citizenship_group,
			sum(attivazioni) a, sum(saldo) s FROM ` + tab("labour_flows") + ` WHERE sex <> 'T' GROUP BY ALL) m
			FULL JOIN (SELECT * FROM ` + tab("labour_flows") + ` WHERE sex = 'T') t USING (territory, period, contract_class, sector_section, age_class, citizenship_group)
			WHERE m.a IS DISTINCT FROM t.attivazioni OR m.s IS DISTINCT FROM t.saldo`,
		"the region's flows are the sum of its provinces'": `SELECT count(*) FROM (SELECT period, contract_class, sector_section, sex, age_class, citizenship_group,
			sum(attivazioni) a, sum(saldo) s FROM ` + tab("labour_flows") + ` WHERE territory <> '03' GROUP BY ALL) p
			FULL JOIN (SELECT * FROM ` + tab("labour_flows") + ` WHERE territory = '03') r USING (period, contract_class, sector_section, sex, age_class, citizenship_group)
			WHERE p.a IS DISTINCT FROM r.attivazioni OR p.s IS DISTINCT FROM r.saldo`,
		"every row is named": `SELECT count(*) FROM ` + tab("labour_flows") + ` WHERE territory_name IS NULL OR territory_name = ''`,
		"balances equal the flows": `SELECT count(*) FROM (SELECT territory, period, contract_class, sum(saldo) s FROM ` + tab("labour_flows") + ` WHERE sex = 'T' GROUP BY ALL) f
			JOIN ` + tab("labour_balances") + ` b USING (territory, period, contract_class) WHERE f.s <> b.saldo`,
		"cumulative balance is the running sum": `SELECT count(*) FROM (SELECT saldo_cumulato, sum(saldo) OVER (PARTITION BY territory, contract_class ORDER BY period) rs
			FROM ` + tab("labour_balances") + `) WHERE saldo_cumulato <> rs`,
		"transformations move jobs, they do not create them": `SELECT count(*) FROM (SELECT period, sum(trasformazioni_in) - sum(trasformazioni_out) d FROM ` + tab("labour_flows") + ` GROUP BY 1) WHERE d <> 0`,
		"every month from 2017-01 is present": `SELECT count(*) FROM (SELECT territory, contract_class, count(*) n FROM ` + tab("labour_balances") + ` GROUP BY ALL)
			WHERE n <> (SELECT count(DISTINCT period) FROM ` + tab("labour_balances") + `)`,
	}
	for name, q := range checks {
		var bad int64
		if err := db.SQL().QueryRow(q).Scan(&bad); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bad != 0 {
			t.Errorf("%s: %d rows break it", name, bad)
		}
	}
	var hires int64
	db.SQL().QueryRow(`SELECT sum(attivazioni) FROM ` + tab("labour_flows") + ` WHERE territory = '03' AND sex = 'T'`).Scan(&hires)
	if hires < 19000 || hires > 20000 {
		t.Errorf("hires in flows = %d of 20000 generated: filters lost too many or too few", hires)
	}
}

func TestCOSameBytesInAnyOrderAndOnAnyThreads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "co.csv")
	f, _ := os.Create(path)
	cogen.Write(f, cogen.Options{Events: 50000, Seed: 7})
	f.Close()
	var first []byte
	for _, threads := range []int{1, 2} {
		db, err := Open(context.Background(), Options{Threads: threads})
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		ev, fl, _ := harmonizeCO(t, db, path, "attivazione", out)
		db.Close()
		a, _ := os.ReadFile(ev)
		// The flows part is an unordered intermediate: compare its content, sorted.
		check := openDB(t)
		b := []byte(strings.Join(queryRows(t, check.SQL(), "SELECT * FROM read_parquet('"+fl+"') ORDER BY ALL"), "\n"))
		both := append(a, b...)
		if first == nil {
			first = both
		} else if !bytes.Equal(first, both) {
			t.Errorf("threads=%d wrote different bytes", threads)
		}
	}
	// Row order: row i of the events file is data row i of the export.
	db := openDB(t)
	out := t.TempDir()
	ev, _, _ := harmonizeCO(t, db, path, "attivazione", out)
	var mismatches int64
	err := db.SQL().QueryRow(`WITH c AS (SELECT row_number() OVER () rn, CONTRATTO, ETA FROM read_csv('` + path + `', all_varchar = true)),
		p AS (SELECT file_row_number + 1 rn, coalesce(CAST(contract_label AS VARCHAR), contract_label_other) AS contract_label, age FROM read_parquet('` + ev + `', file_row_number = true))
		SELECT count(*) FROM c JOIN p USING (rn) WHERE c.CONTRATTO IS DISTINCT FROM p.contract_label OR c.ETA IS DISTINCT FROM CAST(p.age AS VARCHAR)`).Scan(&mismatches)
	if err != nil || mismatches != 0 {
		t.Errorf("rows out of the raw order: %d (%v)", mismatches, err)
	}
}

func TestCOSchemaDrift(t *testing.T) {
	dir := t.TempDir()
	write := func(name, header string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(header+"\n15/03/2021,M,30,Alberghi,LICENZA MEDIA,LAVORO A TEMPO DETERMINATO,TEMPO PIENO,MILANO,ITALIA,X\n"), 0o644)
		return p
	}
	added := write("added.csv", "DATA,GENERE,ETA,SETTOREECONOMICODETTAGLIO,TITOLOSTUDIO,CONTRATTO,MODALITALAVORO,PROVINCIAIMPRESA,ITALIANO,MOTIVO")
	renamed := write("renamed.csv", "DATA,SESSO,ETA,SETTOREECONOMICODETTAGLIO,TITOLOSTUDIO,CONTRATTO,MODALITALAVORO,PROVINCIAIMPRESA,ITALIANO,MOTIVO")
	db := openDB(t)
	run := func(path, policy string) (COStats, error) {
		return db.HarmonizeCO(context.Background(), CORequest{CSVPath: path, EventType: "cessazione", RawSHA256: strings.Repeat("b", 64),
			RefDate: fetched, EventsOut: filepath.Join(dir, "e.parquet"), FlowsOut: filepath.Join(dir, "f.parquet"), SchemaDrift: policy})
	}
	if _, err := run(added, "fail"); !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "MOTIVO") {
		t.Errorf("added column under fail: %v", err)
	}
	st, err := run(added, "warn")
	if err != nil || st.Events != 1 || len(st.ExtraColumns) != 1 {
		t.Errorf("added column under warn: %+v, %v", st, err)
	}
	if _, err := run(renamed, "accept"); !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "GENERE missing") {
		t.Errorf("renamed column: %v, want BadInput naming GENERE", err)
	}
}

func TestCOScriptIsTheSameTransformation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "co.csv")
	f, _ := os.Create(path)
	cogen.Write(f, cogen.Options{Events: 5000, Seed: 3})
	f.Close()
	db := openDB(t)
	ev, fl, _ := harmonizeCO(t, db, path, "attivazione", dir)
	req := CORequest{CSVPath: path, EventType: "attivazione", RawSHA256: strings.Repeat("a", 64), RefDate: fetched,
		EventsOut: filepath.Join(dir, "script-events.parquet"), FlowsOut: filepath.Join(dir, "script-flows.parquet")}
	script, err := COScript(req)
	if err != nil {
		t.Fatal(err)
	}
	bare := openDB(t)
	if _, err := bare.SQL().Exec(script); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(ev)
	b, _ := os.ReadFile(req.EventsOut)
	if !bytes.Equal(a, b) {
		t.Errorf("%s and %s differ", ev, req.EventsOut)
	}
	sorted := func(p string) []string {
		return queryRows(t, bare.SQL(), "SELECT * FROM read_parquet('"+p+"') ORDER BY ALL")
	}
	if diff := cmp.Diff(sorted(fl), sorted(req.FlowsOut)); diff != "" {
		t.Errorf("flows parts differ:\n%s", diff)
	}
}

// Bytes DuckDB cannot read are BadInput with one short line naming where, not a retried plain error of
// kilobytes.
func TestCOBadBytesAreBadInputInShort(t *testing.T) {
	db := openDB(t)
	dir := t.TempDir()
	head, _ := os.ReadFile("testdata/co_attivati_small.csv")
	lines := strings.SplitN(string(head), "\n", 3)
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte(lines[0]+"\n"+lines[1]+"\n"+strings.Replace(lines[1], "M", "\xff\xfe", 1)+"\n"), 0o644)
	_, err := db.HarmonizeCO(context.Background(), CORequest{CSVPath: bad, EventType: "attivazione", RawSHA256: strings.Repeat("a", 64),
		RefDate: fetched, EventsOut: filepath.Join(dir, "e.parquet"), FlowsOut: filepath.Join(dir, "f.parquet")})
	t.Logf("%v", err)
	if !fault.Is(err, fault.BadInput) || len(err.Error()) > 400 || strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("err = %v (%d bytes)", err, len(err.Error()))
	}
}

package warehouse

import (
	"bufio"
	"context"
	"database/sql"
	_ "embed"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/fault"
)

var (
	//go:embed sql/labour_events.sql
	labourEventsSQL string
	//go:embed sql/labour_flows_part.sql
	labourFlowsPartSQL string
	//go:embed sql/labour_flows.sql
	labourFlowsSQL string
	//go:embed sql/labour_balances.sql
	labourBalancesSQL string
)

// COColumns are the columns of Regione Lombardia's CO export, in order.
var COColumns = []string{"DATA", "GENERE", "ETA", "SETTOREECONOMICODETTAGLIO", "TITOLOSTUDIO", "CONTRATTO",
	"MODALITALAVORO", "PROVINCIAIMPRESA", "ITALIANO"}

// FlowPeriods is, per flow table, the SQL expression of an event's period.
var FlowPeriods = map[string]string{
	"labour_flows":           "strftime(event_month, '%Y-%m')",
	"labour_flows_quarterly": "strftime(event_month, '%Y') || '-Q' || quarter(event_month)",
	"labour_flows_yearly":    "strftime(event_month, '%Y')",
}

// FlowsFrom is the first month of the labour flows.
var FlowsFrom = time.Date(2017, 1, 1, 0, 0, 0, 0, time.UTC)

// coDictionary is one raw-label dictionary: the CO column it maps, its table, and how its rows are built.
type coDictionary struct {
	column  string   // CO export column
	table   string   // co_dict_* table
	list    string   // code list
	attrs   []string // code-list columns copied into the dictionary
	mapped  string   // labour_events column that says UNMAPPED when the label missed
	labelAt string   // labour_events column holding the original label when its spelling is not known
}

var coDictionaries = []coDictionary{
	{"SETTOREECONOMICODETTAGLIO", "co_dict_sector", "sectors", []string{"system", "ateco_code", "nace_section", "nace_division"}, "sector_code", "sector_label_other"},
	{"TITOLOSTUDIO", "co_dict_education", "co_study_titles", []string{"co_level", "isced2011"}, "education_isced", "education_label_other"},
	{"CONTRATTO", "co_dict_contract", "co_contracts", []string{"co_code", "contract_class"}, "contract_class", "contract_label_other"},
	{"MODALITALAVORO", "co_dict_working_time", "co_working_time", []string{"working_time"}, "working_time", "working_time_label_other"},
	{"ITALIANO", "co_dict_citizenship", "citizenships", []string{"co_code", "citizenship_group"}, "citizenship_group", "citizenship_label_other"},
	{"PROVINCIAIMPRESA", "co_dict_province", "", []string{"istat", "nuts2021", "in_lombardy"}, "territory", "province_label_other"},
}

// dictRows returns, for one dictionary, the normalised label → attribute values, and the raw spellings
// to load for each label.
func dictRows(d coDictionary) (map[string][]string, map[string][]string, error) {
	attrs := map[string][]string{}
	spell := map[string][]string{}
	if d.list == "" { // provinces: Lombardy from the crosswalk, the rest of Italy from ANPAL
		terr, err := codelist.LoadTerritories()
		if err != nil {
			return nil, nil, err
		}
		it, err := codelist.Load("provinces_italy")
		if err != nil {
			return nil, nil, err
		}
		for _, r := range it.Rows {
			k := codelist.NormalizeLabel(r[1])
			t, lombard := terr.Lookup(r[0])
			if lombard && t.Level == "province" {
				attrs[k] = []string{t.Istat, t.NUTS2021, "true"}
			} else {
				attrs[k] = []string{r[0], "", "false"}
			}
			spell[k] = append(spell[k], r[1])
		}
		for _, t := range terr.All() {
			if t.Level != "province" {
				continue
			}
			for _, name := range []string{t.NameUpper, t.Name} {
				k := codelist.NormalizeLabel(name)
				attrs[k] = []string{t.Istat, t.NUTS2021, "true"}
				spell[k] = append(spell[k], name)
			}
		}
		return attrs, spell, nil
	}
	tab, err := codelist.Load(d.list)
	if err != nil {
		return nil, nil, err
	}
	li, si := tab.Column("label"), tab.Column("spellings")
	idx := make([]int, len(d.attrs))
	for i, a := range d.attrs {
		if idx[i] = tab.Column(a); idx[i] < 0 {
			return nil, nil, fmt.Errorf("code list %s has no column %s", d.list, a)
		}
	}
	for _, r := range tab.Rows {
		vals := make([]string, len(idx))
		for i, j := range idx {
			vals[i] = r[j]
		}
		attrs[r[li]] = vals
		if si >= 0 && r[si] != "" {
			spell[r[li]] = append(spell[r[li]], strings.Split(r[si], "|")...)
		}
	}
	if d.table == "co_dict_working_time" {
		attrs[""] = []string{"not_defined"} // an empty working time is not defined
	}
	return attrs, spell, nil
}

// loadCODictionaries defines, for every label column, an ENUM type of every known raw spelling (plus the
// extra raw labels found to normalise to a known one) and one macro per attribute returning the list of
// that attribute's values in the ENUM's order. A lookup is then a cast and a list index: a projection,
// which keeps the rows in the order of the raw file (a join would not).
func loadCODictionaries(ctx context.Context, conn *sql.Conn, extra map[string]map[string]string) error {
	stmts, err := dictionaryStatements(extra)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		if _, err := conn.ExecContext(ctx, st); err != nil {
			return fmt.Errorf("CO dictionaries: %w", err)
		}
	}
	return nil
}

// dictionaryStatements returns the SQL that defines the co_dict_* types and macros.
func dictionaryStatements(extra map[string]map[string]string) ([]string, error) {
	var out []string
	for _, d := range coDictionaries {
		attrs, spell, err := dictRows(d)
		if err != nil {
			return nil, err
		}
		rows := map[string][]string{}
		for label, vals := range attrs {
			for _, v := range codelist.Variants(label, strings.Join(spell[label], "|")) {
				if _, dup := rows[v]; !dup {
					rows[v] = vals
				}
			}
		}
		for raw, label := range extra[d.table] {
			rows[raw] = attrs[label]
		}
		keys := make([]string, 0, len(rows))
		for k := range rows {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		lits := make([]string, len(keys))
		for i, k := range keys {
			lits[i] = quoteLiteral(k)
		}
		out = append(out, fmt.Sprintf("DROP TYPE IF EXISTS %s_raw", d.table),
			fmt.Sprintf("CREATE TYPE %s_raw AS ENUM (%s)", d.table, strings.Join(lits, ", ")))
		for i, a := range d.attrs {
			if a == "in_lombardy" {
				vals := make([]string, len(keys))
				for j, k := range keys {
					vals[j] = strings.ToUpper(fmt.Sprint(rows[k][i] == "true"))
				}
				out = append(out, fmt.Sprintf("CREATE OR REPLACE TEMP MACRO %s_%s(ix) AS ([%s])[ix + 1]", d.table, a, strings.Join(vals, ", ")))
				continue
			}
			// Attributes are ENUMs too (with UNMAPPED): Parquet writes them without building a dictionary.
			typ := fmt.Sprintf("%s_%s_t", d.table, a)
			distinct := map[string]bool{"UNMAPPED": true}
			vals := make([]string, len(keys))
			for j, k := range keys {
				if v := rows[k][i]; v != "" {
					distinct[v] = true
					vals[j] = quoteLiteral(v)
				} else {
					vals[j] = "NULL"
				}
			}
			members := make([]string, 0, len(distinct))
			for v := range distinct {
				members = append(members, quoteLiteral(v))
			}
			sort.Strings(members)
			out = append(out, fmt.Sprintf("DROP TYPE IF EXISTS %s", typ),
				fmt.Sprintf("CREATE TYPE %s AS ENUM (%s)", typ, strings.Join(members, ", ")),
				fmt.Sprintf("CREATE OR REPLACE TEMP MACRO %s_%s(ix) AS (CAST([%s] AS %s[]))[ix + 1]", d.table, a, strings.Join(vals, ", "), typ))
		}
	}
	return out, nil
}

// rawCOView returns the statement defining raw_co over a CO export with the given header.
func rawCOView(path string, header []string) string {
	cols := make([]string, len(header))
	for i, c := range header {
		cols[i] = fmt.Sprintf("%s: 'VARCHAR'", quoteLiteral(c))
	}
	known := make([]string, len(COColumns))
	for i, c := range COColumns {
		known[i] = `"` + c + `"`
	}
	return fmt.Sprintf(`CREATE OR REPLACE TEMP VIEW raw_co AS SELECT %s FROM read_csv(%s, header = true, delim = ',',
		quote = '"', escape = '"', columns = {%s}, strict_mode = true, null_padding = false%s)`,
		strings.Join(known, ", "), quoteLiteral(path), strings.Join(cols, ", "), sniff(path))
}

// sniff is the read_csv option for path: a named pipe is read once, so nothing is sniffed from it (a
// sniffer's sample could not be read again); a file is sniffed, which DuckDB reads faster.
func sniff(path string) string {
	if fi, err := os.Stat(path); err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
		return ", auto_detect = false"
	}
	return ""
}

// COScript returns the whole CO harmonization of req as one plain DuckDB SQL script, values inlined: the
// same dictionaries and the same two COPY statements HarmonizeCO runs. It is the "floor" of the
// benchmark (bare DuckDB on a local file, no platform around it) and a way to audit the transformation.
func COScript(req CORequest) (string, error) {
	header, err := ReadCOHeader(req.CSVPath)
	if err != nil {
		return "", err
	}
	return COScriptHeader(req, header)
}

// COScriptHeader is COScript for an export whose header was read elsewhere.
func COScriptHeader(req CORequest, header []string) (string, error) {
	stmts, err := dictionaryStatements(nil)
	if err != nil {
		return "", err
	}
	stmts = append(stmts, rawCOView(req.CSVPath, header))
	inline := eventsInliner(req.EventType, req.RawSHA256, req.RefDate)
	stmts = append(stmts, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 122880)",
		strings.TrimRight(strings.TrimSpace(inline.Replace(labourEventsSQL)), ";"), quoteLiteral(req.EventsOut)))
	flows := strings.NewReplacer("read_parquet($1)", "read_parquet("+quoteLiteral(req.EventsOut)+")",
		"$2::DATE", "DATE "+quoteLiteral(FlowsFrom.Format("2006-01-02"))).Replace(labourFlowsPartSQL)
	stmts = append(stmts, fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 122880)",
		strings.TrimRight(strings.TrimSpace(flows), ";"), quoteLiteral(req.FlowsOut)))
	return strings.Join(stmts, ";\n") + ";\n", nil
}

// eventsInliner puts the bound values of labour_events.sql into its text.
func eventsInliner(eventType, rawSHA256 string, refDate time.Time) *strings.Replacer {
	return strings.NewReplacer("$1::VARCHAR", quoteLiteral(eventType), "$2::VARCHAR", quoteLiteral(rawSHA256),
		"$3::DATE", "DATE "+quoteLiteral(refDate.Format("2006-01-02")))
}

// CORequest is one raw CO export to harmonize.
type CORequest struct {
	CSVPath   string
	EventType string // attivazione, cessazione, proroga, trasformazione
	RawSHA256 string
	RefDate   time.Time // events after it are flagged as in the future (the fetch date)
	EventsOut string    // labour_events Parquet
	FlowsOut  string    // labour_flows_part Parquet
	// SchemaDrift is what an added column does: "fail" (default), "warn" (go on, report it) or "accept".
	// A missing or renamed column always fails.
	SchemaDrift string
	// Header, when set, is the export's header line (upper case): CSVPath, when it is a stream read once
	// (a named pipe), is not opened for it.
	Header []string
	// Again, when set, gives the export anew for a second pass over it (a stream cannot be read twice);
	// without it CSVPath is read again.
	Again func() (string, error)
}

// Unmapped is a label or code no code list knows, kept verbatim in its column, with how often it occurs.
type Unmapped struct {
	Column string `json:"column"`
	Label  string `json:"label"`
	Count  int64  `json:"count"`
}

// COStats describe a harmonized CO export.
type COStats struct {
	Events       int64
	FlowRows     int64
	FirstMonth   string
	LastMonth    string
	Unmapped     []Unmapped
	Flags        map[string]int64 // flag column → rows flagged
	Renormalised int              // raw labels matched only after normalisation (a second pass was run)
	ExtraColumns []string         `json:",omitempty"` // columns the export added (schema drift that was let through)
	Timings      map[string]time.Duration
}

// EventTypes are the CO event types, by the regional dataset that publishes them.
var EventTypes = map[string]string{"attivati": "attivazione", "cessati": "cessazione", "prorogati": "proroga", "trasformati": "trasformazione"}

// ReadCOHeader reads the first line of a CO export: its column names, upper case.
func ReadCOHeader(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseCOHeader(bufio.NewReaderSize(f, 64<<10))
}

// ParseCOHeader reads the header line of a CO export from its first bytes.
func ParseCOHeader(head io.Reader) ([]string, error) {
	r := csv.NewReader(head)
	header, err := r.Read()
	if err != nil {
		return nil, fault.Errorf(fault.BadInput, "CO export: no header line: %w", err)
	}
	for i := range header {
		header[i] = strings.ToUpper(strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff")))
	}
	return header, nil
}

// CheckCOSchema compares a CO export's header with the expected columns: a missing (or renamed) column is
// BadInput; added columns are returned, and are BadInput too under the "fail" policy.
func CheckCOSchema(header []string, policy string) (extra []string, err error) {
	have := map[string]bool{}
	for _, h := range header {
		have[h] = true
	}
	var missing []string
	for _, c := range COColumns {
		if !have[c] {
			missing = append(missing, c)
		}
		delete(have, c)
	}
	for _, h := range header {
		if have[h] {
			extra = append(extra, h)
		}
	}
	if len(missing) > 0 {
		return extra, fault.Errorf(fault.BadInput, "schema changed: column(s) %s missing (renamed or removed?); the export has %v", strings.Join(missing, ", "), header)
	}
	if len(extra) > 0 && (policy == "" || policy == "fail") {
		return extra, fault.Errorf(fault.BadInput, "schema changed: column(s) %s added (schema_drift: fail; set warn or accept to go on)", strings.Join(extra, ", "))
	}
	return extra, nil
}

// HarmonizeCO turns one raw CO export into its labour_events snapshot and its labour_flows part. Labels are
// joined on their raw spelling; the few distinct labels that miss are normalised, and when any of them
// turns out to be a known label under another spelling the events are written again with it.
func (d *DB) HarmonizeCO(ctx context.Context, req CORequest) (_ COStats, err error) {
	defer func() { err = readError(ctx, "CO export does not parse", err) }()
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return COStats{}, err
	}
	defer conn.Close()
	extra := map[string]map[string]string{}
	st := COStats{Timings: map[string]time.Duration{}}
	lap := time.Now()
	step := func(name string) {
		st.Timings[name] += time.Since(lap)
		lap = time.Now()
	}
	header := req.Header
	if header == nil {
		if header, err = ReadCOHeader(req.CSVPath); err != nil {
			return st, err
		}
	}
	if st.ExtraColumns, err = CheckCOSchema(header, req.SchemaDrift); err != nil {
		return st, err
	}
	if _, err := conn.ExecContext(ctx, rawCOView(req.CSVPath, header)); err != nil {
		return st, err
	}
	inlineEvents := eventsInliner(req.EventType, req.RawSHA256, req.RefDate)
	for pass := 0; pass < 2; pass++ {
		if err := loadCODictionaries(ctx, conn, extra); err != nil {
			return st, err
		}
		step("dictionaries")
		// Values inlined as the bare script has them: constants the planner sees (not parameters).
		n, err := copyToParquet(ctx, conn, inlineEvents.Replace(labourEventsSQL), req.EventsOut)
		if err != nil {
			return st, inputError("CO export does not parse", err)
		}
		step("events")
		found, err := renormalise(ctx, conn, quoteLiteral(req.EventsOut), extra)
		if err != nil {
			return st, err
		}
		step("renormalise")
		st.Events = n
		if found == 0 {
			break
		}
		// The export again, with the spellings just found.
		st.Renormalised += found
		if req.Again != nil {
			path, err := req.Again()
			if err != nil {
				return st, err
			}
			if _, err := conn.ExecContext(ctx, rawCOView(path, header)); err != nil {
				return st, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	list := quoteLiteral(req.EventsOut)
	// The flows first, while DuckDB's memory is free of the report's scans.
	flowsSQL := strings.NewReplacer("read_parquet($1)", "read_parquet("+list+")",
		"$2::DATE", "DATE "+quoteLiteral(FlowsFrom.Format("2006-01-02"))).Replace(labourFlowsPartSQL)
	if st.FlowRows, err = copyToParquet(ctx, conn, flowsSQL, req.FlowsOut); err != nil {
		return st, fmt.Errorf("labour flows: %w", err)
	}
	step("flows")
	if st.Unmapped, err = unmappedLabels(ctx, conn, list); err != nil {
		return st, err
	}
	st.Flags = map[string]int64{}
	var a, b, c int64
	var first, last sql.NullString
	err = conn.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE flag_age_implausible), count(*) FILTER (WHERE flag_date_implausible),
		count(*) FILTER (WHERE flag_outside_lombardy), strftime(min(event_month), '%Y-%m'), strftime(max(event_month) FILTER (WHERE NOT flag_date_implausible), '%Y-%m')
		FROM read_parquet(`+list+`)`).Scan(&a, &b, &c, &first, &last)
	if err != nil {
		return st, err
	}
	st.Flags["flag_age_implausible"], st.Flags["flag_date_implausible"], st.Flags["flag_outside_lombardy"] = a, b, c
	st.FirstMonth, st.LastMonth = first.String, last.String
	step("report")
	return st, nil
}

// renormalise finds the raw labels that missed their dictionary, normalises them, and records in extra
// those that are a known label under another spelling. It returns how many it found.
func renormalise(ctx context.Context, conn *sql.Conn, events string, extra map[string]map[string]string) (int, error) {
	// events is a SQL literal or list of literals of Parquet paths.
	found := 0
	for _, d := range coDictionaries {
		attrs, _, err := dictRows(d)
		if err != nil {
			return 0, err
		}
		q := fmt.Sprintf("SELECT DISTINCT %s FROM read_parquet(%s) WHERE %s = 'UNMAPPED' AND %s IS NOT NULL",
			d.labelAt, events, d.mapped, d.labelAt)
		raws, err := queryStrings(ctx, conn, q)
		if err != nil {
			return 0, err
		}
		for _, raw := range raws {
			k := codelist.NormalizeLabel(raw)
			if _, known := attrs[k]; known {
				if extra[d.table] == nil {
					extra[d.table] = map[string]string{}
				}
				if _, seen := extra[d.table][raw]; !seen {
					extra[d.table][raw] = k
					found++
				}
			}
		}
	}
	return found, nil
}

func unmappedLabels(ctx context.Context, conn *sql.Conn, events string) ([]Unmapped, error) {
	var out []Unmapped
	for _, d := range coDictionaries {
		q := fmt.Sprintf("SELECT COALESCE(%s, ''), count(*) FROM read_parquet(%s) WHERE %s = 'UNMAPPED' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20",
			d.labelAt, events, d.mapped)
		rows, err := conn.QueryContext(ctx, q)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			u := Unmapped{Column: d.column}
			if err := rows.Scan(&u.Label, &u.Count); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, u)
		}
		rows.Close()
	}
	return out, nil
}

// FlowTables are the release tables derived from the labour flow parts.
var FlowTables = []string{"labour_flows", "labour_flows_quarterly", "labour_flows_yearly", "labour_balances"}

// BuildFlows writes the labour flow tables from the parts of every accepted CO export into dir, and
// returns the rows of each.
func (d *DB) BuildFlows(ctx context.Context, parts []string, dir string) (map[string]int64, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	files := make([]string, len(parts))
	for i, p := range parts {
		files[i] = quoteLiteral(p)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TEMP VIEW parts AS SELECT * FROM read_parquet([%s])", strings.Join(files, ", "))); err != nil {
		return nil, err
	}
	if err := d.loadTerritories(ctx, conn); err != nil {
		return nil, err
	}
	periods := FlowPeriods
	out := map[string]int64{}
	for _, t := range FlowTables {
		var n int64
		var err error
		path := dir + "/" + t + ".parquet"
		if p, ok := periods[t]; ok {
			n, err = copyToParquet(ctx, conn, strings.Replace(labourFlowsSQL, "{{PERIOD}}", p, 1), path)
		} else {
			n, err = copyToParquet(ctx, conn, labourBalancesSQL, path, FlowsFrom.Format("2006-01-02"))
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// YearFile is one year of a flow table.
type YearFile struct {
	Year string
	Path string
	Rows int64
}

// SplitByYear writes the rows of a flow table (in, a Parquet file) into one file per year of their period,
// dir/<year>.parquet, each sorted by all its columns: a release then stores again only the years whose figures
// changed (a day's new events touch the last months). An empty table gives no file.
func (d *DB) SplitByYear(ctx context.Context, in, dir string) ([]YearFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	years, err := queryStrings(ctx, conn, fmt.Sprintf("SELECT DISTINCT left(period, 4) FROM read_parquet(%s) ORDER BY 1", quoteLiteral(in)))
	if err != nil {
		return nil, err
	}
	out := make([]YearFile, 0, len(years))
	for _, y := range years {
		f := YearFile{Year: y, Path: filepath.Join(dir, y+".parquet")}
		q := fmt.Sprintf("SELECT * FROM read_parquet(%s) WHERE left(period, 4) = %s ORDER BY ALL", quoteLiteral(in), quoteLiteral(y))
		if f.Rows, err = copyToParquet(ctx, conn, q, f.Path); err != nil {
			return nil, fmt.Errorf("%s of %s: %w", y, in, err)
		}
		out = append(out, f)
	}
	return out, nil
}

// LabourEventsColumns is the schema of labour_events.
var LabourEventsColumns = []Column{
	{"event_type", "string", "attivazione, cessazione, proroga or trasformazione"},
	{"event_date", "date", "Date of the event (DATA); empty when it does not parse"},
	{"event_month", "date", "First day of the event's month"},
	{"territory", "string", "Istat province code of the employer's site; UNMAPPED when the name is unknown"},
	{"territory_nuts", "string", "NUTS 2021 code of the province"},
	{"province_label", "string", "PROVINCIAIMPRESA as published, when the code list knows the spelling"},
	{"province_label_other", "string", "PROVINCIAIMPRESA as published, when the code list does not know the spelling (the label is coalesce(province_label, province_label_other))"},
	{"sex", "string", "M or F"},
	{"age", "integer", "ETA as published"},
	{"age_class", "string", "Y_LT25, Y25-34, Y35-44, Y45-54, Y55-64, Y_GE65; UNKNOWN outside 14-90"},
	{"citizenship_group", "string", "IT, EU or NON_EU; UNMAPPED when the country is unknown"},
	{"citizenship_label", "string", "ITALIANO (the citizenship country) as published, when the code list knows the spelling"},
	{"citizenship_label_other", "string", "ITALIANO (the citizenship country) as published, when the code list does not know the spelling (the label is coalesce(citizenship_label, citizenship_label_other))"},
	{"education_isced", "string", "ISCED 2011 level as the common model codes it (ED0 … ED8); UNMAPPED when the title is unknown"},
	{"education_label", "string", "TITOLOSTUDIO as published, when the code list knows the spelling"},
	{"education_label_other", "string", "TITOLOSTUDIO as published, when the code list does not know the spelling (the label is coalesce(education_label, education_label_other))"},
	{"sector_system", "string", "ATECO version the description matched: 2007 (NACE Rev. 2) or 2025 (NACE Rev. 2.1)"},
	{"sector_code", "string", "ATECO code"},
	{"sector_section", "string", "NACE section"},
	{"sector_division", "string", "NACE division"},
	{"sector_label", "string", "SETTOREECONOMICODETTAGLIO as published, when the code list knows the spelling"},
	{"sector_label_other", "string", "SETTOREECONOMICODETTAGLIO as published, when the code list does not know the spelling (the label is coalesce(sector_label, sector_label_other))"},
	{"contract_class", "string", "permanent, fixed_term, apprenticeship, temporary_agency, intermittent, domestic, parasubordinate, other"},
	{"contract_code", "string", "CO contract code (A.02.00 …)"},
	{"contract_label", "string", "CONTRATTO as published, when the code list knows the spelling"},
	{"contract_label_other", "string", "CONTRATTO as published, when the code list does not know the spelling (the label is coalesce(contract_label, contract_label_other))"},
	{"working_time", "string", "full_time, part_time or not_defined"},
	{"working_time_label", "string", "MODALITALAVORO as published, when the code list knows the spelling"},
	{"working_time_label_other", "string", "MODALITALAVORO as published, when the code list does not know the spelling (the label is coalesce(working_time_label, working_time_label_other))"},
	{"flag_age_implausible", "boolean", "age missing or outside 14-90"},
	{"flag_date_implausible", "boolean", "date missing or after the fetch date"},
	{"flag_outside_lombardy", "boolean", "employer in a province outside Lombardy"},
	{"raw_sha256", "string", "sha256 of the raw export; the parts of one export are in its order: row i of part k is data row (rows of parts before k) + i of the export (the release manifest gives each part's rows)"},
}

// LabourFlowsColumns is the schema of labour_flows and its quarterly and yearly views.
var LabourFlowsColumns = []Column{
	{"territory", "string", "Istat province code, or 03 for Lombardy (the sum of the provinces)"},
	{"territory_name", "string", "Territory name"},
	{"period", "string", "2023-01 (monthly), 2023-Q1 (quarterly), 2023 (yearly)"},
	{"contract_class", "string", "harmonized contract class"},
	{"sector_section", "string", "NACE section"},
	{"sex", "string", "M, F, or T (both)"},
	{"age_class", "string", "age class"},
	{"citizenship_group", "string", "IT, EU or NON_EU"},
	{"attivazioni", "integer", "hires"},
	{"cessazioni", "integer", "terminations"},
	{"proroghe", "integer", "extensions"},
	{"trasformazioni_in", "integer", "transformations into this contract class"},
	{"trasformazioni_out", "integer", "transformations out of this contract class"},
	{"saldo", "integer", "attivazioni - cessazioni + trasformazioni_in - trasformazioni_out"},
}

// LabourBalancesColumns is the schema of labour_balances.
var LabourBalancesColumns = []Column{
	{"territory", "string", "Istat province code, or 03 for Lombardy"},
	{"territory_name", "string", "Territory name"},
	{"period", "string", "month, 2017-01 to the latest"},
	{"contract_class", "string", "harmonized contract class, or TOTAL"},
	{"saldo", "integer", "balance of the month"},
	{"saldo_cumulato", "integer", "cumulative balance since 2017-01"},
}

// FlowKeys are the key columns of each flow table.
var FlowKeys = map[string][]string{
	"labour_flows":           {"territory", "period", "contract_class", "sector_section", "sex", "age_class", "citizenship_group"},
	"labour_flows_quarterly": {"territory", "period", "contract_class", "sector_section", "sex", "age_class", "citizenship_group"},
	"labour_flows_yearly":    {"territory", "period", "contract_class", "sector_section", "sex", "age_class", "citizenship_group"},
	"labour_balances":        {"territory", "contract_class", "period"},
}

var csvLineRE = regexp.MustCompile(`(?i)\bline:? ?(\d+)`)

// inputError is a BadInput fault for bytes DuckDB could not read (text that is not UTF-8, a line over its
// maximum size, a field that does not convert): its first line and reason, naming the export's line, not
// DuckDB's whole report (kilobytes, with the original line and the reader's options).
func inputError(what string, err error) error {
	lines := strings.Split(err.Error(), "\n")
	msg := lines[0]
	for _, l := range lines[1:min(len(lines), 6)] {
		if l != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "Original Line") && !strings.HasPrefix(l, "Possible Solution") {
			msg += ": " + l
			break
		}
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	if m := csvLineRE.FindStringSubmatch(err.Error()); m != nil && !strings.Contains(msg, m[0]) {
		msg += " (line " + m[1] + ")"
	}
	return fault.Errorf(fault.BadInput, "%s: %s", what, msg)
}

// readError classifies an error of reading a raw export: DuckDB's input and conversion errors are the
// bytes' fault (BadInput, short); anything else is returned as it is.
func readError(ctx context.Context, what string, err error) error {
	if err == nil || fault.KindOf(err) != "" || ctx.Err() != nil {
		return err
	}
	if m := err.Error(); strings.HasPrefix(m, "Invalid Input Error") || strings.HasPrefix(m, "Conversion Error") {
		return inputError(what, err)
	}
	return err
}

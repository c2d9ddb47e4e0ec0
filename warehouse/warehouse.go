// Package warehouse is the platform's DuckDB: it turns rows read by connectors into harmonized Parquet
// snapshots and assembles release tables, deterministically (the same inputs give the same bytes). SQL lives
// in sql/, one file per output table.
package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
)

//go:embed sql/observations.sql
var observationsSQL string

// Options tune DuckDB.
type Options struct {
	Threads     int    // 0: DuckDB's default (all cores)
	MemoryLimit string // e.g. "1GB"; "" leaves DuckDB's default
	TempDir     string // where DuckDB spills
}

// DB is one in-process DuckDB database.
type DB struct {
	db    *sql.DB
	codes *codelist.Set // nil: the code lists embedded in this binary
}

// WithCodes returns the database building with the code lists set (those a past release recorded, to
// rebuild it) instead of the embedded ones. Both share one DuckDB.
func (d *DB) WithCodes(set *codelist.Set) *DB { return &DB{db: d.db, codes: set} }

// Codes returns the code lists the database harmonizes and builds with.
func (d *DB) Codes() *codelist.Set {
	if d.codes == nil {
		return codelist.Embedded()
	}
	return d.codes
}

// Open opens an in-memory DuckDB with opts.
func Open(ctx context.Context, opts Options) (*DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, fmt.Errorf("open duckdb: %w", err)
	}
	// One connection: settings and temporary tables live on it.
	db.SetMaxOpenConns(1)
	settings := []string{"SET preserve_insertion_order = true", "SET TimeZone = 'UTC'"}
	if opts.Threads > 0 {
		settings = append(settings, fmt.Sprintf("SET threads = %d", opts.Threads))
	}
	if opts.MemoryLimit != "" {
		settings = append(settings, fmt.Sprintf("SET memory_limit = '%s'", strings.ReplaceAll(opts.MemoryLimit, "'", "")))
	}
	if opts.TempDir != "" {
		settings = append(settings, fmt.Sprintf("SET temp_directory = '%s'", strings.ReplaceAll(opts.TempDir, "'", "''")))
	}
	for _, s := range settings {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("duckdb %s: %w", s, err)
		}
	}
	return &DB{db: db}, nil
}

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// SQL returns the underlying database, for queries of other packages' tables.
func (d *DB) SQL() *sql.DB { return d.db }

// ObservationColumns is the schema of the observations table, in order.
var ObservationColumns = []Column{
	{"source", "string", "Source name (eurostat, istat …)"},
	{"dataset", "string", "Dataset id within the source"},
	{"indicator", "string", "What is measured: an id of the indicators table (unemployment_rate …)"},
	{"breakdown", "string", "Dimensions beyond the common ones, key=value;…"},
	{"unit", "string", "Unit of measure (code list dim_unit: PERS, NR, PC, EUR …)"},
	{"unit_mult", "integer", "Power of ten of the unit: the figure is value × 10^unit_mult (3: thousands)"},
	{"territory", "string", "Istat number of the territory (015 Milano, 03 Lombardia)"},
	{"territory_nuts", "string", "NUTS 2021 code"},
	{"territory_itter107", "string", "Istat CL_ITTER107 code"},
	{"territory_name", "string", "Territory name"},
	{"territory_level", "string", "province or region"},
	{"period", "string", "Period: 2023, 2023-S1, 2023-Q1, 2023-01, 2023-W05, 2023-01-31; school and academic years 2024-25"},
	{"freq", "string", "Frequency (dim_freq: A, S, Q, M, W, D, SY school or academic year)"},
	{"sex", "string", "Sex (dim_sex: T total, M, F)"},
	{"age", "string", "Age class (dim_age: TOTAL, Y15-24, Y_GE65, Y6 …)"},
	{"education", "string", "Highest level of education, ISCED 2011 (dim_education: TOTAL, ED0-2, ED3_4, ED5-8, ED1 …)"},
	{"sector", "string", "Economic sector, NACE Rev. 2 section (dim_sector: TOTAL, A … U, B-E …)"},
	{"citizenship", "string", "Citizenship group (dim_citizenship: TOTAL, IT, FOR, EU, NON_EU)"},
	{"value", "number", "Observation value; empty when only a status was given"},
	{"status", "string", "Source status flag (p provisional, b break, e estimated …)"},
	{"unmapped", "string", "Coded columns whose source code is in no code list and is kept verbatim (e.g. education); empty when none"},
	{"raw_sha256", "string", "sha256 of the raw object the row comes from"},
	{"raw_position", "integer", "Position of the row in the raw object"},
}

// Column is one column of a published table.
type Column struct {
	Name        string
	Type        string // Frictionless field type
	Description string
}

const rawObservationsDDL = `CREATE OR REPLACE TEMP TABLE raw_observations (
	indicator VARCHAR, breakdown VARCHAR, unit VARCHAR, unit_mult INTEGER, geo VARCHAR, period VARCHAR, freq VARCHAR,
	sex VARCHAR, age VARCHAR, education VARCHAR, sector VARCHAR, citizenship VARCHAR,
	value DOUBLE, status VARCHAR, unmapped VARCHAR, position BIGINT)`

// Snapshot identifies the raw object a snapshot is built from, with the dataset's configured unit for
// sources that do not say it.
type Snapshot struct {
	Source, Dataset, RawSHA256 string
	Unit                       string
	UnitMult                   *int
}

// Stats describes a written snapshot.
type Stats struct {
	Rows        int64
	FirstPeriod string
	LastPeriod  string
	// Unmapped are the source codes kept verbatim because no code list has them, with their rows.
	Unmapped []Unmapped `json:"unmapped,omitempty"`
}

// HarmonizeObservations reads observations from parse, maps their codes onto the common model (see
// normalizer) and territories onto the crosswalk, and writes them ordered by their position in the raw
// object to a Parquet file at out. A territory code outside the crosswalk is a BadInput fault naming the
// codes; any other code outside its code list is kept verbatim, flagged in the row and counted in Stats.
func (d *DB) HarmonizeObservations(ctx context.Context, snap Snapshot, parse func(emit func(connectors.Observation) error) error, out string) (Stats, error) {
	n, unmapped, err := d.harmonizeObservations(ctx, snap, parse, out)
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Rows: n, Unmapped: unmapped}
	if n > 0 {
		err = d.db.QueryRowContext(ctx, "SELECT min(period), max(period) FROM read_parquet("+quoteLiteral(out)+")").
			Scan(&st.FirstPeriod, &st.LastPeriod)
	}
	return st, err
}

func (d *DB) harmonizeObservations(ctx context.Context, snap Snapshot, parse func(emit func(connectors.Observation) error) error, out string) (int64, []Unmapped, error) {
	norm, err := newNormalizer(d.Codes(), snap)
	if err != nil {
		return 0, nil, err
	}
	n, err := d.writeObservations(ctx, snap, norm, parse, out)
	return n, norm.report(), err
}

func (d *DB) writeObservations(ctx context.Context, snap Snapshot, norm *normalizer, parse func(emit func(connectors.Observation) error) error, out string) (int64, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := d.loadTerritories(ctx, conn); err != nil {
		return 0, err
	}
	if _, err := conn.ExecContext(ctx, rawObservationsDDL); err != nil {
		return 0, fmt.Errorf("create raw_observations: %w", err)
	}
	err = conn.Raw(func(dc any) error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "raw_observations")
		if err != nil {
			return fmt.Errorf("appender: %w", err)
		}
		perr := parse(func(o connectors.Observation) error {
			var v driver.Value
			if o.Value != nil {
				v = *o.Value
			}
			mult, flagged := norm.apply(&o)
			var unit driver.Value
			if o.Unit != "" {
				unit = o.Unit
			}
			return app.AppendRow(o.Indicator, o.Breakdown, unit, int32(mult), o.Geo, o.Period, o.Freq, o.Sex, o.Age,
				o.Education, o.Sector, o.Citizenship, v, o.Status, flagged, o.Position)
		})
		cerr := app.Close()
		if perr != nil {
			return perr
		}
		return cerr
	})
	if err != nil {
		return 0, err
	}
	unknown, err := queryStrings(ctx, conn, `SELECT DISTINCT geo FROM raw_observations
		WHERE upper(trim(geo)) NOT IN (SELECT code FROM territory_codes) ORDER BY geo LIMIT 10`)
	if err != nil {
		return 0, err
	}
	if len(unknown) > 0 {
		return 0, fault.Errorf(fault.BadInput, "unknown territory code(s) %s: not in the Lombardy crosswalk", strings.Join(unknown, ", "))
	}
	dup, err := queryStrings(ctx, conn, `SELECT CAST(position AS VARCHAR) FROM raw_observations GROUP BY position HAVING count(*) > 1 LIMIT 1`)
	if err != nil {
		return 0, err
	}
	if len(dup) > 0 {
		return 0, fmt.Errorf("harmonize: position %s emitted twice", dup[0])
	}
	n, err := copyToParquet(ctx, conn, observationsSQL, out, snap.Source, snap.Dataset, snap.RawSHA256)
	if err != nil {
		return 0, fmt.Errorf("write observations: %w", err)
	}
	return n, nil
}

// copyToParquet writes the result of query (with bound args) to a Parquet file and returns its rows.
func copyToParquet(ctx context.Context, conn *sql.Conn, query, out string, args ...any) (int64, error) {
	stmt := fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 122880)",
		strings.TrimRight(strings.TrimSpace(query), ";"), quoteLiteral(out))
	res, err := conn.ExecContext(ctx, stmt, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (d *DB) loadTerritories(ctx context.Context, conn *sql.Conn) error {
	terr, err := d.Codes().Territories()
	if err != nil {
		return err
	}
	stmts := []string{
		`CREATE OR REPLACE TEMP TABLE territory_codes (code VARCHAR PRIMARY KEY, istat VARCHAR)`,
		`CREATE OR REPLACE TEMP TABLE territories (istat VARCHAR PRIMARY KEY, level VARCHAR, itter107 VARCHAR,
			nuts2021 VARCHAR, sigla VARCHAR, name VARCHAR, name_upper VARCHAR, capoluogo_istat VARCHAR,
			capoluogo_belfiore VARCHAR)`,
	}
	for _, s := range stmts {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("territories: %w", err)
		}
	}
	for _, c := range terr.Codes() {
		if _, err := conn.ExecContext(ctx, `INSERT INTO territory_codes VALUES (?, ?)`, c[0], c[1]); err != nil {
			return fmt.Errorf("territories: %w", err)
		}
	}
	for _, t := range terr.All() {
		if _, err := conn.ExecContext(ctx, `INSERT INTO territories VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.Istat, t.Level, t.ITTER107, t.NUTS2021, t.Sigla, t.Name, t.NameUpper, t.CapoluogoIstat, t.CapoluogoBelfiore); err != nil {
			return fmt.Errorf("territories: %w", err)
		}
	}
	return nil
}

func queryStrings(ctx context.Context, conn *sql.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s.String)
	}
	return out, rows.Err()
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TableSpec is one release table to assemble from Parquet inputs.
type TableSpec struct {
	Inputs  []string // local Parquet files
	OrderBy string   // ORDER BY clause (column names of the table)
	Out     string
}

// CombineParquet writes the union of the inputs, ordered, to spec.Out and returns its rows. With no input
// it writes an empty table of the given columns.
func (d *DB) CombineParquet(ctx context.Context, spec TableSpec) (int64, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if len(spec.Inputs) == 0 {
		return 0, errors.New("combine: no inputs")
	}
	files := make([]string, len(spec.Inputs))
	for i, f := range spec.Inputs {
		files[i] = quoteLiteral(f)
	}
	q := fmt.Sprintf("SELECT * FROM read_parquet([%s], union_by_name = true) ORDER BY %s", strings.Join(files, ", "), spec.OrderBy)
	return copyToParquet(ctx, conn, q, spec.Out)
}

// WriteTerritories writes the territorial crosswalk as a Parquet table and returns its rows.
func (d *DB) WriteTerritories(ctx context.Context, out string) (int64, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	if err := d.loadTerritories(ctx, conn); err != nil {
		return 0, err
	}
	return copyToParquet(ctx, conn, "SELECT * FROM territories ORDER BY istat", out)
}

// TerritoryColumns is the schema of the territories table.
var TerritoryColumns = []Column{
	{"istat", "string", "Istat number (03 region, 015 province)"},
	{"level", "string", "province or region"},
	{"itter107", "string", "Istat CL_ITTER107 code (Milano ITC45, Monza IT108)"},
	{"nuts2021", "string", "NUTS 2021 code (Milano ITC4C, Monza ITC4D)"},
	{"sigla", "string", "Vehicle plate code"},
	{"name", "string", "Official name"},
	{"name_upper", "string", "Upper-case name as CO and MIM spell it"},
	{"capoluogo_istat", "string", "Istat code of the capital comune"},
	{"capoluogo_belfiore", "string", "Cadastral code of the capital comune"},
}

// CountRows returns the rows of a Parquet file.
func (d *DB) CountRows(ctx context.Context, path string) (int64, error) {
	var n int64
	err := d.db.QueryRowContext(ctx, "SELECT count(*) FROM read_parquet("+quoteLiteral(path)+")").Scan(&n)
	return n, err
}

// SliceSpec keeps the rows of one release file that belong to some sources and, or, one territory.
type SliceSpec struct {
	Input     string
	Sources   []string // keep rows whose source is one of these (the table must have a source column)
	Territory string   // keep rows of this territory (the table must have a territory column)
	// PartRow adds part_row: the row's 0-based position in the input, so a sliced part of labour_events
	// still points at its row of the release (and through it at its raw row).
	PartRow bool
	Out     string
}

// SliceParquet writes the rows of spec.Input that spec keeps, in their order, and returns their number.
func (d *DB) SliceParquet(ctx context.Context, spec SliceSpec) (int64, error) {
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var where []string
	if len(spec.Sources) > 0 {
		quoted := make([]string, len(spec.Sources))
		for i, s := range spec.Sources {
			quoted[i] = quoteLiteral(s)
		}
		where = append(where, "source IN ("+strings.Join(quoted, ", ")+")")
	}
	if spec.Territory != "" {
		where = append(where, "territory = "+quoteLiteral(spec.Territory))
	}
	cols, from := "*", "read_parquet("+quoteLiteral(spec.Input)+")"
	if spec.PartRow {
		cols = "* EXCLUDE (file_row_number), file_row_number AS part_row"
		from = "read_parquet(" + quoteLiteral(spec.Input) + ", file_row_number = true)"
	}
	q := "SELECT " + cols + " FROM " + from
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if spec.PartRow {
		q += " ORDER BY part_row"
	}
	return copyToParquet(ctx, conn, q, spec.Out)
}

// SQL returns the text of every SQL file the harmonization and the release build run, by file name.
func SQL() map[string]string {
	return map[string]string{"sql/observations.sql": observationsSQL, "sql/labour_events.sql": labourEventsSQL,
		"sql/labour_flows_part.sql": labourFlowsPartSQL, "sql/labour_flows.sql": labourFlowsSQL,
		"sql/labour_balances.sql": labourBalancesSQL}
}

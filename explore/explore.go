// Package explore answers the console's and the reports' questions from a published release's tables
// (never raw data): the labour flows of a territory by month, quarter or year, with a breakdown, and its
// balances. Release files are read from a local cache by hash.
package explore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// Explorer reads release tables with DuckDB.
type Explorer struct {
	Releases *release.Store
	DB       *warehouse.DB
	Cache    string // release files by hash
	// Staged, when set, answers from a release being built instead: its manifest and the local file of
	// each of its tables (the reports stored in the bundle are made this way).
	Staged *Staged
	// English labels groups and indicators with the release's English labels (label_en) instead of the
	// Italian ones.
	English bool
}

// labelColumn is the labels' column in the Explorer's language.
func (e *Explorer) labelColumn() string {
	if e.English {
		return "label_en"
	}
	return "label_it"
}

// Staged is a release being built: its manifest and its tables, one local Parquet file each.
type Staged struct {
	Manifest *release.Manifest
	Tables   map[string]string
}

// Manifest returns the manifest of release version (the staged one, when the Explorer has one).
func (e *Explorer) Manifest(ctx context.Context, version string) (*release.Manifest, error) {
	if e.Staged != nil {
		return e.Staged.Manifest, nil
	}
	return e.Releases.Get(ctx, version)
}

// Flow is one period's flows of a territory (and group, with a breakdown).
type Flow struct {
	Period            string `json:"period"`
	Group             string `json:"group,omitempty"`
	Label             string `json:"label,omitempty"` // the group's label, from the release's labels table (Italian, or English)
	Attivazioni       int64  `json:"attivazioni"`
	Cessazioni        int64  `json:"cessazioni"`
	Proroghe          int64  `json:"proroghe"`
	TrasformazioniIn  int64  `json:"trasformazioni_in"`
	TrasformazioniOut int64  `json:"trasformazioni_out"`
	Saldo             int64  `json:"saldo"`
}

// Balance is one month's balance of a territory and its cumulative balance since 2017-01.
type Balance struct {
	Period        string `json:"period"`
	Saldo         int64  `json:"saldo"`
	SaldoCumulato int64  `json:"saldo_cumulato"`
}

// FlowTables are the flow tables by frequency.
var FlowTables = map[string]string{"month": "labour_flows", "quarter": "labour_flows_quarterly", "year": "labour_flows_yearly"}

// Breakdowns are the columns a flow series may be broken down by; territory gives every province and
// the region (the territory asked is then ignored).
var Breakdowns = []string{"contract_class", "sector_section", "sex", "age_class", "citizenship_group", "territory"}

// labelDimensions are the labels table's dimension of each breakdown column.
var labelDimensions = map[string]string{"contract_class": "contract_class", "sector_section": "sector", "sex": "sex",
	"age_class": "age", "citizenship_group": "citizenship"}

// ErrQuestion is a question the release tables cannot answer as asked (a bad territory, frequency or
// breakdown).
var ErrQuestion = errors.New("bad question")

// Flows returns a territory's flows by period (freq month, quarter or year), summed over every other
// dimension, or broken down by one (by).
func (e *Explorer) Flows(ctx context.Context, version, territory, freq, by string) ([]Flow, error) {
	table, ok := FlowTables[freq]
	if !ok {
		return nil, fmt.Errorf("%w: frequency %q (month, quarter or year)", ErrQuestion, freq)
	}
	if by != "" && !slices.Contains(Breakdowns, by) {
		return nil, fmt.Errorf("%w: breakdown %q (%s)", ErrQuestion, by, strings.Join(Breakdowns, ", "))
	}
	where, args := "territory = ?", []any{territory}
	if by == "territory" {
		where, args = "true", nil
	} else if err := checkTerritory(territory); err != nil {
		return nil, err
	}
	from, err := e.table(ctx, version, table)
	if err != nil {
		return nil, err
	}
	group, sex := "''", "sex = 'T'"
	switch by {
	case "sex":
		group, sex = "sex", "sex <> 'T'"
	case "":
	default:
		group = by
	}
	labels, dim := "(SELECT '' AS dimension, '' AS code, '' AS label_it, '' AS label_en WHERE false)", labelDimensions[by]
	if dim != "" {
		if l, err := e.table(ctx, version, "labels"); err == nil {
			labels = l
		} else if !errors.Is(err, ErrQuestion) { // a release without labels shows codes
			return nil, err
		}
	}
	q := fmt.Sprintf(`WITH f AS (SELECT period, %s AS grp, sum(attivazioni) AS a, sum(cessazioni) AS c, sum(proroghe) AS p,
		sum(trasformazioni_in) AS ti, sum(trasformazioni_out) AS tout, sum(saldo) AS s FROM %s WHERE %s AND %s GROUP BY ALL)
		SELECT f.period, f.grp, coalesce(l.%s, ''), f.a, f.c, f.p, f.ti, f.tout, f.s
		FROM f LEFT JOIN %s l ON l.dimension = '%s' AND l.code = f.grp ORDER BY f.period, f.grp`, group, from, where, sex, e.labelColumn(), labels, dim)
	return query(ctx, e.DB, func(rows *sql.Rows, f *Flow) error {
		return rows.Scan(&f.Period, &f.Group, &f.Label, &f.Attivazioni, &f.Cessazioni, &f.Proroghe, &f.TrasformazioniIn, &f.TrasformazioniOut, &f.Saldo)
	}, q, args...)
}

// Balances returns a territory's monthly balance and cumulative balance, every contract class together.
func (e *Explorer) Balances(ctx context.Context, version, territory string) ([]Balance, error) {
	if err := checkTerritory(territory); err != nil {
		return nil, err
	}
	from, err := e.table(ctx, version, "labour_balances")
	if err != nil {
		return nil, err
	}
	return query(ctx, e.DB, func(rows *sql.Rows, b *Balance) error {
		return rows.Scan(&b.Period, &b.Saldo, &b.SaldoCumulato)
	}, `SELECT period, saldo, saldo_cumulato FROM `+from+
		` WHERE territory = ? AND contract_class = 'TOTAL' ORDER BY period`, territory)
}

// Population is a territory's resident population on 1 January of a year, as a release publishes it.
type Population struct {
	Year    string  `json:"year"`
	Value   float64 `json:"value"`
	Source  string  `json:"source"`
	Dataset string  `json:"dataset"`
}

// Populations returns a territory's population on 1 January by year (both sexes, every age) from the
// release's observations: Istat's figure where it has one, else Eurostat's; a row broken down further only
// by totals (Istat's DURATION_UNEMPLOYMENT=TOTAL …) counts as the total. Empty when the release has no
// population.
func (e *Explorer) Populations(ctx context.Context, version, territory string) ([]Population, error) {
	if err := checkTerritory(territory); err != nil {
		return nil, err
	}
	from, err := e.table(ctx, version, "observations")
	if errors.Is(err, ErrQuestion) {
		return []Population{}, nil // a release without statistical sources
	} else if err != nil {
		return nil, err
	}
	return query(ctx, e.DB, func(rows *sql.Rows, p *Population) error {
		return rows.Scan(&p.Year, &p.Value, &p.Source, &p.Dataset)
	}, `SELECT period, value * pow(10, unit_mult), source, dataset FROM `+from+`
		WHERE indicator = 'population' AND territory = ? AND freq = 'A' AND sex = 'T' AND age = 'TOTAL'
		  AND education = 'TOTAL' AND citizenship = 'TOTAL' AND regexp_full_match(breakdown, '([^=;]+=TOTAL)?(;[^=;]+=TOTAL)*') AND value IS NOT NULL
		QUALIFY row_number() OVER (PARTITION BY period ORDER BY source <> 'istat', source, dataset) = 1
		ORDER BY period`, territory)
}

// Indicator is one year of an official labour-market indicator of a territory, as a release publishes it.
type Indicator struct {
	Indicator string  `json:"indicator"`
	Label     string  `json:"label"` // from the release's indicators table (Italian, or English)
	Age       string  `json:"age"`
	Year      string  `json:"year"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Source    string  `json:"source"`
	Dataset   string  `json:"dataset"`
}

// OfficialRates are the official indicators a dashboard shows, each at its standard age class.
var OfficialRates = [][2]string{{"unemployment_rate", "Y15-74"}, {"employment_rate", "Y15-64"}, {"activity_rate", "Y15-64"}}

// Indicators returns a territory's official rates by year (both sexes, the standard age class) from the
// release's observations: Istat's figure where it has one, else Eurostat's, with unit and source. Empty
// when the release has none.
func (e *Explorer) Indicators(ctx context.Context, version, territory string) ([]Indicator, error) {
	if err := checkTerritory(territory); err != nil {
		return nil, err
	}
	from, err := e.table(ctx, version, "observations")
	if errors.Is(err, ErrQuestion) {
		return []Indicator{}, nil
	} else if err != nil {
		return nil, err
	}
	label := "o.indicator"
	join := ""
	if ind, err := e.table(ctx, version, "indicators"); err == nil {
		label, join = "coalesce(i."+e.labelColumn()+", o.indicator)", " LEFT JOIN "+ind+" i ON i.indicator = o.indicator AND i.source = o.source AND i.dataset = o.dataset"
	} else if !errors.Is(err, ErrQuestion) {
		return nil, err
	}
	var which []string
	for _, r := range OfficialRates {
		which = append(which, fmt.Sprintf("(indicator = '%s' AND age = '%s')", r[0], r[1]))
	}
	return query(ctx, e.DB, func(rows *sql.Rows, i *Indicator) error {
		return rows.Scan(&i.Indicator, &i.Label, &i.Age, &i.Year, &i.Value, &i.Unit, &i.Source, &i.Dataset)
	}, `WITH o AS (
		SELECT indicator, age, period, value * pow(10, unit_mult) AS value, unit, source, dataset FROM `+from+`
		WHERE territory = ? AND freq = 'A' AND sex = 'T' AND education = 'TOTAL' AND citizenship = 'TOTAL'
		  AND regexp_full_match(breakdown, '([^=;]+=TOTAL)?(;[^=;]+=TOTAL)*') AND value IS NOT NULL AND (`+strings.Join(which, " OR ")+`))
		SELECT o.indicator, `+label+`, o.age, o.period, o.value, o.unit, o.source, o.dataset FROM o`+join+`
		QUALIFY row_number() OVER (PARTITION BY o.indicator, o.period ORDER BY o.source <> 'istat', o.source, o.dataset) = 1
		ORDER BY o.indicator, o.period`, territory)
}

// Territory is a province or the region.
type Territory struct {
	Istat string `json:"istat"`
	Name  string `json:"name"`
	Level string `json:"level"`
}

// Territories are the 12 provinces and the region, the region first.
func Territories() []Territory {
	var out []Territory
	for _, t := range codelist.MustTerritories().All() {
		out = append(out, Territory{Istat: t.Istat, Name: t.Name, Level: t.Level})
	}
	slices.SortStableFunc(out, func(a, b Territory) int {
		if a.Level != b.Level {
			return strings.Compare(b.Level, a.Level) // region before province
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

func checkTerritory(code string) error {
	for _, t := range Territories() {
		if t.Istat == code {
			return nil
		}
	}
	return fmt.Errorf("%w: territory %q is not a Lombardy province or the region (03)", ErrQuestion, code)
}

// table returns the SQL FROM expression of a release table, its files copied into the cache.
func (e *Explorer) table(ctx context.Context, version, name string) (string, error) {
	if e.Staged != nil {
		path, ok := e.Staged.Tables[name]
		if !ok {
			return "", fmt.Errorf("%w: release %s has no table %s", ErrQuestion, version, name)
		}
		return "read_parquet('" + strings.ReplaceAll(path, "'", "''") + "')", nil
	}
	m, err := e.Releases.Get(ctx, version)
	if err != nil {
		return "", err
	}
	r, ok := m.Resource(name)
	if !ok {
		return "", fmt.Errorf("%w: release %s has no table %s", ErrQuestion, version, name)
	}
	paths, err := e.Releases.LocalCopies(ctx, m, r.Files(), e.Cache)
	if err != nil {
		return "", err
	}
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
	}
	return "read_parquet([" + strings.Join(quoted, ", ") + "])", nil
}

// query runs q and scans each row into a T; no row is an empty list, not nil.
func query[T any](ctx context.Context, db *warehouse.DB, scan func(*sql.Rows, *T) error, q string, args ...any) ([]T, error) {
	rows, err := db.SQL().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

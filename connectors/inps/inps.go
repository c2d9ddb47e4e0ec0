// Package inps connects INPS's statistics: the Osservatori statistici (the precariato observatory, private
// sector employees: hires, terminations and transformations by contract and region, province where the
// cube has it) through the JSON API behind the observatories' web application, and the CSV open data.
//
// The API takes a query as POST getDatiOsservatorio/ with a compact JSON body (its SAS backend breaks on
// spaces) naming the observatory, the row and column dimensions, the measures and the filters; the answer
// nests values → rows → values/columns → values/measures. INPS sends no change signal: the check asks the
// same observatory for its totals by period only (a few hundred bytes) and hashes them. The CSV files are
// Italian-style tables (';', comma decimals) read by package tabular with the dataset's column mapping.
package inps

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/tabular"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "inps"

// Formats of a dataset: osservatori (the default), the observatories' JSON API; csv, an open-data file.
const (
	FormatObservatory = "osservatori"
	FormatCSV         = "csv"
)

// Source is the connector.
type Source struct {
	base   string
	client *httpfetch.Client
}

// New returns the connector for INPS at baseURL (https://servizi2.inps.it or a mirror).
func New(baseURL string, client *httpfetch.Client) *Source {
	return &Source{base: strings.TrimRight(baseURL, "/"), client: client}
}

// Name returns "inps".
func (s *Source) Name() string { return Name }

// Extension returns "json" for the observatories, "csv" for the open data.
func (s *Source) Extension(ds connectors.Dataset) string {
	if ds.Format == FormatCSV {
		return "csv"
	}
	return "json"
}

// Selection is one dimension of a query, as the API wants it.
type Selection struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Order     int    `json:"order"`
	Expand    string `json:"expand"`
	Hide      bool   `json:"hide"`
	Aggregate bool   `json:"aggregate"`
}

// Measure is one measure of a query.
type Measure struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Order int    `json:"order"`
}

// Filter restricts a dimension to values.
type Filter struct {
	ID     string   `json:"id"`
	Label  string   `json:"label"`
	Values []string `json:"values"`
}

// Query is the body of getDatiOsservatorio. Marshalled by encoding/json it has no spaces, as the SAS
// backend needs.
type Query struct {
	ID             string `json:"id_osservatorio"`
	Language       string `json:"language"`
	TotalRow       bool   `json:"totalRow"`
	TotalColumn    bool   `json:"totalColumn"`
	SubtotalRow    bool   `json:"subtotalRow"`
	SubtotalColumn bool   `json:"subtotalColumn"`
	Selections     struct {
		Rows     []Selection `json:"rows"`
		Cols     []Selection `json:"cols"`
		Measures []Measure   `json:"measures"`
		Filters  []Filter    `json:"filters"`
	} `json:"selections"`
}

// query builds the dataset's query: rows, cols and measures from its configuration's query, filters from
// its filters. Totals are not asked for: the platform sums what it needs.
func query(ds connectors.Dataset, rows []string) (Query, error) {
	var q Query
	q.ID = ds.SourceCode()
	if q.ID == "" {
		return q, fault.Errorf(fault.BadInput, "dataset %s: code (the observatory id) is required", ds.ID)
	}
	if rows == nil {
		rows = ds.Query["rows"]
	}
	for i, r := range rows {
		q.Selections.Rows = append(q.Selections.Rows, Selection{ID: r, Label: r, Order: i + 1})
	}
	for i, c := range ds.Query["cols"] {
		q.Selections.Cols = append(q.Selections.Cols, Selection{ID: c, Label: c, Order: i + 1, Aggregate: true})
	}
	measures := ds.Query["measures"]
	if len(measures) == 0 {
		measures = []string{"_FREQ_SUM"}
	}
	for i, m := range measures {
		q.Selections.Measures = append(q.Selections.Measures, Measure{ID: m, Label: m, Order: i + 1})
	}
	keys := make([]string, 0, len(ds.Filters))
	for k := range ds.Filters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		q.Selections.Filters = append(q.Selections.Filters, Filter{ID: k, Label: k, Values: ds.Filters[k]})
	}
	if len(q.Selections.Rows) == 0 {
		return q, fault.Errorf(fault.BadInput, "dataset %s: query.rows is required", ds.ID)
	}
	return q, nil
}

func (s *Source) request(q Query) (httpfetch.Request, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return httpfetch.Request{}, err
	}
	return httpfetch.Request{URL: s.base + "/servizi/osservatoristatistici/api/getDatiOsservatorio/", Body: body,
		Header: http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}}}, nil
}

// periodRows are the period dimensions among a query's rows (Anno…, Mese…, Trimestre…).
func periodRows(rows []string) []string {
	var out []string
	for _, r := range rows {
		l := strings.ToLower(r)
		if strings.HasPrefix(l, "anno") || strings.HasPrefix(l, "mese") || strings.HasPrefix(l, "trimestre") {
			out = append(out, r)
		}
	}
	return out
}

// Check asks the observatory for its totals by period only, and returns their hash: new months and
// revised totals change it. A CSV file has no cheap signal (conditional GET, then its hash).
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	if ds.Format == FormatCSV {
		return connectors.Signal{}, nil
	}
	periods := periodRows(ds.Query["rows"])
	if len(periods) == 0 {
		return connectors.Signal{}, nil
	}
	small := ds
	small.Query = map[string][]string{"measures": ds.Query["measures"]}
	q, err := query(small, periods)
	if err != nil {
		return connectors.Signal{}, err
	}
	req, err := s.request(q)
	if err != nil {
		return connectors.Signal{}, err
	}
	resp, err := s.client.Get(ctx, req)
	if err != nil {
		return connectors.Signal{URL: req.URL}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return connectors.Signal{URL: req.URL}, fault.Errorf(fault.SourceUnavailable, "read: %w", err)
	}
	if err := s.Inspect(ds, resp.Status, resp.Header, body); err != nil {
		return connectors.Signal{URL: req.URL}, err
	}
	var a Answer
	if err := json.Unmarshal(body, &a); err != nil {
		return connectors.Signal{URL: req.URL}, fault.Wrap(fault.BadInput, "totals by period", err)
	}
	canon, _ := json.Marshal(a) // the answer's content, whatever its formatting
	sum := sha256.Sum256(canon)
	return connectors.Signal{Token: "totals-sha256=" + hex.EncodeToString(sum[:12]), URL: req.URL}, nil
}

// DataRequest returns the observatory query (a POST) or the CSV file's GET.
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	if ds.Format == FormatCSV {
		return httpfetch.Request{URL: fmt.Sprintf("%s/docallegati/Mig/OpenData/CSV/%s.csv", s.base, ds.SourceCode())}, nil
	}
	if ds.Format != "" && ds.Format != FormatObservatory {
		return httpfetch.Request{}, fault.Errorf(fault.BadInput, "unknown format %q (osservatori or csv)", ds.Format)
	}
	q, err := query(ds, nil)
	if err != nil {
		return httpfetch.Request{}, err
	}
	return s.request(q)
}

// Inspect rejects error statuses and HTML pages, and wants JSON from the API.
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	trimmed, err := connectors.CheckBody(status, header, head)
	switch {
	case err != nil:
		return err
	case ds.Format != FormatCSV && trimmed[0] != '{':
		return fault.Errorf(fault.BadInput, "not a JSON answer: %q", connectors.Snippet(trimmed, 160))
	}
	return nil
}

// Answer is getDatiOsservatorio's answer: values → rows → (values, columns → (values, measures)).
type Answer struct {
	Values []struct {
		Rows []struct {
			Values  []Cell `json:"values"`
			Columns []struct {
				Values   []Cell `json:"values"`
				Measures []Cell `json:"measures"`
			} `json:"columns"`
		} `json:"rows"`
	} `json:"values"`
}

// Cell is a dimension's value or a measure's value; numbers come as strings (Italian style) or numbers.
type Cell struct {
	ID    string          `json:"id"`
	Value json.RawMessage `json:"value"`
}

func (c Cell) text() string {
	var s string
	if json.Unmarshal(c.Value, &s) == nil {
		return strings.TrimSpace(s)
	}
	return strings.TrimSpace(string(c.Value))
}

// Parse reads an observatory answer (or a CSV file) into observations: the period from the period
// dimensions, the territory from the geo dimension (query.geo, else the one named Regione or Provincia),
// the other dimensions as the breakdown; rows outside Lombardy and totals are skipped.
func (s *Source) Parse(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	if ds.Format == FormatCSV {
		_, err := tabular.Read(r, ds, tabular.Columns(ds.Columns), emit)
		return err
	}
	var a Answer
	dec := json.NewDecoder(r)
	if err := dec.Decode(&a); err != nil {
		return fault.Wrap(fault.BadInput, "INPS answer", err)
	}
	if len(a.Values) == 0 {
		return fault.Errorf(fault.BadInput, "INPS answer: no values (a changed shape, or an observatory without data)")
	}
	terr := codelist.MustTerritories()
	var pos int64
	for _, block := range a.Values {
		for _, row := range block.Rows {
			for _, col := range row.Columns {
				cells := append(append([]Cell(nil), row.Values...), col.Values...)
				o, skip, err := observation(ds, cells, terr)
				if err != nil {
					return fault.Wrap(fault.BadInput, fmt.Sprintf("INPS answer, cell %d", pos+1), err)
				}
				for _, m := range col.Measures {
					pos++
					if skip {
						continue
					}
					obs := o
					obs.Position = pos
					if len(col.Measures) > 1 || (m.ID != "" && m.ID != "_FREQ_SUM") {
						obs.Indicator = ds.ID + "." + strings.ToLower(strings.TrimPrefix(m.ID, "_"))
					}
					v, ok, err := tabular.ParseNumber(m.text(), true)
					if err != nil {
						return fault.Wrap(fault.BadInput, fmt.Sprintf("INPS answer, measure %s", m.ID), err)
					}
					if ok {
						obs.Value = &v
					} else {
						obs.Status = m.text()
					}
					if err := emit(obs); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func isTotal(v string) bool {
	l := strings.ToLower(v)
	return l == "totale" || l == "total" || strings.HasPrefix(l, "totale ")
}

// observation maps one cell's dimension values; skip is true for totals and territories outside Lombardy.
func observation(ds connectors.Dataset, cells []Cell, terr *codelist.Territories) (o connectors.Observation, skip bool, err error) {
	o.Indicator, o.Unit = ds.ID, "NR"
	geoDims := ds.Query["geo"]
	var year, month, quarter, geo string
	var bd []string
	for _, c := range cells {
		id, v := strings.TrimSuffix(c.ID, "-"), c.text()
		if isTotal(v) {
			return o, true, nil
		}
		l := strings.ToLower(id)
		switch {
		case strings.HasPrefix(l, "anno"):
			year = v
		case strings.HasPrefix(l, "mese"):
			month = v
		case strings.HasPrefix(l, "trimestre"):
			quarter = v
		case contains(geoDims, c.ID) || (len(geoDims) == 0 && (strings.HasPrefix(l, "regione") || strings.HasPrefix(l, "provincia"))):
			geo = v
		default:
			bd = append(bd, id+"="+v)
		}
	}
	if geo == "" {
		return o, false, fmt.Errorf("no territory among the dimensions %v (set query.geo)", cells)
	}
	t, ok := terr.Lookup(geo)
	if !ok {
		return o, true, nil
	}
	o.Geo = t.Istat
	switch {
	case quarter != "":
		o.Period, o.Freq, err = tabular.Period(year+"T"+strings.TrimSpace(strings.TrimSuffix(strings.ToUpper(quarter), "TRIMESTRE")), "")
		if err != nil {
			o.Period, o.Freq, err = tabular.Period(quarter+" "+year, "")
		}
	default:
		o.Period, o.Freq, err = tabular.Period(year, month)
	}
	if err != nil {
		return o, false, err
	}
	o.Breakdown = strings.Join(bd, ";")
	return o, false, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s || strings.TrimSuffix(x, "-") == strings.TrimSuffix(s, "-") {
			return true
		}
	}
	return false
}

// Package eurostat connects Eurostat's dissemination API: the statistics API (JSON-stat 2.0) for data and
// the SDMX 2.1 dataflow structure for the cheap change signal (the UPDATE_DATA annotation).
package eurostat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/jsonstat"
	"github.com/osservatorio-lombardia/osservatorio/connectors/sdmx"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "eurostat"

// Source is the Eurostat connector.
type Source struct {
	base   string
	client *httpfetch.Client
}

// New returns the connector for the API at baseURL (…/eurostat/api/dissemination or a mirror of it).
func New(baseURL string, client *httpfetch.Client) *Source {
	return &Source{base: strings.TrimRight(baseURL, "/"), client: client}
}

// Name returns "eurostat".
func (s *Source) Name() string { return Name }

// Extension returns the raw object's extension for the dataset's format.
func (s *Source) Extension(ds connectors.Dataset) string {
	switch format(ds) {
	case FormatTSV:
		return "tsv"
	case FormatSDMXSS:
		return "xml"
	case FormatSDMXCSV:
		return "csv"
	}
	return "json"
}

func (s *Source) structureURL(ds connectors.Dataset) string {
	return fmt.Sprintf("%s/sdmx/2.1/dataflow/ESTAT/%s/latest", s.base, url.PathEscape(strings.ToUpper(ds.SourceCode())))
}

// Check reads the dataflow's UPDATE_DATA annotation: one request of a few KB.
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	u := s.structureURL(ds)
	resp, err := s.client.Get(ctx, httpfetch.Request{URL: u, Header: http.Header{"Accept": {"application/xml"}}})
	if err != nil {
		return connectors.Signal{URL: u}, err
	}
	defer resp.Body.Close()
	if resp.Status != http.StatusOK {
		return connectors.Signal{URL: u}, fault.Errorf(fault.BadInput, "dataflow structure %s: HTTP %d", u, resp.Status)
	}
	ann, err := sdmx.DataflowAnnotations(io.LimitReader(resp.Body, 8<<20), ds.SourceCode())
	if err != nil {
		return connectors.Signal{URL: u}, fault.Wrap(fault.BadInput, "dataflow structure "+u, err)
	}
	return connectors.Signal{Token: ann["UPDATE_DATA"], URL: u}, nil
}

// DataRequest asks the statistics API for the configured slice as JSON-stat 2.0, or the SDMX 2.1 API for
// the whole dataset as TSV or StructureSpecific (filtered when parsed: the key order would need the DSD).
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	switch f := format(ds); f {
	case FormatTSV, FormatSDMXSS:
		q := url.Values{}
		if f == FormatTSV {
			q.Set("format", "TSV")
		} else {
			q.Set("format", "SDMX_2.1_STRUCTURED")
		}
		if ds.Since != "" {
			q.Set("startPeriod", ds.Since)
		}
		if ds.Until != "" {
			q.Set("endPeriod", ds.Until)
		}
		u := fmt.Sprintf("%s/sdmx/2.1/data/%s?%s", s.base, url.PathEscape(strings.ToUpper(ds.SourceCode())), q.Encode())
		return httpfetch.Request{URL: u}, nil
	case FormatSDMXCSV:
		// SDMX 3.0: filters travel as c[dim]=a,b and the period as c[TIME_PERIOD]=ge:YYYY.
		q := make([]string, 0, len(ds.Filters)+1)
		dims := make([]string, 0, len(ds.Filters))
		for d := range ds.Filters {
			dims = append(dims, d)
		}
		sort.Strings(dims)
		for _, d := range dims {
			q = append(q, url.QueryEscape("c["+d+"]")+"="+url.QueryEscape(strings.Join(ds.Filters[d], ",")))
		}
		var period []string
		if ds.Since != "" {
			period = append(period, "ge:"+ds.Since)
		}
		if ds.Until != "" {
			period = append(period, "le:"+ds.Until)
		}
		if len(period) > 0 {
			q = append(q, url.QueryEscape("c[TIME_PERIOD]")+"="+url.QueryEscape(strings.Join(period, "+")))
		}
		u := fmt.Sprintf("%s/sdmx/3.0/data/dataflow/ESTAT/%s/1.0/*", s.base, url.PathEscape(strings.ToUpper(ds.SourceCode())))
		if len(q) > 0 {
			u += "?" + strings.Join(q, "&")
		}
		return httpfetch.Request{URL: u, Header: http.Header{"Accept": {"application/vnd.sdmx.data+csv;version=2.0.0"}}}, nil
	case FormatJSONStat:
	default:
		return httpfetch.Request{}, fault.Errorf(fault.BadInput, "dataset %s: format %q (jsonstat, tsv, sdmx-ss, sdmx-csv)", ds.ID, f)
	}
	q := url.Values{}
	q.Set("format", "JSON")
	q.Set("lang", "EN")
	dims := make([]string, 0, len(ds.Filters))
	for d := range ds.Filters {
		dims = append(dims, d)
	}
	sort.Strings(dims)
	for _, d := range dims {
		for _, v := range ds.Filters[d] {
			q.Add(d, v)
		}
	}
	if ds.Since != "" {
		q.Set("sinceTimePeriod", ds.Since)
	}
	if ds.Until != "" {
		q.Set("untilTimePeriod", ds.Until)
	}
	u := fmt.Sprintf("%s/statistics/1.0/data/%s?%s", s.base, url.PathEscape(ds.SourceCode()), q.Encode())
	return httpfetch.Request{URL: u, Header: http.Header{"Accept": {"application/json"}}}, nil
}

// Backfills says every dataset can be fetched by period range (startPeriod/endPeriod, sinceTimePeriod/
// untilTimePeriod, c[TIME_PERIOD]).
func (s *Source) Backfills(connectors.Dataset) bool { return true }

// Inspect rejects what is not a JSON-stat dataset: HTML pages, error documents, a queued (asynchronous)
// extraction, or a legacy SDMX footer announcing deferred delivery.
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case status == http.StatusRequestEntityTooLarge:
		return fault.Errorf(fault.BadInput, "HTTP 413, extraction too big: narrow the filters (%s)", snippet(trimmed))
	case status >= 400:
		return fault.Errorf(fault.BadInput, "HTTP %d: %s", status, snippet(trimmed))
	case isHTML(trimmed, header):
		return fault.Errorf(fault.BadInput, "an HTML page instead of data: %s", snippet(trimmed))
	case bytes.HasPrefix(trimmed, []byte("<")):
		if msgs, _ := sdmx.Footer(bytes.NewReader(head)); len(msgs) > 0 && msgs[0].Code == "413" {
			return fault.Errorf(fault.Deferred, "extraction deferred by the source: %s", strings.Join(msgs[0].Text, " "))
		}
		if format(ds) == FormatSDMXSS {
			return nil
		}
		return fault.Errorf(fault.BadInput, "XML instead of %s: %s", format(ds), snippet(trimmed))
	case format(ds) == FormatTSV:
		if !bytes.Contains(head[:min(len(head), 2048)], []byte("\\")) && !bytes.Contains(head[:min(len(head), 2048)], []byte("\t")) {
			return fault.Errorf(fault.BadInput, "not Eurostat TSV: %s", snippet(trimmed))
		}
		return nil
	case format(ds) == FormatSDMXSS:
		return fault.Errorf(fault.BadInput, "not SDMX-ML: %s", snippet(trimmed))
	case format(ds) == FormatSDMXCSV:
		if !bytes.HasPrefix(trimmed, []byte("STRUCTURE")) && !bytes.HasPrefix(trimmed, []byte("DATAFLOW")) {
			return fault.Errorf(fault.BadInput, "not SDMX-CSV: %s", snippet(trimmed))
		}
		return nil
	case !bytes.HasPrefix(trimmed, []byte("{")):
		return fault.Errorf(fault.BadInput, "not JSON: %s", snippet(trimmed))
	}
	// Small bodies may be an error or a warning in place of data: decode just those top-level keys.
	if len(head) < cap(head) || len(head) < 4096 {
		var probe struct {
			Error   json.RawMessage `json:"error"`
			Warning json.RawMessage `json:"warning"`
			Value   json.RawMessage `json:"value"`
		}
		if json.Unmarshal(head, &probe) == nil {
			if len(probe.Error) > 0 && string(probe.Error) != "null" {
				_, err := jsonstat.Decode(bytes.NewReader(head))
				return classify(err)
			}
			if len(probe.Warning) > 0 && len(probe.Value) == 0 {
				_, err := jsonstat.Decode(bytes.NewReader(head))
				return classify(err)
			}
		}
	}
	return nil
}

func isHTML(b []byte, h http.Header) bool {
	if strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/html") {
		return true
	}
	l := bytes.ToLower(b[:min(len(b), 64)])
	return bytes.HasPrefix(l, []byte("<!doctype html")) || bytes.HasPrefix(l, []byte("<html"))
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b[:min(len(b), 160)])), " ")
	return fmt.Sprintf("%q", s)
}

// classify maps a JSON-stat decoding error to a fault.
func classify(err error) error {
	var we *jsonstat.WarningResponse
	var ee *jsonstat.ErrorResponse
	switch {
	case err == nil:
		return nil
	case errors.As(err, &we) && we.Problem.Status == http.StatusRequestEntityTooLarge:
		return fault.Errorf(fault.Deferred, "extraction queued by the source (asynchronous delivery): %s", we.Problem.Label)
	case errors.As(err, &we):
		return fault.Errorf(fault.BadInput, "no data, source warning %d: %s", we.Problem.Status, we.Problem.Label)
	case errors.As(err, &ee) && len(ee.Problems) > 0 && ee.Problems[0].Status >= 500:
		return fault.Wrap(fault.SourceUnavailable, "source error", err)
	case errors.As(err, &ee):
		return fault.Wrap(fault.BadInput, "source error", err)
	default:
		return fault.Wrap(fault.BadInput, "malformed JSON-stat", err)
	}
}

// common maps Eurostat dimension ids to the common model's columns.
var common = map[string]string{
	"freq": "freq", "unit": "unit", "geo": "geo", "time": "time", "sex": "sex", "age": "age",
	"isced11": "education", "isced97": "education", "nace_r2": "sector", "citizen": "citizenship",
}

// Parse decodes a response into observations, in the order of the raw object.
func (s *Source) Parse(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	switch format(ds) {
	case FormatTSV:
		return parseTSV(ctx, ds, r, emit)
	case FormatSDMXSS:
		return parseSDMXSS(ctx, ds, r, emit)
	case FormatSDMXCSV:
		return parseSDMXCSV(ctx, ds, r, emit)
	}
	d, err := jsonstat.Decode(r)
	if err != nil {
		return classify(err)
	}
	pos := map[string]int{}
	for i, id := range d.ID {
		pos[strings.ToLower(id)] = i
	}
	for _, need := range []string{"geo", "time"} {
		if _, ok := pos[need]; !ok {
			return fault.Errorf(fault.BadInput, "schema changed: dimension %q missing (dimensions %v)", need, d.ID)
		}
	}
	var extra []int
	for i, id := range d.ID {
		if _, ok := common[strings.ToLower(id)]; !ok {
			extra = append(extra, i)
		}
	}
	get := func(codes []string, dim string) string {
		if i, ok := pos[dim]; ok {
			return codes[i]
		}
		return ""
	}
	indicator := strings.ToLower(ds.SourceCode())
	for n, c := range d.Cells() {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		period, freq, err := NormalizePeriod(get(c.Codes, "time"))
		if err != nil {
			return fault.Wrap(fault.BadInput, fmt.Sprintf("cell %d", c.Index), err)
		}
		if Outside(period, ds) {
			continue
		}
		if f := get(c.Codes, "freq"); f != "" {
			freq = f
		}
		var b strings.Builder
		for k, i := range extra {
			if k > 0 {
				b.WriteByte(';')
			}
			b.WriteString(strings.ToLower(d.ID[i]) + "=" + c.Codes[i])
		}
		o := connectors.Observation{
			Indicator: indicator, Breakdown: b.String(),
			Unit: get(c.Codes, "unit"), Geo: get(c.Codes, "geo"), Period: period, Freq: freq,
			Sex: get(c.Codes, "sex"), Age: get(c.Codes, "age"),
			Education: firstNonEmpty(get(c.Codes, "isced11"), get(c.Codes, "isced97")),
			Sector:    get(c.Codes, "nace_r2"), Citizenship: get(c.Codes, "citizen"),
			Value: c.Value, Status: c.Status, Position: int64(c.Index),
		}
		if err := emit(o); err != nil {
			return err
		}
	}
	return nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

var periodRE = regexp.MustCompile(`^(\d{4})(?:-?([QSMWD]|-)?(\d{1,2}))?(?:-(\d{2}))?$`)

// NormalizePeriod turns Eurostat and SDMX period codes into the platform's form and returns their
// frequency: 2023 (A), 2023-Q1 (Q), 2023-S1 (S), 2023-01 (M), 2023-W05 (W), 2023-01-31 (D).
func NormalizePeriod(p string) (string, string, error) {
	p = strings.ToUpper(strings.TrimSpace(p))
	m := periodRE.FindStringSubmatch(p)
	if m == nil {
		return "", "", fmt.Errorf("period %q not understood", p)
	}
	year, kind, num, day := m[1], m[2], m[3], m[4]
	if num == "" {
		return year, "A", nil
	}
	var n int
	fmt.Sscanf(num, "%d", &n)
	switch {
	case day != "":
		return fmt.Sprintf("%s-%02d-%s", year, n, day), "D", nil
	case kind == "Q" && n >= 1 && n <= 4:
		return fmt.Sprintf("%s-Q%d", year, n), "Q", nil
	case kind == "S" && n >= 1 && n <= 2:
		return fmt.Sprintf("%s-S%d", year, n), "S", nil
	case kind == "W" && n >= 1 && n <= 53:
		return fmt.Sprintf("%s-W%02d", year, n), "W", nil
	case (kind == "M" || kind == "" || kind == "-") && n >= 1 && n <= 12:
		return fmt.Sprintf("%s-%02d", year, n), "M", nil
	}
	return "", "", fmt.Errorf("period %q not understood", p)
}

// Before says whether a normalised period starts before since (a period as configured: 2015, 2015-Q2,
// 2015-06 …). Every format is filtered on read this way, whatever the endpoint did with the request's
// period filter. An empty or unreadable since filters nothing.
func Before(period, since string) bool {
	if since == "" {
		return false
	}
	s, _, err := NormalizePeriod(since)
	if err != nil {
		return false
	}
	return startMonth(period) < startMonth(s)
}

// After says whether a normalised period starts after until ends (until as configured: 2019 ends in
// December, 2019-Q2 in June). An empty or unreadable until filters nothing.
func After(period, until string) bool {
	if until == "" {
		return false
	}
	u, _, err := NormalizePeriod(until)
	if err != nil {
		return false
	}
	return startMonth(period) > endMonth(u)
}

// Outside says whether a normalised period lies outside the dataset's periods: before its Since or,
// for a backfill chunk, after its Until.
func Outside(period string, ds connectors.Dataset) bool {
	return Before(period, ds.Since) || After(period, ds.Until)
}

// endMonth is the last month of a normalised period, as YYYY-MM.
func endMonth(p string) string {
	year, rest, _ := strings.Cut(p, "-")
	var n int
	switch {
	case rest == "":
		return year + "-12"
	case strings.HasPrefix(rest, "Q"):
		fmt.Sscanf(rest[1:], "%d", &n)
		return fmt.Sprintf("%s-%02d", year, 3*n)
	case strings.HasPrefix(rest, "S"):
		fmt.Sscanf(rest[1:], "%d", &n)
		return fmt.Sprintf("%s-%02d", year, 6*n)
	}
	return startMonth(p)
}

// startMonth is the first month of a normalised period, as YYYY-MM (a week's or a day's own month).
func startMonth(p string) string {
	year, rest, _ := strings.Cut(p, "-")
	var n int
	switch {
	case rest == "":
		return year + "-01"
	case strings.HasPrefix(rest, "Q"):
		fmt.Sscanf(rest[1:], "%d", &n)
		return fmt.Sprintf("%s-%02d", year, 3*n-2)
	case strings.HasPrefix(rest, "S"):
		fmt.Sscanf(rest[1:], "%d", &n)
		return fmt.Sprintf("%s-%02d", year, 6*n-5)
	case strings.HasPrefix(rest, "W"):
		fmt.Sscanf(rest[1:], "%d", &n)
		return fmt.Sprintf("%s-%02d", year, min(12, 1+(n-1)*12/53))
	}
	return year + "-" + rest[:min(2, len(rest))]
}

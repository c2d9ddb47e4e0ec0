// Package istat connects Istat's SDMX REST web service (esploradati.istat.it/SDMXWS/rest, or the legacy
// sdmx.istat.it host, from configuration). The change signal is the dataflow's LAST_UPDATE annotation (Istat
// sends no ETag); the same structure request (references=datastructure) gives the dimension order the data
// key is built from. The format is chosen by the Accept header only: SDMX-ML 2.1 GenericData (Istat's
// default), StructureSpecificData or SDMX-CSV 1.0. endPeriod is never sent (esploradati's is off by one).
// Istat bans an address that sends more than 5 requests a minute: configure rate_limit for this source.
package istat

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/eurostat"
	"github.com/osservatorio-lombardia/osservatorio/connectors/sdmx"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "istat"

// Formats (configuration key format) and their Accept headers.
var accept = map[string]string{
	"generic":           "application/vnd.sdmx.genericdata+xml;version=2.1",
	"structurespecific": "application/vnd.sdmx.structurespecificdata+xml;version=2.1",
	"csv":               "application/vnd.sdmx.data+csv;version=1.0.0",
}

// Source is the connector.
type Source struct {
	base   string
	client *httpfetch.Client
}

// New returns the connector for the web service at baseURL.
func New(baseURL string, client *httpfetch.Client) *Source {
	return &Source{base: strings.TrimRight(baseURL, "/"), client: client}
}

// Name returns "istat".
func (s *Source) Name() string { return Name }

func format(ds connectors.Dataset) string {
	if ds.Format == "" {
		return "generic"
	}
	return ds.Format
}

// Extension is "csv" for SDMX-CSV, "xml" otherwise.
func (s *Source) Extension(ds connectors.Dataset) string {
	if format(ds) == "csv" {
		return "csv"
	}
	return "xml"
}

// Check reads the dataflow with its data structure: LAST_UPDATE is the signal, the DSD gives the key order
// and the territory dimension (REF_AREA, ITTER107 …), returned as the signal's Structure.
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	u := fmt.Sprintf("%s/dataflow/IT1/%s/latest?references=datastructure", s.base, url.PathEscape(ds.SourceCode()))
	resp, err := s.client.Get(ctx, httpfetch.Request{URL: u, Header: http.Header{"Accept": {"application/xml"}}})
	if err != nil {
		return connectors.Signal{URL: u}, err
	}
	defer resp.Body.Close()
	if resp.Status != http.StatusOK {
		return connectors.Signal{URL: u}, fault.Errorf(fault.BadInput, "dataflow %s: HTTP %d", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return connectors.Signal{URL: u}, fault.Wrap(fault.SourceUnavailable, "dataflow "+u, err)
	}
	ann, err := sdmx.DataflowAnnotations(bytes.NewReader(body), ds.SourceCode())
	if err != nil {
		return connectors.Signal{URL: u}, fault.Wrap(fault.BadInput, "dataflow "+u, err)
	}
	sig := connectors.Signal{Token: ann["LAST_UPDATE"], URL: u}
	if dsd, err := sdmx.DataStructure(bytes.NewReader(body)); err == nil {
		sig.Structure = &connectors.Structure{Dimensions: dsd.IDs(), Territory: dsd.Territory()}
	}
	return sig, nil
}

// Key builds the SDMX data key from the dimension order and the filters: the accepted codes of a dimension
// joined by +, an empty position for a dimension without filter.
func Key(dims []string, filters map[string][]string) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		for k, v := range filters {
			if strings.EqualFold(k, d) {
				vals := append([]string(nil), v...)
				sort.Strings(vals)
				parts[i] = strings.Join(vals, "+")
			}
		}
	}
	return strings.Join(parts, ".")
}

// DataRequest asks for the dataset with a key built from the DSD (ds.Structure, from Check; without it,
// the whole flow, filtered when parsed).
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	acc, ok := accept[format(ds)]
	if !ok {
		return httpfetch.Request{}, fault.Errorf(fault.BadInput, "dataset %s: format %q (generic, structurespecific, csv)", ds.ID, ds.Format)
	}
	var dims []string
	if ds.Structure != nil {
		dims = ds.Structure.Dimensions
	}
	u := fmt.Sprintf("%s/data/%s", s.base, url.PathEscape(ds.SourceCode()))
	if len(dims) > 0 && len(ds.Filters) > 0 {
		u += "/" + Key(dims, ds.Filters)
	}
	q := url.Values{}
	if ds.Since != "" {
		q.Set("startPeriod", ds.Since)
	}
	if end := endPeriod(ds.Until); end != "" {
		q.Set("endPeriod", end)
	}
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return httpfetch.Request{URL: u, Header: http.Header{"Accept": {acc}}}, nil
}

// endPeriod is the endPeriod that asks esploradati for the periods up to until: the year before until's,
// since its endPeriod is off by one (endPeriod=N-1 returns year N; SOURCES.md §2.3). That returns the
// whole of until's year; Parse keeps only the periods up to until.
func endPeriod(until string) string {
	if until == "" {
		return ""
	}
	year, err := strconv.Atoi(until[:min(4, len(until))])
	if err != nil {
		return ""
	}
	return strconv.Itoa(year - 1)
}

// Backfills says every dataset can be fetched by period range (startPeriod, endPeriod).
func (s *Source) Backfills(connectors.Dataset) bool { return true }

// Inspect rejects HTML pages and bodies of another format than the one asked for.
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	trimmed, err := connectors.CheckBody(status, header, head)
	switch {
	case err != nil:
		return err
	case format(ds) == "csv" && !bytes.HasPrefix(trimmed, []byte("DATAFLOW")):
		return fault.Errorf(fault.BadInput, "not SDMX-CSV: %q", string(trimmed[:min(len(trimmed), 80)]))
	case format(ds) != "csv" && !bytes.HasPrefix(trimmed, []byte("<")):
		return fault.Errorf(fault.BadInput, "not SDMX-ML: %q", string(trimmed[:min(len(trimmed), 80)]))
	}
	return nil
}

// attributes are the concepts of an Istat observation that are not breakdowns: the measure, the time,
// the common dimensions and the attributes.
var attributes = map[string]bool{"TIME_PERIOD": true, "OBS_VALUE": true, "OBS_STATUS": true, "FREQ": true,
	"SEX": true, "AGE": true, "EDU_LEV_HIGHEST": true, "CITIZENSHIP": true, "DATA_TYPE": true, "UNIT_MEAS": true,
	"DATAFLOW": true, "BREAK": true, "CONF_STATUS": true, "OBS_PRE_BREAK": true, "BASE_PER": true, "UNIT_MULT": true,
	"METADATA_EN": true, "METADATA_IT": true, "DECIMALS": true, "NOTE_DS": true, "NOTE_REF_AREA": true}

// Parse reads the data message into observations, keeping only those the filters accept. The territory is
// the DSD's territory dimension (REF_AREA, or ITTER107 in older flows); UNIT_MEAS and UNIT_MULT are taken
// wherever the message puts them (observation, series or data set).
func (s *Source) Parse(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	handle := func(ob sdmx.Obs) error {
		if ob.Position%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		v := ob.Values
		if !accepted(ds.Filters, v) {
			return nil
		}
		period, freq, err := eurostat.NormalizePeriod(v["TIME_PERIOD"])
		if err != nil {
			return fault.Wrap(fault.BadInput, fmt.Sprintf("observation %d", ob.Position), err)
		}
		if eurostat.Outside(period, ds) {
			return nil
		}
		if f := v["FREQ"]; f != "" {
			freq = f
		}
		value, err := obsValue(v["OBS_VALUE"], ob.Position)
		if err != nil {
			return err
		}
		mult, err := unitMult(v["UNIT_MULT"], ob.Position)
		if err != nil {
			return err
		}
		geo := territory(ds, v)
		var extra []string
		for k, val := range v {
			if !attributes[k] && k != geo && val != "" {
				extra = append(extra, strings.ToLower(k)+"="+val)
			}
		}
		sort.Strings(extra)
		indicator := v["DATA_TYPE"]
		if indicator == "" {
			indicator = strings.ToLower(ds.SourceCode())
		}
		return emit(connectors.Observation{
			Indicator: indicator, Breakdown: strings.Join(extra, ";"), Unit: v["UNIT_MEAS"], UnitMult: mult,
			Geo: v[geo], Period: period, Freq: freq, Sex: v["SEX"], Age: v["AGE"], Education: v["EDU_LEV_HIGHEST"],
			Citizenship: v["CITIZENSHIP"], Value: value, Status: v["OBS_STATUS"], Position: ob.Position,
		})
	}
	var err error
	switch format(ds) {
	case "structurespecific":
		err = sdmx.ReadStructureSpecific(r, handle)
	case "csv":
		err = sdmx.ReadCSV(r, handle)
	default:
		err = sdmx.ReadGeneric(r, handle)
	}
	if err != nil && fault.KindOf(err) == "" && ctx.Err() == nil {
		return fault.Wrap(fault.BadInput, "SDMX "+format(ds), err)
	}
	return err
}

// accepted says whether an observation's codes pass the dataset's filters (a filtered dimension the
// observation lacks passes).
func accepted(filters map[string][]string, v map[string]string) bool {
	for dim, want := range filters {
		got, ok := v[strings.ToUpper(dim)]
		if !ok {
			continue
		}
		match := false
		for _, a := range want {
			match = match || strings.EqualFold(a, got)
		}
		if !match {
			return false
		}
	}
	return true
}

// territory returns the concept that holds an observation's territory: the DSD's territory dimension,
// else the first territory concept present (a raw object harmonized without its DSD).
func territory(ds connectors.Dataset, v map[string]string) string {
	if ds.Structure != nil && ds.Structure.Territory != "" {
		return ds.Structure.Territory
	}
	return sdmx.TerritoryColumn(v)
}

func obsValue(raw string, pos int64) (*float64, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "NaN" {
		return nil, nil
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil {
		return nil, fault.Errorf(fault.BadInput, "observation %d: OBS_VALUE %q is not a number", pos, raw)
	}
	return &f, nil
}

// unitMult reads UNIT_MULT, a power of ten (CL_UNIT_MULT: 0, 3, 6 …); nil when absent.
func unitMult(raw string, pos int64) (*int, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < -15 || n > 15 {
		return nil, fault.Errorf(fault.BadInput, "observation %d: UNIT_MULT %q is not a power of ten", pos, raw)
	}
	return &n, nil
}

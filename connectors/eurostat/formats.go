package eurostat

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/sdmx"
	"github.com/osservatorio-lombardia/osservatorio/fault"
)

// Formats a dataset can be fetched in (configuration key format).
const (
	FormatJSONStat = "jsonstat" // statistics API, filtered by the source (default)
	FormatTSV      = "tsv"      // SDMX 2.1 API, format=TSV, filtered here
	FormatSDMXSS   = "sdmx-ss"  // SDMX 2.1 API, StructureSpecific, filtered here
	FormatSDMXCSV  = "sdmx-csv" // SDMX 3.0 API, SDMX-CSV 2.0, filtered by the source (c[dim]=…)
)

func format(ds connectors.Dataset) string {
	if ds.Format == "" {
		return FormatJSONStat
	}
	return ds.Format
}

// observation builds an Observation from a dimension map as the SDMX formats give it.
func observation(ds connectors.Dataset, dims map[string]string, period string, value *float64, flag string, pos int64) (connectors.Observation, bool, error) {
	for dim, accepted := range ds.Filters {
		v, ok := dims[strings.ToLower(dim)]
		if !ok {
			continue
		}
		match := false
		for _, a := range accepted {
			if strings.EqualFold(a, v) {
				match = true
				break
			}
		}
		if !match {
			return connectors.Observation{}, false, nil
		}
	}
	p, freq, err := NormalizePeriod(period)
	if err != nil {
		return connectors.Observation{}, false, fault.Wrap(fault.BadInput, fmt.Sprintf("observation %d", pos), err)
	}
	if Outside(p, ds) {
		return connectors.Observation{}, false, nil // the TSV and SDMX 2.1 endpoints ignore startPeriod
	}
	if f := dims["freq"]; f != "" {
		freq = f
	}
	var extra []string
	for k, v := range dims {
		if _, ok := common[k]; !ok {
			extra = append(extra, k+"="+v)
		}
	}
	sortStrings(extra)
	return connectors.Observation{
		Indicator: strings.ToLower(ds.SourceCode()), Breakdown: strings.Join(extra, ";"),
		Unit: dims["unit"], Geo: dims["geo"], Period: p, Freq: freq, Sex: dims["sex"], Age: dims["age"],
		Education: firstNonEmpty(dims["isced11"], dims["isced97"]), Sector: dims["nace_r2"], Citizenship: dims["citizen"],
		Value: value, Status: flag, Position: pos,
	}, true, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// parseTSV reads Eurostat's TSV: a header "freq,unit,…,geo\TIME_PERIOD" (or "geo\time") followed by one
// period per column; rows "A,PC,…,ITC4" then cells "62.1 b", ": " (missing) or ": c" (confidential).
func parseTSV(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	if !sc.Scan() {
		return fault.Errorf(fault.BadInput, "TSV: empty body")
	}
	header := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
	first := strings.TrimPrefix(header[0], "\ufeff")
	i := strings.IndexByte(first, '\\')
	if i < 0 || len(header) < 2 {
		return fault.Errorf(fault.BadInput, "TSV: header %q is not dimension,…\\TIME_PERIOD", first)
	}
	dims := strings.Split(strings.ToLower(first[:i]), ",")
	periods := make([]string, len(header)-1)
	for k, h := range header[1:] {
		periods[k] = strings.TrimSpace(h)
	}
	var row int64
	for sc.Scan() {
		if row%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		cells := strings.Split(line, "\t")
		codes := strings.Split(cells[0], ",")
		if len(codes) != len(dims) || len(cells) != len(header) {
			return fault.Errorf(fault.BadInput, "TSV row %d: %d codes and %d cells, header has %d and %d", row+1, len(codes), len(cells), len(dims), len(header))
		}
		key := make(map[string]string, len(dims))
		for k, d := range dims {
			key[d] = strings.TrimSpace(codes[k])
		}
		for k, cell := range cells[1:] {
			cell = strings.TrimSpace(cell)
			num, flag, _ := strings.Cut(cell, " ")
			flag = strings.TrimSpace(flag)
			var value *float64
			if num != ":" {
				v, err := strconv.ParseFloat(num, 64)
				if err != nil {
					return fault.Errorf(fault.BadInput, "TSV row %d, %s: %q is not a number", row+1, periods[k], cell)
				}
				value = &v
			} else if flag == "" {
				continue // missing, no flag: no observation
			}
			o, keep, err := observation(ds, key, periods[k], value, flag, row*int64(len(periods))+int64(k))
			if err != nil {
				return err
			}
			if keep {
				if err := emit(o); err != nil {
					return err
				}
			}
		}
		row++
	}
	if err := sc.Err(); err != nil {
		return fault.Wrap(fault.BadInput, "TSV", err)
	}
	return nil
}

// parseSDMXSS reads SDMX-ML 2.1 StructureSpecificData.
func parseSDMXSS(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	return parseSDMX(ctx, ds, r, emit, sdmx.ReadStructureSpecific, "SDMX-ML")
}

// parseSDMXCSV reads SDMX-CSV 2.0 (STRUCTURE, STRUCTURE_ID, ACTION, dimensions, TIME_PERIOD, OBS_VALUE,
// OBS_FLAG …) as Eurostat's SDMX 3.0 API writes it.
func parseSDMXCSV(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	return parseSDMX(ctx, ds, r, emit, sdmx.ReadCSV, "SDMX-CSV")
}

// parseSDMX turns the observations of an SDMX reader into the common model: TIME_PERIOD, OBS_VALUE and
// OBS_FLAG (or OBS_STATUS) by name, every other concept a dimension. A position with neither a value nor a
// flag is no observation.
func parseSDMX(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error,
	read func(io.Reader, func(sdmx.Obs) error) error, what string) error {
	err := read(r, func(ob sdmx.Obs) error {
		if ob.Position%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		dims := map[string]string{}
		var period, raw, flag, mult string
		for k, v := range ob.Values {
			switch strings.ToUpper(k) {
			case "STRUCTURE", "STRUCTURE_ID", "STRUCTURE_NAME", "ACTION", "DATAFLOW", "LAST UPDATE", "CONF_STATUS":
			case "TIME_PERIOD":
				period = v
			case "OBS_VALUE":
				raw = v
			case "OBS_FLAG", "OBS_STATUS":
				flag = v
			case "UNIT_MULT":
				mult = strings.TrimSpace(v)
			default:
				dims[strings.ToLower(k)] = v
			}
		}
		var value *float64
		if raw != "" && raw != "NaN" {
			v, err := strconv.ParseFloat(raw, 64)
			if err != nil {
				return fault.Errorf(fault.BadInput, "observation %d: OBS_VALUE %q is not a number", ob.Position, raw)
			}
			value = &v
		} else if flag == "" {
			return nil
		}
		o, keep, err := observation(ds, dims, period, value, flag, ob.Position)
		if err != nil || !keep {
			return err
		}
		if mult != "" {
			n, err := strconv.Atoi(mult)
			if err != nil {
				return fault.Errorf(fault.BadInput, "observation %d: UNIT_MULT %q is not a power of ten", ob.Position, mult)
			}
			o.UnitMult = &n
		}
		return emit(o)
	})
	if err != nil && fault.KindOf(err) == "" && ctx.Err() == nil {
		return fault.Wrap(fault.BadInput, what, err)
	}
	return err
}

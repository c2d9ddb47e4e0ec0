package sdmx

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ReadCSV streams SDMX-CSV, version 1.0 (first column DATAFLOW, Istat and Eurostat) or 2.0 (STRUCTURE,
// STRUCTURE_ID, ACTION, Eurostat's SDMX 3.0 API), and calls emit for every row as an observation keyed by
// column name. Column headers lose SDMX-CSV 2.0 decorations (`STRUCTURE[;]`, `ATTR_1[]`); a UTF-8 BOM is
// dropped. Rows whose column count differs from the header are an error.
func ReadCSV(r io.Reader, emit func(Obs) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("SDMX-CSV header: %w", err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
		if j := strings.IndexByte(h, '['); j >= 0 {
			h = h[:j]
		}
		if j := strings.IndexByte(h, ':'); j >= 0 { // "OBS_VALUE: Observation value" label variants
			h = h[:j]
		}
		cols[i] = strings.TrimSpace(h)
	}
	switch cols[0] {
	case "DATAFLOW", "STRUCTURE":
	default:
		return fmt.Errorf("not SDMX-CSV: first column %q (want DATAFLOW or STRUCTURE)", cols[0])
	}
	var pos int64
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("SDMX-CSV row %d: %w", pos+1, err)
		}
		vals := make(map[string]string, len(cols))
		for i, c := range cols {
			vals[c] = rec[i]
		}
		if err := emit(Obs{Values: vals, Position: pos}); err != nil {
			return err
		}
		pos++
	}
}

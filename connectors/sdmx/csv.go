package sdmx

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/connectors/tabular"
)

// ReadCSV streams SDMX-CSV, version 1.0 (first column DATAFLOW, Istat and Eurostat) or 2.0 (STRUCTURE,
// STRUCTURE_ID, ACTION, Eurostat's SDMX 3.0 API), and calls emit for every row as an observation keyed by
// column name. The field separator is sniffed (the format allows any: ',' and ';' are met), a UTF-8 BOM is
// dropped, and a ';' file's decimal commas are read (OBS_VALUE "5,6" is given as "5.6"). Column headers
// lose SDMX-CSV 2.0 decorations (`STRUCTURE[;]`, `ATTR_1[]`) and labels (`FREQ: Frequency`); when the
// headers carry labels, so do the cells (`A: Annual`), and only the code is kept. Rows whose column count
// differs from the header are an error.
func ReadCSV(r io.Reader, emit func(Obs) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(16 << 10)
	dialect := tabular.Sniff(head) // encoding and BOM
	dialect.Comma = separator(head)
	cr := tabular.NewReader(br, dialect)
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("SDMX-CSV header: %w", err)
	}
	cols := make([]string, len(header))
	labelled := false
	for i, h := range header {
		h = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
		if j := strings.IndexByte(h, '['); j >= 0 {
			h = h[:j]
		}
		if j := strings.IndexByte(h, ':'); j >= 0 { // "OBS_VALUE: Observation value" label variants
			h, labelled = h[:j], true
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
		if len(rec) != len(cols) {
			return fmt.Errorf("SDMX-CSV row %d: %d fields, the header has %d", pos+1, len(rec), len(cols))
		}
		vals := make(map[string]string, len(cols))
		for i, c := range cols {
			v := rec[i]
			if labelled {
				v = codeOf(v)
			}
			vals[c] = v
		}
		if dialect.Comma == ';' {
			if err := pointDecimal(vals, pos); err != nil {
				return err
			}
		}
		if err := emit(Obs{Values: vals, Position: pos}); err != nil {
			return err
		}
		pos++
	}
}

// separator is the character after the first column's name (DATAFLOW or STRUCTURE, with its optional
// [sub-value separator]): the one the whole file is written with. ',' when there is none.
func separator(head []byte) rune {
	h := strings.TrimPrefix(string(head), "\ufeff")
	for _, first := range []string{"DATAFLOW", "STRUCTURE"} {
		if rest, ok := strings.CutPrefix(h, first); ok {
			if strings.HasPrefix(rest, "[") {
				if end := strings.IndexByte(rest, ']'); end >= 0 {
					rest = rest[end+1:]
				}
			}
			if rest != "" && (rest[0] == ';' || rest[0] == '\t' || rest[0] == '|') {
				return rune(rest[0])
			}
		}
	}
	return ','
}

// codeOf returns the code of a labelled SDMX-CSV cell ("A: Annual" → "A"); a cell without a label as is.
func codeOf(cell string) string {
	if code, _, ok := strings.Cut(cell, ": "); ok {
		return strings.TrimSpace(code)
	}
	return cell
}

// pointDecimal rewrites an OBS_VALUE written with a decimal comma ("5,6", "1.234,5") with a decimal point;
// a ';' file may write either.
func pointDecimal(vals map[string]string, pos int64) error {
	raw, ok := vals["OBS_VALUE"]
	if !ok || !strings.Contains(raw, ",") {
		return nil
	}
	v, ok, err := tabular.ParseNumber(raw, true)
	if err != nil {
		return fmt.Errorf("SDMX-CSV row %d: %w", pos+1, err)
	}
	if ok {
		vals["OBS_VALUE"] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	return nil
}

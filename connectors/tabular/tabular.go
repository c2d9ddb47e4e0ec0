// Package tabular reads the plain statistical CSV files Italian sources publish (INPS open data, the labour
// ministry's CO tables on dati.gov.it): it sniffs each file's dialect (separator, encoding, BOM, line
// ends), reads numbers written the Italian or the international way, treats the usual sentinels as
// missing, and maps the columns a dataset's configuration names (period, territory, values, breakdowns)
// to observations.
package tabular

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
)

// Dialect is how a CSV file is written.
type Dialect struct {
	Comma        rune   // ',', ';' or '\t'
	Encoding     string // "utf-8" or "windows-1252"
	BOM          bool   // a UTF-8 byte order mark starts the file
	CRLF         bool   // lines end with \r\n
	DecimalComma bool   // numbers are written 1.234,5 (a ';'-separated file, the Italian convention)
}

// Sniff returns the dialect of a CSV file from its first bytes (a few KB are plenty).
func Sniff(head []byte) Dialect {
	d := Dialect{Comma: ',', Encoding: "utf-8"}
	if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
		d.BOM = true
		head = head[3:]
	}
	// The last rune may be cut by the sample's end: judge the encoding without it.
	valid := head
	for i := 0; i < utf8.UTFMax && len(valid) > 0 && !utf8.Valid(valid); i++ {
		valid = valid[:len(valid)-1]
	}
	if !utf8.Valid(valid) {
		d.Encoding = "windows-1252"
	}
	lines := sampleLines(head, 6)
	if len(lines) > 0 && bytes.HasSuffix(lines[0], []byte("\r")) {
		d.CRLF = true
	}
	// A separator is one that splits every sampled line into the same number of fields; ';' and tab win
	// over ',' (a ';' file writes decimals with commas).
	for _, c := range []rune{';', '\t', ','} {
		if consistent(lines, byte(c)) {
			d.Comma = c
			break
		}
	}
	d.DecimalComma = d.Comma == ';'
	return d
}

// sampleLines returns up to n complete lines of head (a trailing partial line only when it is the only one).
func sampleLines(head []byte, n int) [][]byte {
	var out [][]byte
	inQuote := false
	start := 0
	for i, b := range head {
		switch {
		case b == '"':
			inQuote = !inQuote
		case b == '\n' && !inQuote:
			out = append(out, head[start:i])
			start = i + 1
			if len(out) == n {
				return out
			}
		}
	}
	if len(out) == 0 && start < len(head) {
		out = append(out, head[start:])
	}
	return out
}

func consistent(lines [][]byte, sep byte) bool {
	want := -1
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		n, inQuote := 0, false
		for _, b := range l {
			switch {
			case b == '"':
				inQuote = !inQuote
			case b == sep && !inQuote:
				n++
			}
		}
		if n == 0 || (want >= 0 && n != want) {
			return false
		}
		want = n
	}
	return want > 0
}

// NewReader returns a CSV reader of r in dialect d: decoded to UTF-8, BOM dropped, fields per record free.
func NewReader(r io.Reader, d Dialect) *csv.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if d.BOM {
		if b, _ := br.Peek(3); bytes.Equal(b, []byte("\xef\xbb\xbf")) {
			br.Discard(3)
		}
	}
	var src io.Reader = br
	if d.Encoding == "windows-1252" {
		src = charmap.Windows1252.NewDecoder().Reader(br)
	}
	cr := csv.NewReader(src)
	cr.Comma = d.Comma
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	return cr
}

// Missing are the sentinels that mean "no value": empty, Eurostat's ':', "ND", "n.d.", "-", "Non
// Disponibile", "..", and INPS's "<=3"-style suppressed small counts.
func Missing(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", ":", "nd", "n.d.", "n.d", "-", "--", "..", "...", "x", "non disponibile", "null", "na", "n/a":
		return true
	}
	return strings.HasPrefix(strings.TrimSpace(s), "<")
}

// ParseNumber reads a number: "1.234,5" and "12,5" when decimalComma (the Italian way), "1,234.5" and
// "12.5" otherwise; when both separators appear the last one is the decimal point whatever the dialect.
// Spaces (also non-breaking) and a leading '+' are ignored. ok is false for a sentinel (see Missing).
func ParseNumber(s string, decimalComma bool) (v float64, ok bool, err error) {
	if Missing(s) {
		return 0, false, nil
	}
	t := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\u00a0' || r == '\u202f' || r == '\'' {
			return -1
		}
		return r
	}, strings.TrimPrefix(strings.TrimSpace(s), "+"))
	dot, comma := strings.LastIndexByte(t, '.'), strings.LastIndexByte(t, ',')
	switch {
	case dot >= 0 && comma >= 0 && comma > dot: // 1.234,5
		t = strings.ReplaceAll(t[:comma], ".", "") + "." + t[comma+1:]
	case dot >= 0 && comma >= 0: // 1,234.5
		t = strings.ReplaceAll(t, ",", "")
	case comma >= 0 && decimalComma: // 12,5 or 1,5
		if strings.Count(t, ",") > 1 {
			return 0, false, fmt.Errorf("number %q: several decimal commas", s)
		}
		t = strings.Replace(t, ",", ".", 1)
	case comma >= 0: // 1,234 in a ',' file is a quoted thousands separator
		t = strings.ReplaceAll(t, ",", "")
	case dot >= 0 && decimalComma && thousands.MatchString(t): // 1.234 in an Italian file
		t = strings.ReplaceAll(t, ".", "")
	}
	v, err = strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, false, fmt.Errorf("number %q: %w", s, errors.Unwrap(err))
	}
	return v, true, nil
}

var thousands = regexp.MustCompile(`^-?\d{1,3}(\.\d{3})+$`)

// Columns say which columns of a file hold what, from a dataset's configuration (keys period, month,
// quarter, geo, value or values, sex, age, education, sector, citizenship, unit, breakdown; several columns are
// separated by commas). Column names match after NormalizeLabel.
type Columns map[string]string

func (c Columns) list(key string) []string {
	var out []string
	for _, s := range strings.Split(c[key], ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Read reads a CSV file whose dialect is sniffed from its start, and emits an observation per value
// column per row of a Lombardy territory (rows of other territories, Italy or other regions, are skipped),
// with Position the flat index of the value cell: (data row - 1) × value columns + value column. A required column missing from the header is a schema change.
func Read(r io.Reader, ds connectors.Dataset, cols Columns, emit func(connectors.Observation) error) (Dialect, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(8 << 10)
	d := Sniff(head)
	cr := NewReader(br, d)
	header, err := cr.Read()
	if err != nil {
		return d, fault.Errorf(fault.BadInput, "CSV: no header line: %v", err)
	}
	header = slices.Clone(header) // the reader reuses its record
	index := map[string]int{}
	for i, h := range header {
		index[codelist.NormalizeLabel(h)] = i
	}
	find := func(key string, required bool) ([]int, error) {
		var out []int
		for _, name := range cols.list(key) {
			i, ok := index[codelist.NormalizeLabel(name)]
			if !ok {
				return nil, fault.Errorf(fault.BadInput, "schema changed: column %q (%s) missing from %q", name, key, strings.Join(header, string(d.Comma)))
			}
			out = append(out, i)
		}
		if required && len(out) == 0 {
			return nil, fault.Errorf(fault.BadInput, "dataset %s: columns.%s is not configured", ds.ID, key)
		}
		return out, nil
	}
	period, err := find("period", true)
	if err != nil {
		return d, err
	}
	geo, err := find("geo", true)
	if err != nil {
		return d, err
	}
	values, err := find("values", false)
	if err != nil {
		return d, err
	}
	if v, err := find("value", false); err != nil {
		return d, err
	} else {
		values = append(values, v...)
	}
	if len(values) == 0 {
		return d, fault.Errorf(fault.BadInput, "dataset %s: columns.value is not configured", ds.ID)
	}
	month, err := find("month", false)
	if err != nil {
		return d, err
	}
	quarter, err := find("quarter", false)
	if err != nil {
		return d, err
	}
	dims := map[string][]int{}
	for _, k := range []string{"sex", "age", "education", "sector", "citizenship", "unit", "breakdown"} {
		if dims[k], err = find(k, false); err != nil {
			return d, err
		}
	}
	field := func(rec []string, idx []int) string {
		parts := make([]string, 0, len(idx))
		for _, i := range idx {
			if i < len(rec) {
				parts = append(parts, strings.TrimSpace(rec[i]))
			}
		}
		return strings.Join(parts, " ")
	}
	terr := codelist.MustTerritories()
	var row int64
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		row++
		if err != nil {
			return d, fault.Errorf(fault.BadInput, "CSV row %d: %v", row, err)
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		t, ok := terr.Lookup(field(rec, geo))
		if !ok {
			continue
		}
		p, freq, err := Period(field(rec, period), field(rec, month))
		if len(quarter) > 0 {
			p, freq, err = Quarter(field(rec, period), field(rec, quarter))
		}
		if err != nil {
			return d, fault.Wrap(fault.BadInput, fmt.Sprintf("CSV row %d", row), err)
		}
		var bd []string
		for _, i := range dims["breakdown"] {
			if i < len(rec) {
				bd = append(bd, codelist.NormalizeLabel(header[i])+"="+strings.TrimSpace(rec[i]))
			}
		}
		for j, vi := range values {
			o := connectors.Observation{Indicator: ds.ID, Breakdown: strings.Join(bd, ";"), Geo: t.Istat, Period: p, Freq: freq,
				Sex: field(rec, dims["sex"]), Age: field(rec, dims["age"]), Education: field(rec, dims["education"]),
				Sector: field(rec, dims["sector"]), Citizenship: field(rec, dims["citizenship"]), Unit: field(rec, dims["unit"]),
				Position: (row-1)*int64(len(values)) + int64(j)}
			if len(values) > 1 {
				o.Indicator = ds.ID + "." + strings.ToLower(strings.Join(strings.Fields(header[vi]), "_"))
			}
			if vi >= len(rec) {
				return d, fault.Errorf(fault.BadInput, "CSV row %d: %d fields, no %s", row, len(rec), header[vi])
			}
			v, ok, err := ParseNumber(rec[vi], d.DecimalComma)
			if err != nil {
				return d, fault.Wrap(fault.BadInput, fmt.Sprintf("CSV row %d, %s", row, header[vi]), err)
			}
			if ok {
				o.Value = &v
			} else {
				o.Status = strings.TrimSpace(rec[vi])
			}
			if err := emit(o); err != nil {
				return d, err
			}
		}
	}
	return d, nil
}

var (
	yearRe    = regexp.MustCompile(`^(\d{4})$`)
	monthRe   = regexp.MustCompile(`^(\d{4})[-/]?(\d{2})$`)
	monthRev  = regexp.MustCompile(`^(\d{1,2})[-/](\d{4})$`)
	quarterRe = regexp.MustCompile(`^(\d{4})[-\s]?(?:Q|T|TRIM)([1-4])$`)
	quarterIt = regexp.MustCompile(`^([1-4]|I|II|III|IV)\s*(?:TRIM(?:ESTRE)?\.?|T|Q)\s*(\d{4})$`)
	months    = []string{"GENNAIO", "FEBBRAIO", "MARZO", "APRILE", "MAGGIO", "GIUGNO", "LUGLIO", "AGOSTO", "SETTEMBRE", "OTTOBRE", "NOVEMBRE", "DICEMBRE"}
)

// Quarter normalises a year and a separate quarter column ("1", "I", "T1", "Q1", "I trimestre").
func Quarter(year, q string) (string, string, error) {
	year = strings.TrimSpace(year)
	if !yearRe.MatchString(year) {
		return "", "", fmt.Errorf("year %q", year)
	}
	f := strings.Fields(strings.NewReplacer("TRIMESTRE", " ", "TRIM.", " ", "TRIM", " ").Replace(strings.ToUpper(q)))
	if len(f) == 1 {
		n := strings.TrimLeft(f[0], "TQ")
		if r, ok := map[string]string{"I": "1", "II": "2", "III": "3", "IV": "4"}[n]; ok {
			n = r
		}
		if len(n) == 1 && n >= "1" && n <= "4" {
			return year + "-Q" + n, "Q", nil
		}
	}
	return "", "", fmt.Errorf("quarter %q", q)
}

// Period normalises a period as sources write it (2023, 2023-01, 202301, 01/2023, 2023-Q1, 2023T1,
// "I trimestre 2023"), or a year and a separate month column (a number or an Italian month name), to the
// platform's form (2023, 2023-01, 2023-Q1) and its frequency.
func Period(p, month string) (string, string, error) {
	p = strings.ToUpper(strings.TrimSpace(p))
	if month = strings.ToUpper(strings.TrimSpace(month)); month != "" && yearRe.MatchString(p) {
		if i := slices.Index(months, month); i >= 0 {
			return fmt.Sprintf("%s-%02d", p, i+1), "M", nil
		}
		if n, err := strconv.Atoi(month); err == nil && n >= 1 && n <= 12 {
			return fmt.Sprintf("%s-%02d", p, n), "M", nil
		}
		return "", "", fmt.Errorf("month %q", month)
	}
	if m := yearRe.FindStringSubmatch(p); m != nil {
		return m[1], "A", nil
	}
	if m := monthRe.FindStringSubmatch(p); m != nil && m[2] >= "01" && m[2] <= "12" {
		return m[1] + "-" + m[2], "M", nil
	}
	if m := monthRev.FindStringSubmatch(p); m != nil {
		if n, _ := strconv.Atoi(m[1]); n >= 1 && n <= 12 {
			return fmt.Sprintf("%s-%02d", m[2], n), "M", nil
		}
	}
	if m := quarterRe.FindStringSubmatch(p); m != nil {
		return m[1] + "-Q" + m[2], "Q", nil
	}
	if m := quarterIt.FindStringSubmatch(p); m != nil {
		q := map[string]string{"I": "1", "II": "2", "III": "3", "IV": "4"}[m[1]]
		if q == "" {
			q = m[1]
		}
		return m[2] + "-Q" + q, "Q", nil
	}
	return "", "", fmt.Errorf("period %q is not a year, month or quarter", p)
}

package connectors

import (
	"bufio"
	"bytes"
	"io"
)

// RowFilter drops the data rows of a CSV raw object whose field Column (0-based) sorts at or after From:
// with ISO timestamps, the rows from a date on, which an incremental download takes again. The field is
// compared unquoted: SODA's .csv answers quote every value ("2024-03-01T00:00:00.000"), other writers
// only where CSV needs it, and both must drop the same rows.
type RowFilter struct {
	Column int    `json:"column"`
	From   string `json:"from"`
	// Before, when set, bounds the rows dropped: only those whose value is also below it.
	Before string `json:"before,omitempty"`
}

// drops says whether the filter drops a row whose column holds v.
func (f *RowFilter) drops(v []byte) bool {
	return f != nil && bytes.Compare(v, []byte(f.From)) >= 0 && (f.Before == "" || bytes.Compare(v, []byte(f.Before)) < 0)
}

// FilterCSV copies a comma-separated CSV from src to dst, header line included, keeping every data row
// that f does not drop, byte for byte. Records are told apart by line ends outside quotes, so quoted
// fields may hold commas and line ends. It returns the data rows kept and dropped.
func FilterCSV(dst io.Writer, src io.Reader, f *RowFilter) (kept, dropped int64, err error) {
	return filterCSV(dst, src, f, true)
}

// FilterCSVRows is FilterCSV without the header line in dst: the rows of a CSV appended to another.
func FilterCSVRows(dst io.Writer, src io.Reader, f *RowFilter) (kept, dropped int64, err error) {
	return filterCSV(dst, src, f, false)
}

func filterCSV(dst io.Writer, src io.Reader, f *RowFilter, withHeader bool) (kept, dropped int64, err error) {
	br := bufio.NewReaderSize(src, 256<<10)
	bw := bufio.NewWriterSize(dst, 256<<10)
	header := true
	var rec []byte
	for {
		rec, err = readRecord(br, rec[:0])
		if len(rec) > 0 {
			switch {
			case header:
				header = false
				if withHeader {
					if _, err2 := bw.Write(rec); err2 != nil {
						return kept, dropped, err2
					}
				}
			case f != nil && f.drops(unquote(field(rec, f.Column))):
				dropped++
			default:
				kept++
				if _, err2 := bw.Write(rec); err2 != nil {
					return kept, dropped, err2
				}
			}
		}
		if err == io.EOF {
			return kept, dropped, bw.Flush()
		}
		if err != nil {
			return kept, dropped, err
		}
	}
}

// readRecord appends the next record of br to buf, through its line end (quote-aware).
func readRecord(br *bufio.Reader, buf []byte) ([]byte, error) {
	inQuote := false
	for {
		line, err := br.ReadSlice('\n')
		buf = append(buf, line...)
		inQuote = inQuote != (bytes.Count(line, []byte{'"'})%2 == 1)
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err != nil:
			return buf, err
		case !inQuote:
			return buf, nil
		}
	}
}

// field returns field i of a record as written, quotes kept (see unquote).
func field(rec []byte, i int) []byte {
	inQuote := false
	start, n := 0, 0
	for j, b := range rec {
		switch {
		case b == '"':
			inQuote = !inQuote
		case (b == ',' || b == '\n' || b == '\r') && !inQuote:
			if n == i {
				return rec[start:j]
			}
			n++
			start = j + 1
		}
	}
	if n == i {
		return rec[start:]
	}
	return nil
}

// unquote returns a CSV field's value: without its enclosing quotes, a doubled quote inside read as one.
func unquote(f []byte) []byte {
	if len(f) < 2 || f[0] != '"' || f[len(f)-1] != '"' {
		return f
	}
	f = f[1 : len(f)-1]
	if bytes.Contains(f, []byte(`""`)) {
		f = bytes.ReplaceAll(f, []byte(`""`), []byte(`"`))
	}
	return f
}

package connectors

import (
	"bytes"
	"strings"
	"testing"
)

func TestFilterCSVKeepsRowsBeforeTheDateVerbatim(t *testing.T) {
	in := "\"data\",\"settore\",\"eta\"\n" +
		"2024-01-05T00:00:00.000,\"Commercio, all'ingrosso\",30\n" +
		"2024-03-01T00:00:00.000,\"una\nriga su due linee\",41\n" +
		"2024-02-29T00:00:00.000,Alberghi,22\r\n" +
		"2024-04-10T00:00:00.000,Alberghi,50"
	var out bytes.Buffer
	kept, dropped, err := FilterCSV(&out, strings.NewReader(in), &RowFilter{Column: 0, From: "2024-03-01"})
	if err != nil || kept != 2 || dropped != 2 {
		t.Fatalf("kept %d dropped %d: %v", kept, dropped, err)
	}
	want := "\"data\",\"settore\",\"eta\"\n2024-01-05T00:00:00.000,\"Commercio, all'ingrosso\",30\n2024-02-29T00:00:00.000,Alberghi,22\r\n"
	if out.String() != want {
		t.Errorf("got %q", out.String())
	}
	// A bounded range (a backfill's): from 2024-02-01 to before 2024-04-01.
	out.Reset()
	if kept, dropped, err := FilterCSV(&out, strings.NewReader(in), &RowFilter{Column: 0, From: "2024-02-01", Before: "2024-04-01"}); err != nil ||
		kept != 2 || dropped != 2 || !strings.Contains(out.String(), "2024-01-05") || !strings.Contains(out.String(), "2024-04-10") {
		t.Errorf("bounded: kept %d dropped %d, %v: %q", kept, dropped, err, out.String())
	}
	out.Reset()
	if kept, _, err := FilterCSV(&out, strings.NewReader(in), nil); err != nil || kept != 4 || out.String() != in {
		t.Errorf("without a filter: %d rows, %v, changed bytes: %v", kept, err, out.String() != in)
	}
	// The rows of a segment appended to the base: its header line left out.
	out.Reset()
	if kept, _, err := FilterCSVRows(&out, strings.NewReader(in), &RowFilter{Column: 0, From: "2024-03-01"}); err != nil || kept != 2 ||
		out.String() != strings.TrimPrefix(want, "\"data\",\"settore\",\"eta\"\n") {
		t.Errorf("rows only: %d rows, %v, %q", kept, err, out.String())
	}
	if got := string(field([]byte(`a,"b,c",d`+"\n"), 2)); got != "d" {
		t.Errorf("field 2 = %q", got)
	}
}

// SODA's .csv answers quote every field; a quoted date must be dropped exactly like a bare one.
func TestFilterCSVComparesTheUnquotedField(t *testing.T) {
	quoted := "\"data\",\"eta\"\n" +
		"\"2024-02-29T00:00:00.000\",\"22\"\n" +
		"\"2024-03-01T00:00:00.000\",\"41\"\n" +
		"\"2024-04-10T00:00:00.000\",\"50\"\n"
	minimal := strings.ReplaceAll(strings.ReplaceAll(quoted, "\"2024", "2024"), "000\",", "000,")
	for name, in := range map[string]string{"every field quoted": quoted, "minimal quoting": minimal} {
		var out bytes.Buffer
		kept, dropped, err := FilterCSV(&out, strings.NewReader(in), &RowFilter{Column: 0, From: "2024-03-01"})
		if err != nil || kept != 1 || dropped != 2 {
			t.Errorf("%s: kept %d dropped %d: %v\n%s", name, kept, dropped, err, in)
		}
	}
	if got := string(unquote([]byte(`"a ""b"""`))); got != `a "b"` {
		t.Errorf("unquote = %q", got)
	}
}

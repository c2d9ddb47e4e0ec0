package jsonstat

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func decodeFile(t *testing.T, name string) (*Dataset, error) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Decode(f)
}

func TestCanadaDenseValuesAndOneStatus(t *testing.T) {
	d, err := decodeFile(t, "canada.json")
	if err != nil {
		t.Fatal(err)
	}
	cells := d.Cells()
	if len(cells) != 120 {
		t.Fatalf("cells = %d, want 120", len(cells))
	}
	// Row-major over country, year, age (20), concept (2), sex (3): cell 1 is age T, concept POP, sex M.
	got := cells[1]
	if diff := cmp.Diff([]string{"CA", "2012", "T", "POP", "M"}, got.Codes); diff != "" {
		t.Errorf("codes of cell 1 (-want +got):\n%s", diff)
	}
	if got.Value == nil || *got.Value != 17309.1 {
		t.Errorf("value of cell 1 = %v, want 17309.1", got.Value)
	}
	if got.Status != "a" {
		t.Errorf("status = %q, want the dataset-wide %q", got.Status, "a")
	}
	last := cells[119]
	if diff := cmp.Diff([]string{"CA", "2012", "older", "PERCENT", "F"}, last.Codes); diff != "" {
		t.Errorf("codes of the last cell (-want +got):\n%s", diff)
	}
}

func TestHierarchySparseNull(t *testing.T) {
	d, err := decodeFile(t, "hierarchy.json")
	if err != nil {
		t.Fatal(err)
	}
	cells := d.Cells()
	if len(cells) != 1 || cells[0].Value != nil || cells[0].Index != 0 {
		t.Fatalf("cells = %+v, want one null cell at index 0", cells)
	}
}

func TestNonNumericValuesRejected(t *testing.T) {
	// order.json demonstrates ordering with string values: not statistics this platform can publish.
	_, err := decodeFile(t, "order.json")
	if err == nil || !strings.Contains(err.Error(), `"A1B1C1" is not a number`) {
		t.Fatalf("err = %v, want the first cell named", err)
	}
}

func TestLegacyBundleRejected(t *testing.T) {
	_, err := decodeFile(t, "legacy-wdds-jsonstat-nama_gdp_c-geo_IT_FR.json")
	if !errors.Is(err, ErrNotJSONStat2) {
		t.Fatalf("err = %v, want ErrNotJSONStat2", err)
	}
}

func TestSparseEurostatShape(t *testing.T) {
	const doc = `{"version":"2.0","class":"dataset","updated":"2026-02-06T23:00:00+0100",
	 "value":{"0":1.5,"3":2},"status":{"3":"p","4":"c"},
	 "id":["geo","time"],"size":[2,3],
	 "dimension":{"geo":{"category":{"index":{"ITC4":0,"ITC4C":1}}},"time":{"category":{"index":["2021","2022","2023"]}}}}`
	d, err := Decode(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Codes  []string
		Value  float64
		Null   bool
		Status string
	}
	var got []row
	for _, c := range d.Cells() {
		r := row{Codes: c.Codes, Status: c.Status, Null: c.Value == nil}
		if c.Value != nil {
			r.Value = *c.Value
		}
		got = append(got, r)
	}
	want := []row{
		{Codes: []string{"ITC4", "2021"}, Value: 1.5},
		{Codes: []string{"ITC4C", "2021"}, Value: 2, Status: "p"},
		{Codes: []string{"ITC4C", "2022"}, Null: true, Status: "c"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cells (-want +got):\n%s", diff)
	}
}

func TestMalformed(t *testing.T) {
	tests := map[string]string{
		"truncated":          `{"version":"2.0","class":"dataset","value":{"0":1`,
		"size mismatch":      `{"version":"2.0","class":"dataset","id":["a"],"size":[2],"value":[1],"dimension":{"a":{"category":{"index":["x","y"]}}}}`,
		"index out of range": `{"version":"2.0","class":"dataset","id":["a"],"size":[1],"value":{"5":1},"dimension":{"a":{"category":{"index":["x"]}}}}`,
		"undescribed dim":    `{"version":"2.0","class":"dataset","id":["a"],"size":[1],"value":[1],"dimension":{}}`,
		"html":               `<!DOCTYPE html><html><body>Service unavailable</body></html>`,
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(strings.NewReader(doc)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestErrorAndWarningResponses(t *testing.T) {
	_, err := Decode(strings.NewReader(`{"error":[{"status":413,"id":413,"label":"EXTRACTION_TOO_BIG: max authorised is 5000000"}]}`))
	var ee *ErrorResponse
	if !errors.As(err, &ee) || ee.Problems[0].Status != 413 {
		t.Errorf("err = %v, want an ErrorResponse with status 413", err)
	}
	_, err = Decode(strings.NewReader(`{"warning":{"status":413,"label":"ASYNCHRONOUS_RESPONSE. Your request will be treated asynchronously."}}`))
	var we *WarningResponse
	if !errors.As(err, &we) || we.Problem.Status != 413 {
		t.Errorf("err = %v, want a WarningResponse with status 413", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"canada.json", "hierarchy.json", "order.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Decode(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		for _, c := range d.Cells() {
			if len(c.Codes) != len(d.ID) {
				t.Fatalf("cell %d has %d codes for %d dimensions", c.Index, len(c.Codes), len(d.ID))
			}
		}
	})
}

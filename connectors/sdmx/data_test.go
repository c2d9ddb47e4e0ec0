package sdmx

import (
	"os"
	"strings"
	"testing"
)

func readWith(t *testing.T, name string, read func(r *os.File, emit func(Obs) error) error) []Obs {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Obs
	if err := read(f, func(o Obs) error { out = append(out, o); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGenericFlat(t *testing.T) {
	got := readWith(t, "ECB_EXR-ng-flat-genericdata-2.1.xml", func(r *os.File, emit func(Obs) error) error { return ReadGeneric(r, emit) })
	if len(got) != 12 {
		t.Fatalf("%d observations, want 12", len(got))
	}
	v := got[0].Values
	if v["FREQ"] != "M" || v["CURRENCY"] != "CHF" || v["TIME_PERIOD"] == "" || v["OBS_VALUE"] == "" || v["OBS_STATUS"] != "A" {
		t.Errorf("first = %v", v)
	}
	if got[11].Position != 11 {
		t.Errorf("last position = %d", got[11].Position)
	}
}

func TestGenericSeries(t *testing.T) {
	doc := `<message:GenericData xmlns:message="m" xmlns:generic="g"><message:DataSet>
	<generic:Series><generic:SeriesKey><generic:Value id="FREQ" value="A"/><generic:Value id="REF_AREA" value="ITC4C"/></generic:SeriesKey>
	<generic:Attributes><generic:Value id="UNIT_MEAS" value="PC"/></generic:Attributes>
	<generic:Obs><generic:ObsDimension value="2023"/><generic:ObsValue value="5.9"/>
	<generic:Attributes><generic:Value id="OBS_STATUS" value="p"/></generic:Attributes></generic:Obs>
	<generic:Obs><generic:ObsDimension value="2024"/><generic:ObsValue value="5.1"/></generic:Obs>
	</generic:Series></message:DataSet></message:GenericData>`
	var got []Obs
	if err := ReadGeneric(strings.NewReader(doc), func(o Obs) error { got = append(got, o); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Values["REF_AREA"] != "ITC4C" || got[0].Values["UNIT_MEAS"] != "PC" || got[0].Values["OBS_STATUS"] != "p" ||
		got[1].Values["TIME_PERIOD"] != "2024" || got[1].Values["OBS_STATUS"] != "" {
		t.Errorf("observations = %+v", got)
	}
}

func TestCSV10And20(t *testing.T) {
	csvRead := func(r *os.File, emit func(Obs) error) error { return ReadCSV(r, emit) }
	istat := readWith(t, "esploradati-41_983-sdmx-csv-1.0-palermo.csv", csvRead)
	if len(istat) != 18 || istat[0].Values["ITTER107"] != "082053" || istat[0].Values["TIME_PERIOD"] != "2001" || istat[0].Values["OBS_VALUE"] != "3764" {
		t.Errorf("istat rows %d, first %v", len(istat), istat[0].Values)
	}
	v2 := readWith(t, "sdmx-csv-2.0-example-02.csv", csvRead)
	if len(v2) != 2 || v2[0].Values["STRUCTURE"] != "dataflow" || v2[0].Values["ATTR_1"] != "X;Y" || v2[1].Values["DIM_3"] != "2014-02" {
		t.Errorf("2.0 rows %+v", v2)
	}
	if err := ReadCSV(strings.NewReader("<html>\n"), func(Obs) error { return nil }); err == nil {
		t.Error("HTML read as SDMX-CSV")
	}
	if err := ReadCSV(strings.NewReader("DATAFLOW,A\nx\n"), func(Obs) error { return nil }); err == nil {
		t.Error("a short row passed")
	}
}

func FuzzGeneric(f *testing.F) {
	data, err := os.ReadFile("testdata/ECB_EXR-ng-flat-genericdata-2.1.xml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ReadGeneric(strings.NewReader(string(data)), func(o Obs) error {
			if o.Values == nil {
				t.Fatal("nil values")
			}
			return nil
		})
	})
}

func FuzzCSV(f *testing.F) {
	for _, name := range []string{"testdata/esploradati-41_983-sdmx-csv-1.0-palermo.csv", "testdata/sdmx-csv-2.0-example-01.csv"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = ReadCSV(strings.NewReader(string(data)), func(o Obs) error {
			if len(o.Values) == 0 {
				t.Fatal("empty row")
			}
			return nil
		})
	})
}

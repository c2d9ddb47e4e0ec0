package sdmx

import (
	"os"
	"strings"
	"testing"
)

func TestEurostatDataflowAnnotations(t *testing.T) {
	f, err := os.Open("testdata/GOV_10Q_GGNFA-dataflow-structure-2.1.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := DataflowAnnotations(f, "GOV_10Q_GGNFA")
	if err != nil {
		t.Fatal(err)
	}
	for typ, want := range map[string]string{
		"UPDATE_DATA":               "2023-01-23T11:00:00+0100",
		"OBS_PERIOD_OVERALL_LATEST": "2022-Q3",
	} {
		if got[typ] != want {
			t.Errorf("%s = %q, want %q", typ, got[typ], want)
		}
	}
}

func TestIstatStyleAnnotationIDs(t *testing.T) {
	const doc = `<message:Structure xmlns:message="m" xmlns:structure="s" xmlns:common="c"><message:Structures><structure:Dataflows>
<structure:Dataflow id="47_850" agencyID="IT1" version="1.0"><common:Annotations>
<common:Annotation id="LAST_UPDATE"><common:AnnotationTitle>2025-11-14T16:15:51.591Z</common:AnnotationTitle></common:Annotation>
</common:Annotations></structure:Dataflow></structure:Dataflows></message:Structures></message:Structure>`
	got, err := DataflowAnnotations(strings.NewReader(doc), "")
	if err != nil {
		t.Fatal(err)
	}
	if got["LAST_UPDATE"] != "2025-11-14T16:15:51.591Z" {
		t.Errorf("LAST_UPDATE = %q", got["LAST_UPDATE"])
	}
}

func TestMissingDataflow(t *testing.T) {
	f, err := os.Open("testdata/GOV_10Q_GGNFA-dataflow-structure-2.1.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := DataflowAnnotations(f, "NOPE"); err == nil {
		t.Fatal("no error for a dataflow that is not in the message")
	}
}

func TestLegacyFooter(t *testing.T) {
	f, err := os.Open("testdata/legacy-async-footer-413.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msgs, err := Footer(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].Code != "413" || len(msgs[0].Text) != 3 {
		t.Fatalf("footer = %+v, want one 413 message with three texts", msgs)
	}
	if !strings.Contains(msgs[0].Text[1], "diss-web/file/wHsvjs7hQCy7Dqf4") {
		t.Errorf("text = %q, want the file URL", msgs[0].Text[1])
	}
}

func FuzzDataflowAnnotations(f *testing.F) {
	for _, name := range []string{"testdata/GOV_10Q_GGNFA-dataflow-structure-2.1.xml", "testdata/legacy-async-footer-413.xml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Neither reader may panic or loop on any input.
		_, _ = DataflowAnnotations(strings.NewReader(string(data)), "")
		_, _ = Footer(strings.NewReader(string(data)))
	})
}

func readSS(t *testing.T, name string) []Obs {
	t.Helper()
	return readWith(t, name, func(r *os.File, emit func(Obs) error) error { return ReadStructureSpecific(r, emit) })
}

func TestStructureSpecificEurostat(t *testing.T) {
	got := readSS(t, "NAMA_10_GDP-structurespecific-2.1.xml")
	if len(got) != 4 {
		t.Fatalf("%d observations, want 4", len(got))
	}
	first := got[0].Values
	if first["geo"] != "LU" || first["na_item"] != "B1GQ" || first["TIME_PERIOD"] != "2012" || first["OBS_VALUE"] != "46526.2" {
		t.Errorf("first = %v", first)
	}
	if got[3].Position != 3 || got[3].Values["TIME_PERIOD"] != "2015" {
		t.Errorf("last = %+v", got[3])
	}
}

func TestStructureSpecificIstat(t *testing.T) {
	got := readSS(t, "22_289-DCIS_POPRES1-structurespecific-2.1.xml")
	if len(got) != 8 {
		t.Fatalf("%d observations, want 8", len(got))
	}
	for _, o := range got {
		if o.Values["REF_AREA"] == "" || o.Values["TIME_PERIOD"] == "" || o.Values["OBS_VALUE"] == "" {
			t.Errorf("incomplete %v", o.Values)
		}
		if _, ok := o.Values["type"]; ok {
			t.Errorf("xsi:type leaked into the concepts: %v", o.Values)
		}
	}
}

func TestStructureSpecificRejectsOtherXML(t *testing.T) {
	err := ReadStructureSpecific(strings.NewReader("<html><body>no</body></html>"), func(Obs) error { return nil })
	if err == nil {
		t.Fatal("an HTML page read as data")
	}
}

func FuzzStructureSpecific(f *testing.F) {
	for _, name := range []string{"testdata/NAMA_10_GDP-structurespecific-2.1.xml", "testdata/22_289-DCIS_POPRES1-structurespecific-2.1.xml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var last int64 = -1
		_ = ReadStructureSpecific(strings.NewReader(string(data)), func(o Obs) error {
			if o.Position != last+1 {
				t.Fatalf("position %d after %d", o.Position, last)
			}
			last = o.Position
			return nil
		})
	})
}

func TestIstatDataflowWithDatastructure(t *testing.T) {
	data, err := os.ReadFile("testdata/esploradati-47_850-dataflow-references-datastructure-2.1.xml")
	if err != nil {
		t.Fatal(err)
	}
	ann, err := DataflowAnnotations(strings.NewReader(string(data)), "47_850")
	if err != nil || ann["LAST_UPDATE"] != "2025-11-14T16:15:51.591Z" {
		t.Errorf("LAST_UPDATE = %q, %v", ann["LAST_UPDATE"], err)
	}
	dsd, err := DataStructure(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	dims := dsd.IDs()
	if len(dims) < 5 || dims[0] != "FREQ" || dims[1] != "REF_AREA" || dims[2] != "DATA_TYPE" || dims[3] != "TYPE_SOCIO_EDUC_SERVICE" {
		t.Errorf("dimensions = %v", dims)
	}
	if dsd.Territory() != "REF_AREA" || dsd.Dimensions[1].Codelist != "CL_ITTER107" {
		t.Errorf("territory %q, %+v", dsd.Territory(), dsd.Dimensions[1])
	}
}

// Older Istat DSDs (and the SDMX-CSV of their flows) call the territory dimension ITTER107; others mark it
// only with the REF_AREA role. Either way it is found from the DSD, not from a fixed name.
func TestTerritoryDimensionFromTheDSD(t *testing.T) {
	data, err := os.ReadFile("testdata/esploradati-47_850-dataflow-references-datastructure-2.1.xml")
	if err != nil {
		t.Fatal(err)
	}
	itter := strings.Replace(strings.Replace(string(data), `<structure:Dimension id="REF_AREA"`, `<structure:Dimension id="ITTER107"`, 1),
		`<Ref id="REF_AREA" maintainableParentID="CROSS_DOMAIN"`, `<Ref id="ITTER107" maintainableParentID="CROSS_DOMAIN"`, 1)
	dsd, err := DataStructure(strings.NewReader(itter))
	if err != nil || dsd.Territory() != "ITTER107" || dsd.IDs()[1] != "ITTER107" {
		t.Errorf("ITTER107 DSD: territory %q, %v", dsd.Territory(), err)
	}
	role := `<s:DataStructure xmlns:s="s"><s:DataStructureComponents><s:DimensionList>
<s:Dimension id="FREQ" position="1"><s:ConceptIdentity><Ref id="FREQ"/></s:ConceptIdentity></s:Dimension>
<s:Dimension id="LUOGO" position="2"><s:ConceptIdentity><Ref id="LUOGO"/></s:ConceptIdentity>
<s:ConceptRole><Ref id="REF_AREA"/></s:ConceptRole></s:Dimension>
</s:DimensionList></s:DataStructureComponents></s:DataStructure>`
	dsd, err = DataStructure(strings.NewReader(role))
	if err != nil || dsd.Territory() != "LUOGO" {
		t.Errorf("role DSD: territory %q, %v", dsd.Territory(), err)
	}
}

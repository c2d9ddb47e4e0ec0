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

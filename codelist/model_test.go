package codelist

import "testing"

func TestModelMapsEverySourceOntoOneCodeList(t *testing.T) {
	m, err := LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		source, dim, in, want string
		mult                  int
		ok                    bool
	}{
		{"istat", Sex, "9", "T", 0, true},
		{"istat", Sex, "1", "M", 0, true},
		{"eurostat", Sex, "T", "T", 0, true},
		{"inps", Sex, "", "T", 0, true},
		{"mim", Age, "", "TOTAL", 0, true},
		{"mim", Age, "Y6", "Y6", 0, true},
		{"eurostat", Age, "Y_GE65", "Y_GE65", 0, true},
		{"mim", Age, "6 anni", "6 anni", 0, false},
		{"istat", Education, "99", "TOTAL", 0, true},
		{"mim", Education, "PRIMARIA", "ED1", 0, true},
		{"mim", Education, "ISTITUTO COMPRENSIVO", "ISTITUTO COMPRENSIVO", 0, false},
		{"eurostat", Unit, "THS", "PERS", 3, true},
		{"istat", Unit, "THS", "THS", 0, false},
		{"istat", Unit, "PC", "PC", 0, true},
		{"inps", Unit, "", "", 0, false},
		{"eurostat", Citizenship, "NEU27_2020_FOR", "NON_EU", 0, true},
		{"inail", Sector, "C", "C", 0, true},
		{"mim", Freq, "SY", "SY", 0, true},
	} {
		got, mult, ok := m.Code(c.source, c.dim, c.in)
		if got != c.want || mult != c.mult || ok != c.ok {
			t.Errorf("Code(%s, %s, %q) = %q, %d, %v; want %q, %d, %v", c.source, c.dim, c.in, got, mult, ok, c.want, c.mult, c.ok)
		}
	}
	if l, ok := m.Label(Age, "Y15-29"); !ok || l.IT != "15-29 anni" {
		t.Errorf("made label %+v", l)
	}
	if l, ok := m.Label(Sex, "F"); !ok || l.IT != "Femmine" {
		t.Errorf("sex label %+v", l)
	}
	if in, ok := m.Indicator("istat", "disoccupazione_province", "UNEM_R"); !ok || in.ID != "unemployment_rate" || in.IT != "Tasso di disoccupazione" {
		t.Errorf("indicator %+v", in)
	}
	if in, ok := m.Indicator("eurostat", "lfst_r_lfu3rt", "lfst_r_lfu3rt"); !ok || in.ID != "unemployment_rate" {
		t.Errorf("indicator %+v", in)
	}
}

// Every code list has Italian and English labels for every code, and every mapping lands on a listed code.
func TestCodeListsAreComplete(t *testing.T) {
	m, err := LoadModel()
	if err != nil {
		t.Fatal(err)
	}
	for _, dim := range Dimensions {
		if len(m.Codes(dim)) == 0 {
			t.Errorf("%s: empty code list", dim)
		}
		for code, l := range m.Codes(dim) {
			if l.IT == "" || l.EN == "" {
				t.Errorf("%s %s: labels %+v", dim, code, l)
			}
		}
	}
	for k, in := range m.indicators {
		if in.ID == "" || in.IT == "" || in.EN == "" || in.DefinitionURL == "" {
			t.Errorf("indicator %+v: %+v", k, in)
		}
	}
}

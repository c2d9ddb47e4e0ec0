package codelist

import "testing"

func TestLookup(t *testing.T) {
	terr := MustTerritories()
	tests := []struct{ code, want string }{
		{"ITC4C", "015"}, {"ITC45", "015"}, {"MILANO", "015"}, {"milano", "015"}, {"15", "015"}, {"015", "015"},
		{"IT108", "108"}, {"ITC4D", "108"}, {"Monza e Brianza", "108"}, {"MONZA  E DELLA  BRIANZA", "108"},
		{"F205", "015"}, {"MB", "108"}, {"ITC4", "03"}, {"3", "03"}, {"17", "017"}, {"097", "097"},
	}
	for _, tt := range tests {
		got, ok := terr.Lookup(tt.code)
		if !ok || got.Istat != tt.want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", tt.code, got.Istat, ok, tt.want)
		}
	}
	for _, code := range []string{"ITC11", "IT", "", "001"} {
		if got, ok := terr.Lookup(code); ok {
			t.Errorf("Lookup(%q) = %v; want no match", code, got)
		}
	}
	if n := len(terr.All()); n != 13 {
		t.Errorf("got %d territories, want 13 (12 provinces and the region)", n)
	}
}

func TestNormalizeLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Forlì e  Cesena ", "FORLI E CESENA"},
		{"L'AQUILA", "L AQUILA"},
		{"UNIVERSITÀ", "UNIVERSITA"},
	}
	for _, tt := range tests {
		if got := NormalizeLabel(tt.in); got != tt.want {
			t.Errorf("NormalizeLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

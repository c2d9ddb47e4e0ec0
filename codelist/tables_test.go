package codelist

import "testing"

func TestReferenceTablesLoadAndLabelsAreNormalised(t *testing.T) {
	for _, name := range Reference {
		tab, err := Load(name)
		if err != nil {
			t.Fatal(err)
		}
		if len(tab.Rows) == 0 {
			t.Errorf("%s is empty", name)
		}
		li := tab.Column("label")
		if li < 0 {
			continue
		}
		seen := map[string]bool{}
		for _, r := range tab.Rows {
			if got := NormalizeLabel(r[li]); got != r[li] {
				t.Errorf("%s: label %q is not normalised (%q)", name, r[li], got)
			}
			if seen[r[li]] {
				t.Errorf("%s: label %q twice", name, r[li])
			}
			seen[r[li]] = true
		}
	}
}

func TestContractClassesAreTheClosedSet(t *testing.T) {
	classes := map[string]bool{"permanent": true, "fixed_term": true, "apprenticeship": true, "temporary_agency": true,
		"intermittent": true, "domestic": true, "parasubordinate": true, "other": true}
	tab, _ := Load("co_contracts")
	ci := tab.Column("contract_class")
	for _, r := range tab.Rows {
		if !classes[r[ci]] {
			t.Errorf("%q has class %q", r[0], r[ci])
		}
	}
}

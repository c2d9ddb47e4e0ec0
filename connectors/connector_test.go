package connectors

import "testing"

// A dataset's settings digest changes with anything that shapes its rows, and only with that.
func TestSettingsFollowTheConfiguration(t *testing.T) {
	base := Dataset{Source: "istat", ID: "x", Code: "151_914", Since: "2018", Filters: map[string][]string{"SEX": {"9"}}}
	same := base
	same.Structure = &Structure{Territory: "REF_AREA"} // learnt from the source, not configured
	if base.Settings() != same.Settings() {
		t.Error("the structure changed the settings")
	}
	// A configuration written back and read again has {} where it had nothing: the same settings, so a
	// worker that read it does not harmonize again what another harmonized.
	reread := base
	reread.Query, reread.Columns = map[string][]string{}, map[string]string{}
	if base.Settings() != reread.Settings() {
		t.Error("empty maps changed the settings")
	}
	for name, d := range map[string]Dataset{
		"filters": {Source: "istat", ID: "x", Code: "151_914", Since: "2018", Filters: map[string][]string{"SEX": {"1"}}},
		"since":   {Source: "istat", ID: "x", Code: "151_914", Since: "2019", Filters: map[string][]string{"SEX": {"9"}}},
		"columns": {Source: "istat", ID: "x", Code: "151_914", Since: "2018", Filters: map[string][]string{"SEX": {"9"}}, Columns: map[string]string{"geo": "REGIONE"}},
	} {
		if d.Settings() == base.Settings() {
			t.Errorf("a change of %s left the settings digest alone", name)
		}
	}
}

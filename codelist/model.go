package codelist

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Coded dimensions of the observations table: each holds a code of its own code list (dim_<name>.csv).
const (
	Sex         = "sex"
	Age         = "age"
	Education   = "education"
	Citizenship = "citizenship"
	Sector      = "sector"
	Unit        = "unit"
	Freq        = "freq"
)

// ContractClass is the contract class of the labour tables (dim_contract_class.csv).
const ContractClass = "contract_class"

// Dimensions are the coded dimensions, in the observations table's column order.
var Dimensions = []string{Unit, Freq, Sex, Age, Education, Sector, Citizenship}

// Labelled are the code lists whose labels a release publishes: the observations' dimensions and the
// labour tables' contract classes.
var Labelled = append(append([]string(nil), Dimensions...), ContractClass)

// totals is the code of a dimension a source does not break down by: its figures are totals.
var totals = map[string]string{Sex: "T", Age: "TOTAL", Education: "TOTAL", Citizenship: "TOTAL", Sector: "TOTAL"}

// Label is a code's labels.
type Label struct {
	IT, EN string
}

// Indicator is what the platform knows of a source's indicator (indicators.csv): its common id, labels
// and definition.
type Indicator struct {
	ID            string
	IT, EN        string
	DefinitionURL string
}

// Model is the common model's code lists and the mapping of every source's codes onto them.
type Model struct {
	codes      map[string]map[string]Label // dimension → code → labels
	maps       map[mapKey]mapped           // (source, dimension, source code) → code
	indicators map[indKey]Indicator
}

type mapKey struct{ source, dim, code string }

type mapped struct {
	code string
	mult int // for units: the power of ten the source's unit code carries (THS: 3)
}

type indKey struct{ source, dataset, code string }

// LoadModel reads the embedded code lists, source code maps and indicators (once).
func LoadModel() (*Model, error) { return embedded.Model() }

func loadModel(s *Set) (*Model, error) {
	m := &Model{codes: map[string]map[string]Label{}, maps: map[mapKey]mapped{}, indicators: map[indKey]Indicator{}}
	for _, dim := range Labelled {
		t, err := s.Load("dim_" + dim)
		if err != nil {
			return nil, err
		}
		m.codes[dim] = map[string]Label{}
		for _, r := range t.Rows {
			m.codes[dim][r[0]] = Label{IT: r[1], EN: r[2]}
		}
	}
	t, err := s.Load("source_codes")
	if err != nil {
		return nil, err
	}
	for i, r := range t.Rows {
		source, dim, from, to, mult := r[0], r[1], r[2], r[3], r[4]
		if _, ok := m.codes[dim]; !ok {
			return nil, fmt.Errorf("source_codes.csv row %d: no dimension %q", i+2, dim)
		}
		if !m.valid(dim, to) {
			return nil, fmt.Errorf("source_codes.csv row %d: %s %q is not in dim_%s.csv", i+2, dim, to, dim)
		}
		mp := mapped{code: to}
		if mult != "" {
			if mp.mult, err = strconv.Atoi(mult); err != nil {
				return nil, fmt.Errorf("source_codes.csv row %d: unit_mult %q", i+2, mult)
			}
		}
		m.maps[mapKey{source, dim, from}] = mp
	}
	ind, err := s.Load("indicators")
	if err != nil {
		return nil, err
	}
	for _, r := range ind.Rows {
		m.indicators[indKey{r[0], r[1], r[2]}] = Indicator{ID: r[3], IT: r[4], EN: r[5], DefinitionURL: r[6]}
	}
	return m, nil
}

// AgePattern is the form of an age class: Y15-24, Y_GE65, Y_LT15, Y6, TOTAL (a regular expression).
const AgePattern = `^(TOTAL|Y\d{1,3}|Y\d{1,3}-\d{1,3}|Y_GE\d{1,3}|Y_LT\d{1,3})$`

var ageRE = regexp.MustCompile(AgePattern)

// valid says whether code is in dimension dim's code list.
func (m *Model) valid(dim, code string) bool {
	if _, ok := m.codes[dim][code]; ok {
		return true
	}
	return dim == Age && ageRE.MatchString(code)
}

// Code maps a source's code of a dimension onto the common model: a mapping of the source (source_codes.csv,
// source "*" for mappings every source shares), else the code itself when it is in the list. An empty code
// is the dimension's total (the source does not break down by it); an empty unit or frequency has none.
// ok is false when the code is not mapped: it is then returned as given, trimmed, for the caller to flag.
// mult is the power of ten a unit code carries (Eurostat's THS: 3).
func (m *Model) Code(source, dim, code string) (out string, mult int, ok bool) {
	code = strings.TrimSpace(code)
	if code == "" {
		t, ok := totals[dim]
		return t, 0, ok
	}
	for _, s := range []string{source, "*"} {
		if mp, ok := m.maps[mapKey{s, dim, code}]; ok {
			return mp.code, mp.mult, true
		}
	}
	if m.valid(dim, code) {
		return code, 0, true
	}
	return code, 0, false
}

// Label returns a code's labels; an age class outside the enumerated rows gets labels made from its code.
func (m *Model) Label(dim, code string) (Label, bool) {
	if l, ok := m.codes[dim][code]; ok {
		return l, true
	}
	if dim == Age && ageRE.MatchString(code) {
		return ageLabel(code), true
	}
	return Label{}, false
}

// Codes returns the enumerated codes of a dimension with their labels, in the list's order of codes.
func (m *Model) Codes(dim string) map[string]Label { return m.codes[dim] }

func ageLabel(code string) Label {
	switch {
	case strings.HasPrefix(code, "Y_GE"):
		return Label{IT: code[4:] + " anni e più", EN: code[4:] + " years or over"}
	case strings.HasPrefix(code, "Y_LT"):
		return Label{IT: "meno di " + code[4:] + " anni", EN: "less than " + code[4:] + " years"}
	case strings.Contains(code, "-"):
		from, to, _ := strings.Cut(code[1:], "-")
		return Label{IT: from + "-" + to + " anni", EN: "from " + from + " to " + to + " years"}
	}
	return Label{IT: code[1:] + " anni", EN: code[1:] + " years"}
}

// IndicatorLabels returns the labels and definition of every common indicator of a source, by id.
func (m *Model) IndicatorLabels(source string) map[string]Indicator {
	out := map[string]Indicator{}
	for k, in := range m.indicators {
		if k.source == source {
			if _, ok := out[in.ID]; !ok {
				out[in.ID] = in
			}
		}
	}
	return out
}

// Indicator returns what indicators.csv says of a source's indicator in a dataset (a row with dataset "*"
// serves every dataset of the source); ok is false when it says nothing.
func (m *Model) Indicator(source, dataset, code string) (Indicator, bool) {
	for _, d := range []string{dataset, "*"} {
		if in, ok := m.indicators[indKey{source, d, code}]; ok {
			return in, true
		}
	}
	return Indicator{}, false
}

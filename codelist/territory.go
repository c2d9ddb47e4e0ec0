// Package codelist holds the reference classifications the platform harmonizes against, versioned as data
// in the repository, each with its provenance. Today it holds the Lombardy territorial crosswalk.
package codelist

import (
	"encoding/csv"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Territory is one territory of the crosswalk, with every code a source may use for it.
type Territory struct {
	Istat             string // Istat number: "015" for a province, "03" for the region
	Level             string // "province" or "region"
	ITTER107          string // Istat SDMX CL_ITTER107 code (2020 snapshot: Milano ITC45, Monza IT108)
	NUTS2021          string // Eurostat NUTS 2021 (Milano ITC4C, Monza ITC4D)
	Sigla             string // vehicle plate code, "MI"
	Name              string // official Italian name
	NameUpper         string // upper-case name as the CO and MIM data spell it
	CapoluogoIstat    string // Istat code of the capital comune
	CapoluogoBelfiore string // cadastral (Belfiore) code of the capital comune
}

// Territories is the crosswalk: a lookup from any known code or spelling to its territory.
type Territories struct {
	all    []Territory
	lookup map[string]int
}

// LoadTerritories returns the embedded Lombardy crosswalk.
func LoadTerritories() (*Territories, error) { return embedded.Territories() }

// MustTerritories is LoadTerritories for callers that cannot proceed without the crosswalk.
func MustTerritories() *Territories {
	t, err := LoadTerritories()
	if err != nil {
		panic(err)
	}
	return t
}

func parseTerritories(r io.Reader) (*Territories, error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = 10
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("territories: header: %w", err)
	}
	if header[0] != "istat" {
		return nil, fmt.Errorf("territories: unexpected header %v", header)
	}
	t := &Territories{lookup: map[string]int{}}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("territories: %w", err)
		}
		terr := Territory{
			Istat: rec[0], Level: rec[1], ITTER107: rec[2], NUTS2021: rec[3], Sigla: rec[4],
			Name: rec[5], NameUpper: rec[6], CapoluogoIstat: rec[7], CapoluogoBelfiore: rec[8],
		}
		i := len(t.all)
		t.all = append(t.all, terr)
		keys := []string{terr.Istat, terr.ITTER107, terr.NUTS2021, terr.Sigla, terr.Name, terr.NameUpper, terr.CapoluogoBelfiore}
		if rec[9] != "" {
			keys = append(keys, strings.Split(rec[9], "|")...)
		}
		for _, k := range keys {
			if k == "" {
				continue
			}
			nk := NormalizeLabel(k)
			if j, dup := t.lookup[nk]; dup && j != i {
				return nil, fmt.Errorf("territories: key %q names both %s and %s", k, t.all[j].Istat, terr.Istat)
			}
			t.lookup[nk] = i
		}
	}
	return t, nil
}

// All returns every territory, the region first.
func (t *Territories) All() []Territory { return append([]Territory(nil), t.all...) }

// Lookup finds a territory by any of its codes or spellings (Istat number with or without leading zeros,
// CL_ITTER107, NUTS 2021, sigla, name in any case, capoluogo cadastral code).
func (t *Territories) Lookup(code string) (Territory, bool) {
	if i, ok := t.lookup[NormalizeLabel(code)]; ok {
		return t.all[i], true
	}
	// Istat numbers lose their leading zeros in some sources (MUR: "17" for "017").
	trimmed := strings.TrimLeft(strings.TrimSpace(code), "0")
	if i, ok := t.lookup[trimmed]; ok && trimmed != "" {
		return t.all[i], true
	}
	return Territory{}, false
}

// NormalizeLabel folds a label for matching: upper case, accents removed, apostrophes and runs of spaces
// folded to one space, surrounding space trimmed.
func NormalizeLabel(s string) string {
	tr := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(tr, s)
	if err != nil {
		folded = s
	}
	folded = strings.Map(func(r rune) rune {
		switch r {
		case '\'', '’', '`', '´':
			return ' '
		}
		return unicode.ToUpper(r)
	}, folded)
	return strings.Join(strings.Fields(folded), " ")
}

// Codes returns every key Lookup matches (normalised as NormalizeLabel does) with the Istat number it
// names, sorted by key: the table the SQL harmonization joins on.
func (t *Territories) Codes() [][2]string {
	out := make([][2]string, 0, len(t.lookup))
	for k, i := range t.lookup {
		out = append(out, [2]string{k, t.all[i].Istat})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

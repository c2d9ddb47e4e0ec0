package codelist

import (
	"embed"
	"encoding/csv"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
)

//go:embed *.csv
var files embed.FS

// Table is one reference code list as read from its CSV: a name, column names and rows of strings.
type Table struct {
	Name    string
	Columns []string
	Rows    [][]string
}

// Reference lists the code lists the harmonization joins on, by table name.
var Reference = []string{"sectors", "sector_sections", "co_contracts", "co_study_titles", "co_working_time", "citizenships", "territories"}

// Load reads the embedded code list name (the CSV file name without .csv).
func Load(name string) (Table, error) { return embedded.Load(name) }

func loadTable(fsys fs.FS, name string) (Table, error) {
	f, err := fsys.Open(name + ".csv")
	if err != nil {
		return Table{}, fmt.Errorf("code list %s: %w", name, err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.Comment = '#'
	header, err := cr.Read()
	if err != nil {
		return Table{}, fmt.Errorf("code list %s: header: %w", name, err)
	}
	t := Table{Name: name, Columns: header}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return Table{}, fmt.Errorf("code list %s: %w", name, err)
		}
		t.Rows = append(t.Rows, rec)
	}
}

// Column returns the index of a column, or -1.
func (t Table) Column(name string) int {
	for i, c := range t.Columns {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	return -1
}

// accentApostrophe pairs each accented vowel with the apostrophe spelling Italian data often uses for it.
var accentApostrophe = strings.NewReplacer("À", "A'", "È", "E'", "É", "E'", "Ì", "I'", "Ò", "O'", "Ù", "U'",
	"à", "a'", "è", "e'", "é", "e'", "ì", "i'", "ò", "o'", "ù", "u'")

// apostropheAccent turns a vowel and apostrophe ending a word back into the accented vowel.
var apostropheAccent = regexp.MustCompile(`([AEIOUaeiou])'(\s|\)|$)`)

var accentOf = map[string]string{"A": "À", "E": "È", "I": "Ì", "O": "Ò", "U": "Ù", "a": "à", "e": "è", "i": "ì", "o": "ò", "u": "ù"}

func accented(s string) string {
	return apostropheAccent.ReplaceAllStringFunc(s, func(m string) string { return accentOf[m[:1]] + m[2:] })
}

// Variants returns the raw spellings a label is matched under without normalising each row: the
// normalised label, every source spelling, their upper-case forms, and their accent/apostrophe twins
// (ATTIVITÀ and ATTIVITA'). Spellings outside this set are still matched, by normalising the few distinct
// labels that missed.
func Variants(label, spellings string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(label)
	if spellings == "" {
		return out
	}
	for _, s := range strings.Split(spellings, "|") {
		for _, v := range []string{s, strings.ToUpper(s), accentApostrophe.Replace(s), strings.ToUpper(accentApostrophe.Replace(s)), accented(s)} {
			add(v)
		}
	}
	return out
}

// Digests returns the sha256 of every embedded code list file, by file name.
func Digests() (map[string]string, error) { return embedded.Digests() }

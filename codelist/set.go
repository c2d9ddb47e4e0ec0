package codelist

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"sort"
	"strings"
	"sync"
)

// Set is one version of the code lists: the files embedded in this binary, or those a past release
// recorded (read back by sha256 to rebuild it). Its model and crosswalk are parsed once.
type Set struct {
	fsys fs.FS

	modelOnce sync.Once
	model     *Model
	modelErr  error
	terrOnce  sync.Once
	terr      *Territories
	terrErr   error
}

var embedded = &Set{fsys: files}

// Embedded is the code lists this binary was built with.
func Embedded() *Set { return embedded }

// FromFS is the code lists held by fsys: one CSV file per list, named as the embedded ones.
func FromFS(fsys fs.FS) *Set { return &Set{fsys: fsys} }

// Load reads the code list name (the CSV file name without .csv).
func (s *Set) Load(name string) (Table, error) { return loadTable(s.fsys, name) }

// Model is the common model's code lists, source code maps and indicators.
func (s *Set) Model() (*Model, error) {
	s.modelOnce.Do(func() { s.model, s.modelErr = loadModel(s) })
	return s.model, s.modelErr
}

// Territories is the Lombardy crosswalk (territories.csv).
func (s *Set) Territories() (*Territories, error) {
	s.terrOnce.Do(func() {
		data, err := fs.ReadFile(s.fsys, "territories.csv")
		if err != nil {
			s.terrErr = err
			return
		}
		s.terr, s.terrErr = parseTerritories(bytes.NewReader(data))
	})
	return s.terr, s.terrErr
}

// Files returns the names of the set's CSV files, sorted.
func (s *Set) Files() ([]string, error) {
	entries, err := fs.ReadDir(s.fsys, ".")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".csv") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadFile returns one file of the set.
func (s *Set) ReadFile(name string) ([]byte, error) { return fs.ReadFile(s.fsys, name) }

// Digests returns the sha256 of every file of the set, by file name: what a release records of the code
// lists it was built with.
func (s *Set) Digests() (map[string]string, error) {
	names, err := s.Files()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, name := range names {
		data, err := s.ReadFile(name)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(data)
		out[name] = hex.EncodeToString(sum[:])
	}
	return out, nil
}

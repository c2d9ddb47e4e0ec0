package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/quality"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// InputsName is the file of a bundle that records what fed it.
const InputsName = "inputs.json"

// Inputs is what fed a release: every accepted snapshot with its raw object and the refresh that made it,
// the code lists, SQL and quality checks (by sha256), and the code that built it.
type Inputs struct {
	Version           string            `json:"version"`
	Build             Build             `json:"build"`
	HarmonizerVersion int               `json:"harmonizerVersion"`
	States            []lake.State      `json:"states"`
	CodeLists         map[string]string `json:"codeLists"` // file → sha256
	SQL               map[string]string `json:"sql"`       // file → sha256
	QualityChecks     string            `json:"qualityChecks"`
}

// Build is the code that built a release, from the binary's build information.
type Build struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Go       string `json:"go"`
	Revision string `json:"revision,omitempty"`
	Time     string `json:"time,omitempty"`
	Modified bool   `json:"modified,omitempty"`
	DuckDB   string `json:"duckdb"`
}

// BuildInfo reads the running binary's build information.
func BuildInfo() Build {
	b := Build{Module: "github.com/osservatorio-lombardia/osservatorio", Version: "(devel)", DuckDB: duckdbVersion()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.Module, b.Version, b.Go = info.Main.Path, info.Main.Version, info.GoVersion
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func duckdbVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range info.Deps {
		if d.Path == "github.com/duckdb/duckdb-go/v2" {
			return d.Version
		}
	}
	return ""
}

// CurrentInputs records the inputs a build from states with the code lists codes (nil: this binary's)
// would have today.
func CurrentInputs(version string, states []lake.State, codes *codelist.Set) (Inputs, error) {
	if codes == nil {
		codes = codelist.Embedded()
	}
	lists, err := codes.Digests()
	if err != nil {
		return Inputs{}, err
	}
	sqls := map[string]string{}
	for name, text := range warehouse.SQL() {
		sqls[name] = digest([]byte(text))
	}
	sorted := append([]lake.State(nil), states...)
	sortStates(sorted)
	return Inputs{Version: version, Build: BuildInfo(), HarmonizerVersion: lake.HarmonizerVersion, States: sorted,
		CodeLists: lists, SQL: sqls, QualityChecks: digest(quality.ChecksYAML())}, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// writeInputs stages inputs.json and adds it to the manifest's resources, and keeps every code list file
// the release was built with by its sha256, so a rebuild reads them and not today's.
func (s *Store) writeInputs(ctx context.Context, m *Manifest, states []lake.State, codes *codelist.Set, dir, stage string) error {
	in, err := CurrentInputs(m.Version, states, codes)
	if err != nil {
		return err
	}
	if err := s.keepCodeLists(ctx, codes, in.CodeLists); err != nil {
		return err
	}
	data, err := json.MarshalIndent(in, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(dir, InputsName)
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return err
	}
	size, sum, err := hashFile(path)
	if err != nil {
		return err
	}
	if err := s.B.PutFile(ctx, stage+InputsName, path, objectstore.PutOptions{ContentType: "application/json"}); err != nil {
		return err
	}
	m.Resources = append(m.Resources, Resource{Name: "inputs", Path: Paths{InputsName}, Format: "json", MediaType: "application/json",
		Bytes: size, Hash: "sha256:" + sum, Description: "What fed this release: snapshots, raw objects, the refreshes that made them, code lists, SQL, code version"})
	return nil
}

// keepCodeLists stores each code list file under its sha256 (create-only: one copy whatever the releases).
func (s *Store) keepCodeLists(ctx context.Context, codes *codelist.Set, sums map[string]string) error {
	names := make([]string, 0, len(sums))
	for name := range sums {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		key := lake.CodeListKey(sums[name])
		if ok, err := s.B.Exists(ctx, key); err != nil || ok {
			if err != nil {
				return err
			}
			continue
		}
		data, err := codes.ReadFile(name)
		if err != nil {
			return err
		}
		err = s.B.Put(ctx, key, bytes.NewReader(data), int64(len(data)), objectstore.PutOptions{ContentType: "text/csv", IfAbsent: true})
		if err != nil && !errors.Is(err, objectstore.ErrExists) {
			return fmt.Errorf("keep code list %s: %w", name, err)
		}
	}
	return nil
}

// RecordedCodeLists reads back the code list files a release recorded (by sha256) into dir and returns
// them as a set, and the files it could not find (releases made before code lists were kept).
func (s *Store) RecordedCodeLists(ctx context.Context, in Inputs, dir string) (*codelist.Set, []string, error) {
	var missing []string
	for name, sum := range in.CodeLists {
		err := s.B.GetFile(ctx, lake.CodeListKey(sum), filepath.Join(dir, name))
		if errors.Is(err, objectstore.ErrNotFound) {
			missing = append(missing, name)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
	}
	sort.Strings(missing)
	return codelist.FromFS(os.DirFS(dir)), missing, nil
}

// Inputs returns what fed a published release.
func (s *Store) Inputs(ctx context.Context, version string) (Inputs, error) {
	var in Inputs
	m, err := s.Get(ctx, version)
	if err != nil {
		return in, err
	}
	if err := s.B.GetJSON(ctx, m.FileKey(Prefix(version), InputsName), &in); err != nil {
		return in, fmt.Errorf("release %s records no inputs (made before releases did): %w", version, err)
	}
	return in, nil
}

// InputsDiff is what differs between the inputs of two releases.
type InputsDiff struct {
	Datasets  []string `json:"datasets"`  // source/dataset whose snapshot differs, or that one lacks
	CodeLists []string `json:"codeLists"` // files whose sha256 differs
	SQL       []string `json:"sql"`
	Checks    bool     `json:"qualityChecks"`
	Build     bool     `json:"build"` // another binary (revision, Go or DuckDB)
}

// DiffInputs compares the inputs of two releases.
func DiffInputs(a, b Inputs) InputsDiff {
	d := InputsDiff{Datasets: []string{}, CodeLists: changedKeys(a.CodeLists, b.CodeLists), SQL: changedKeys(a.SQL, b.SQL),
		Checks: a.QualityChecks != b.QualityChecks, Build: a.Build.Revision != b.Build.Revision || a.Build.Go != b.Build.Go || a.Build.DuckDB != b.Build.DuckDB || a.HarmonizerVersion != b.HarmonizerVersion}
	snap := func(in Inputs) map[string]string {
		out := map[string]string{}
		for _, s := range in.States {
			out[s.Source+"/"+s.Dataset] = snapshots(s)
		}
		return out
	}
	d.Datasets = changedKeys(snap(a), snap(b))
	return d
}

func changedKeys(a, b map[string]string) []string {
	out := []string{}
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

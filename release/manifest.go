// Package release builds, publishes, lists and verifies versioned dataset bundles:
//
//	releases/<version>/datapackage.json      Frictionless Data Package v2 manifest (the release exists iff this does)
//	releases/<version>/data/<table>.parquet  the tables
//	claims/<version>                         who claimed the version (create-only: two releases never share one)
//	staging/<release id>/…                   a bundle being built, before it gets a version
//
// A release is built under staging, its version is claimed with a create-only write, its files are copied
// under releases/<version>/, and its manifest is written last with a create-only write: the one step that
// makes it visible. A published release is never rewritten.
package release

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
)

// ProfileURL is the Data Package v2 profile.
const ProfileURL = "https://datapackage.org/profiles/2.0/datapackage.json"

// Manifest is a release's datapackage.json.
type Manifest struct {
	Schema       string     `json:"$schema"`
	Name         string     `json:"name"`
	Title        string     `json:"title,omitempty"`
	Version      string     `json:"version"`
	Created      time.Time  `json:"created"`
	Licenses     []License  `json:"licenses,omitempty"`
	Resources    []Resource `json:"resources"`
	Sources      []Source   `json:"sources"`
	Osservatorio Extra      `json:"osservatorio"`
}

// License is a Data Package licence.
type License struct {
	Name  string `json:"name"`
	Path  string `json:"path,omitempty"`
	Title string `json:"title,omitempty"`
}

// Credit is what a source asks of a reuser: the licence of its data and how to credit it.
type Credit struct {
	License     License `json:"license"`
	Attribution string  `json:"attribution,omitempty"`
}

// Resource is one table of the release: one file, or several (Parts) for tables kept one file per raw
// object, whose Path is then the list of the parts' paths.
type Resource struct {
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Path        Paths       `json:"path"`
	Format      string      `json:"format"`
	MediaType   string      `json:"mediatype"`
	Bytes       int64       `json:"bytes"`
	Hash        string      `json:"hash,omitempty"` // "sha256:<hex>" of a single-file resource
	Rows        int64       `json:"rows"`
	Parts       []Part      `json:"parts,omitempty"`
	Schema      TableSchema `json:"schema,omitzero"`
}

// Part is one file of a multi-file resource.
type Part struct {
	Path      string `json:"path"`
	Bytes     int64  `json:"bytes"`
	Hash      string `json:"hash"`
	Rows      int64  `json:"rows"`
	RawSHA256 string `json:"rawSha256"`
}

// Paths is a Data Package path: one string, or a list for a multi-file resource.
type Paths []string

// MarshalJSON writes one path as a string and several as a list.
func (p Paths) MarshalJSON() ([]byte, error) {
	if len(p) == 1 {
		return json.Marshal(p[0])
	}
	return json.Marshal([]string(p))
}

// UnmarshalJSON reads a string or a list.
func (p *Paths) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*p = Paths{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*p = many
	return nil
}

// Files returns every file of the resource with its expected size and hash.
func (r Resource) Files() []Part {
	if len(r.Parts) > 0 {
		return r.Parts
	}
	if len(r.Path) == 0 {
		return nil
	}
	return []Part{{Path: r.Path[0], Bytes: r.Bytes, Hash: r.Hash, Rows: r.Rows}}
}

// TableSchema is a Table Schema.
type TableSchema struct {
	Fields     []Field  `json:"fields"`
	PrimaryKey []string `json:"primaryKey,omitempty"`
}

// Field is one column. Categories, where given, are the codes it holds with their labels (Data Package
// v2 categorical field), in Italian.
type Field struct {
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	Description string     `json:"description,omitempty"`
	Categories  []Category `json:"categories,omitempty"`
}

// Category is one code of a categorical field and its label.
type Category struct {
	Value string `json:"value"`
	Label string `json:"label"`
}

// Source is one raw object the release was built from.
type Source struct {
	Title       string    `json:"title"`
	Path        string    `json:"path"` // the URL fetched
	Source      string    `json:"source"`
	Dataset     string    `json:"dataset"`
	FetchedAt   time.Time `json:"fetchedAt"`
	RawSHA256   string    `json:"rawSha256"`
	RawKey      string    `json:"rawKey"`
	Signal      string    `json:"signal,omitempty"`
	SnapshotKey string    `json:"snapshotKey"`
	Rows        int64     `json:"rows"`
	FirstPeriod string    `json:"firstPeriod,omitempty"`
	LastPeriod  string    `json:"lastPeriod,omitempty"`
	// Licenses and Attribution are the source's terms of reuse (from the configuration).
	Licenses    []License `json:"licenses,omitempty"`
	Attribution string    `json:"attribution,omitempty"`
	// Segments are the raw objects of a dataset downloaded in segments (a base, then the new rows of
	// each incremental download), in order; RawSHA256 and RawKey above are the last one, Rows all.
	Segments []RawSegment `json:"segments,omitempty"`
	// History are the ranges of periods a backfill fetched, each its own raw object and snapshot, in
	// period order: the release publishes the observations of theirs the snapshot above does not hold.
	History []RawSegment `json:"history,omitempty"`
}

// RawSegment is one raw object of a dataset in segments, or a range of its history.
type RawSegment struct {
	RawSHA256 string    `json:"rawSha256"`
	RawKey    string    `json:"rawKey"`
	Path      string    `json:"path,omitempty"` // the first URL fetched
	FetchedAt time.Time `json:"fetchedAt"`
	Rows      int64     `json:"rows"`
	// Period and SnapshotKey, for a range of history: the periods asked for ("2018/2020") and its snapshot.
	Period      string `json:"period,omitempty"`
	SnapshotKey string `json:"snapshotKey,omitempty"`
}

// Raws lists the source's raw objects: its segments, or itself; then its history.
func (s Source) Raws() []RawSegment {
	out := s.Segments
	if len(out) == 0 {
		out = []RawSegment{{RawSHA256: s.RawSHA256, RawKey: s.RawKey, Path: s.Path, FetchedAt: s.FetchedAt, Rows: s.Rows}}
	}
	return append(slices.Clip(out), s.History...)
}

// snapshots names every snapshot of a dataset a release reads: its own and its history's.
func snapshots(st lake.State) string {
	keys := []string{st.SnapshotKey}
	for _, c := range st.History {
		keys = append(keys, c.SnapshotKey)
	}
	return strings.Join(keys, "+")
}

// Extra is the platform's own manifest section.
type Extra struct {
	Previous     string  `json:"previous,omitempty"`
	Bump         string  `json:"bump"`
	InputsDigest string  `json:"inputsDigest"`
	Changes      Changes `json:"changes"`
	// SliceOf is set in an observatory's slice: the release and selection it was derived from.
	SliceOf *SliceOf `json:"sliceOf,omitempty"`
	// Files says where the platform's bucket stores the bundle's files: "blobs" (once each, by hash,
	// under blobs/; the bundle's prefix holds its manifest, signature and quality report), or "" (beside
	// the manifest, as releases were published before). A pulled or delivered copy is a plain folder
	// whatever it says: its files are beside the manifest, at their paths.
	Files string `json:"files,omitempty"`
}

// StoredAsBlobs is the value of Extra.Files for bundles whose files are stored by hash.
const StoredAsBlobs = "blobs"

// Path returns the file of the manifest at path.
func (m *Manifest) Path(path string) (Part, bool) {
	for _, r := range m.Resources {
		for _, f := range r.Files() {
			if f.Path == path {
				return f, true
			}
		}
	}
	return Part{}, false
}

// FileKey returns the object key of the file at path of the bundle under prefix: its blob, or for a
// bundle published before blobs (and for files the manifest does not list), prefix+path.
func (m *Manifest) FileKey(prefix, path string) string {
	if m.Osservatorio.Files == StoredAsBlobs {
		if f, ok := m.Path(path); ok {
			return lake.BlobKey(f.Hash)
		}
	}
	return prefix + path
}

// Changes is the machine-readable diff against the previous release.
type Changes struct {
	AddedDatasets   []string `json:"addedDatasets,omitempty"`
	RemovedDatasets []string `json:"removedDatasets,omitempty"`
	UpdatedDatasets []string `json:"updatedDatasets,omitempty"`
	NewPeriods      []string `json:"newPeriods,omitempty"` // "eurostat/lfst_r_lfu3rt: 2024"
}

// Resource returns the resource called name.
func (m *Manifest) Resource(name string) (Resource, bool) {
	for _, r := range m.Resources {
		if r.Name == name {
			return r, true
		}
	}
	return Resource{}, false
}

// InputsDigest identifies a set of accepted snapshots: equal digests mean the release would be the same.
func InputsDigest(states []lake.State) string {
	keys := make([]string, 0, len(states))
	for _, s := range states {
		keys = append(keys, s.Source+"/"+s.Dataset+"="+snapshots(s))
	}
	sort.Strings(keys)
	h := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return hex.EncodeToString(h[:])
}

// SourcesOf lists the states as manifest sources, ordered, each with its source's credit (nil: none).
func SourcesOf(states []lake.State, credits map[string]Credit) []Source {
	out := make([]Source, 0, len(states))
	for _, s := range states {
		src := Source{
			Title: s.Source + " " + s.Dataset, Path: s.URL, Source: s.Source, Dataset: s.Dataset,
			FetchedAt: s.FetchedAt.UTC(), RawSHA256: s.RawSHA256, RawKey: s.RawKey, Signal: s.Signal,
			SnapshotKey: s.SnapshotKey, Rows: s.Rows, FirstPeriod: s.FirstPeriod, LastPeriod: s.LastPeriod,
		}
		if c, ok := credits[s.Source]; ok && c.License.Name != "" {
			src.Licenses, src.Attribution = []License{c.License}, c.Attribution
		}
		if len(s.Segments) > 1 {
			for _, g := range s.Segments {
				src.Segments = append(src.Segments, RawSegment{RawSHA256: g.RawSHA256, RawKey: g.RawKey, Path: g.URL,
					FetchedAt: g.FetchedAt.UTC(), Rows: g.Rows})
			}
		}
		for _, c := range s.History {
			src.History = append(src.History, RawSegment{RawSHA256: c.RawSHA256, RawKey: c.RawKey, Path: c.URL,
				FetchedAt: c.FetchedAt.UTC(), Rows: c.Rows, Period: c.From + "/" + c.To, SnapshotKey: c.SnapshotKey})
			if c.FirstPeriod != "" && c.FirstPeriod < src.FirstPeriod {
				src.FirstPeriod = c.FirstPeriod
			}
		}
		out = append(out, src)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Source != out[j].Source {
			return out[i].Source < out[j].Source
		}
		return out[i].Dataset < out[j].Dataset
	})
	return out
}

// LicensesOf lists every licence of the sources once, in order of name: the package's licences.
func LicensesOf(sources []Source) []License {
	seen := map[string]bool{}
	var out []License
	for _, s := range sources {
		for _, l := range s.Licenses {
			if !seen[l.Name] {
				seen[l.Name] = true
				out = append(out, License{Name: l.Name, Path: l.Path, Title: licenseTitles[l.Name]})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// licenseTitles are the package-level titles of the licences the sources use (a source's own title may say
// more of its case).
var licenseTitles = map[string]string{
	"CC-BY-4.0": "Creative Commons Attribution 4.0 International",
	"IODL-2.0":  "Italian Open Data License 2.0",
}

// Diff compares the sources of the previous release with the new ones and says which semver part to bump:
// "major" for a removed dataset, "minor" for a new dataset or new periods, "patch" for revisions only.
func Diff(prev, next []Source) (Changes, string) {
	old := map[string]Source{}
	for _, s := range prev {
		old[s.Source+"/"+s.Dataset] = s
	}
	var c Changes
	seen := map[string]bool{}
	for _, s := range next {
		id := s.Source + "/" + s.Dataset
		seen[id] = true
		o, ok := old[id]
		switch {
		case !ok:
			c.AddedDatasets = append(c.AddedDatasets, id)
		case o.SnapshotKey != s.SnapshotKey || !slices.EqualFunc(o.History, s.History, func(a, b RawSegment) bool { return a.SnapshotKey == b.SnapshotKey }):
			c.UpdatedDatasets = append(c.UpdatedDatasets, id)
			if s.LastPeriod > o.LastPeriod {
				c.NewPeriods = append(c.NewPeriods, fmt.Sprintf("%s: %s", id, s.LastPeriod))
			}
			if s.FirstPeriod < o.FirstPeriod { // history backfilled
				c.NewPeriods = append(c.NewPeriods, fmt.Sprintf("%s: %s", id, s.FirstPeriod))
			}
		}
	}
	for _, s := range prev {
		if id := s.Source + "/" + s.Dataset; !seen[id] {
			c.RemovedDatasets = append(c.RemovedDatasets, id)
		}
	}
	switch {
	case len(c.RemovedDatasets) > 0:
		return c, "major"
	case len(c.AddedDatasets) > 0 || len(c.NewPeriods) > 0:
		return c, "minor"
	default:
		return c, "patch"
	}
}

// BumpReason says in words why a release got its bump.
func BumpReason(bump string, c Changes) string {
	var parts []string
	if len(c.RemovedDatasets) > 0 {
		parts = append(parts, "datasets removed: "+strings.Join(c.RemovedDatasets, ", "))
	}
	if len(c.AddedDatasets) > 0 {
		parts = append(parts, "datasets added: "+strings.Join(c.AddedDatasets, ", "))
	}
	if len(c.NewPeriods) > 0 {
		parts = append(parts, "new periods: "+strings.Join(c.NewPeriods, ", "))
	}
	if len(c.UpdatedDatasets) > 0 {
		parts = append(parts, "datasets updated: "+strings.Join(c.UpdatedDatasets, ", "))
	}
	if len(parts) == 0 {
		return bump + ": the first release"
	}
	return bump + ": " + strings.Join(parts, "; ")
}

// NextVersion returns the version after prev for a bump; the first release is 1.0.0.
func NextVersion(prev, bump string) (string, error) {
	if prev == "" {
		return "1.0.0", nil
	}
	var maj, min, pat int
	if _, err := fmt.Sscanf(prev, "%d.%d.%d", &maj, &min, &pat); err != nil {
		return "", fmt.Errorf("version %q is not semver: %w", prev, err)
	}
	switch bump {
	case "major":
		return fmt.Sprintf("%d.0.0", maj+1), nil
	case "minor":
		return fmt.Sprintf("%d.%d.0", maj, min+1), nil
	default:
		return fmt.Sprintf("%d.%d.%d", maj, min, pat+1), nil
	}
}

// Encode renders a manifest as the bytes written to datapackage.json.
func Encode(m *Manifest) ([]byte, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}

package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/quality"
	"github.com/osservatorio-lombardia/osservatorio/signing"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// ManifestName is the manifest's file name inside a release.
const ManifestName = "datapackage.json"

// Prefix is the folder of a published release.
func Prefix(version string) string { return "releases/" + version + "/" }

func stagingPrefix(releaseID string) string { return "staging/" + releaseID + "/" }

// StagingPrefix is where a release is built before it gets its version.
func StagingPrefix(releaseID string) string { return stagingPrefix(releaseID) }

func claimKey(version string) string { return "claims/" + version }

// Store reads and writes releases in the platform's bucket.
type Store struct {
	B *objectstore.Bucket
}

// NewStore returns a Store over b.
func NewStore(b *objectstore.Bucket) *Store { return &Store{B: b} }

// ErrNoRelease is returned when a release does not exist.
var ErrNoRelease = errors.New("no such release")

// Versions returns the published versions, oldest first.
func (s *Store) Versions(ctx context.Context) ([]string, error) {
	infos, err := s.B.List(ctx, "releases/", true)
	if err != nil {
		return nil, err
	}
	var vs []*semver.Version
	for _, in := range infos {
		rest := strings.TrimPrefix(in.Key, "releases/")
		ver, file, ok := strings.Cut(rest, "/")
		if !ok || file != ManifestName {
			continue
		}
		v, err := semver.StrictNewVersion(ver)
		if err != nil {
			continue
		}
		vs = append(vs, v)
	}
	sort.Sort(semver.Collection(vs))
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out, nil
}

// Get returns a published release's manifest.
func (s *Store) Get(ctx context.Context, version string) (*Manifest, error) {
	var m Manifest
	if err := s.B.GetJSON(ctx, Prefix(version)+ManifestName, &m); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil, fmt.Errorf("release %s: %w", version, ErrNoRelease)
		}
		return nil, err
	}
	return &m, nil
}

// FileKey returns where the file at path of a published release is stored (its blob, for a release
// published with blobs).
func (s *Store) FileKey(ctx context.Context, version, path string) (string, error) {
	m, err := s.Get(ctx, version)
	if err != nil {
		return "", err
	}
	return m.FileKey(Prefix(version), path), nil
}

// LocalCopies returns local copies of files of the published release m, kept in cache by hash (a file of
// a release never changes), downloading those not there.
func (s *Store) LocalCopies(ctx context.Context, m *Manifest, files []Part, cache string) ([]string, error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	var out []string
	for _, f := range files {
		path := filepath.Join(cache, strings.TrimPrefix(f.Hash, "sha256:")+filepath.Ext(f.Path))
		if _, err := os.Stat(path); err != nil {
			tmp := path + ".download"
			if err := s.B.GetFile(ctx, m.FileKey(Prefix(m.Version), f.Path), tmp); err != nil {
				return nil, err
			}
			if err := os.Rename(tmp, path); err != nil {
				return nil, err
			}
		}
		out = append(out, path)
	}
	return out, nil
}

// Latest returns the newest published manifest, or nil when there is none.
func (s *Store) Latest(ctx context.Context) (*Manifest, error) {
	vs, err := s.Versions(ctx)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	return s.Get(ctx, vs[len(vs)-1])
}

// Plan is what the next release would be.
type Plan struct {
	Skip         bool   `json:"skip"` // nothing changed since the latest release
	Version      string `json:"version"`
	Previous     string `json:"previous,omitempty"`
	Bump         string `json:"bump"`
	InputsDigest string `json:"inputsDigest"`
}

// PlanNext compares the accepted states with the latest release.
func (s *Store) PlanNext(ctx context.Context, states []lake.State) (Plan, error) {
	if len(states) == 0 {
		return Plan{Skip: true}, nil
	}
	latest, err := s.Latest(ctx)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{InputsDigest: InputsDigest(states)}
	var prevSources []Source
	if latest != nil {
		if latest.Osservatorio.InputsDigest == p.InputsDigest {
			return Plan{Skip: true, Version: latest.Version, InputsDigest: p.InputsDigest}, nil
		}
		p.Previous, prevSources = latest.Version, latest.Sources
	}
	_, p.Bump = Diff(prevSources, SourcesOf(states, nil))
	if latest == nil {
		p.Bump = "major"
	}
	p.Version, err = NextVersion(p.Previous, p.Bump)
	return p, err
}

// BuildOptions are the inputs of Build.
type BuildOptions struct {
	Name      string
	ReleaseID string // unique per build attempt of one release; names the staging folder
	Plan      Plan
	WorkDir   string
	DB        *warehouse.DB
	// Credits are the sources' licences and attributions, by source name.
	Credits map[string]Credit
	// Signer signs the manifest (datapackage.json.sig); nil leaves the release unsigned.
	Signer *signing.Key
	// Rebuild marks a rebuild of a published release: the latest quality report is left as it is.
	Rebuild bool
	// Reports, when set, makes the bundle's territorial reports (reports/…) into dir from the built tables
	// (table → local Parquet file) and the manifest so far: package report's Bundle.
	Reports func(ctx context.Context, db *warehouse.DB, m *Manifest, tables map[string]string, dir string) ([]ReportFile, error)
}

// putLatestChecks keeps the quality report of the latest build, for `osservatorio checks`.
func (s *Store) putLatestChecks(ctx context.Context, opts BuildOptions, report *quality.Report) error {
	if opts.Rebuild {
		return nil
	}
	return s.B.PutJSON(ctx, LatestChecksKey, report, objectstore.PutOptions{})
}

// Build assembles the release tables from the accepted snapshots, writes them and the manifest under the
// staging prefix, and returns the manifest. The same states and plan give the same bytes.
func (s *Store) Build(ctx context.Context, states []lake.State, opts BuildOptions) (*Manifest, error) {
	dir, err := os.MkdirTemp(opts.WorkDir, "release-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var created time.Time
	var obs, events []lake.State
	for _, st := range states {
		if st.FetchedAt.After(created) {
			created = st.FetchedAt
		}
		if st.Table == "labour_events" {
			events = append(events, st)
		} else {
			obs = append(obs, st)
		}
	}
	sortStates(obs)
	sortStates(events)
	var prevSources []Source
	var prev *Manifest
	if opts.Plan.Previous != "" {
		if prev, err = s.Get(ctx, opts.Plan.Previous); err != nil {
			return nil, err
		}
		prevSources = prev.Sources
	}
	sources := SourcesOf(states, opts.Credits)
	changes, _ := Diff(prevSources, sources)
	m := &Manifest{
		Schema: ProfileURL, Name: opts.Name, Title: "Osservatorio mercato del lavoro Lombardia",
		Version: opts.Plan.Version, Created: created.UTC().Truncate(time.Second),
		Licenses: LicensesOf(sources),
		Sources:  sources,
		Osservatorio: Extra{Previous: opts.Plan.Previous, Bump: opts.Plan.Bump, InputsDigest: opts.Plan.InputsDigest, Changes: changes,
			Files: StoredAsBlobs},
	}
	stage := stagingPrefix(opts.ReleaseID)
	local := map[string]string{} // table → local file, for the quality gates
	// addFile stages one single-file table.
	addFile := func(name, local string, rows int64, columns []warehouse.Column, key []string) error {
		size, sum, err := hashFile(local)
		if err != nil {
			return err
		}
		res := Resource{Name: name, Path: Paths{"data/" + name + ".parquet"}, Format: "parquet",
			MediaType: "application/vnd.apache.parquet", Bytes: size, Hash: "sha256:" + sum, Rows: rows,
			Schema: schemaOf(columns, key)}
		if err := s.B.PutFile(ctx, stage+res.Path[0], local, objectstore.PutOptions{ContentType: res.MediaType}); err != nil {
			return err
		}
		m.Resources = append(m.Resources, res)
		return nil
	}
	addLocal := func(name, path string, rows int64, columns []warehouse.Column, key []string) error {
		local[name] = path
		return addFile(name, path, rows, columns, key)
	}
	if len(obs) > 0 {
		inputs, err := s.download(ctx, dir, "obs", obs, func(st lake.State) string { return st.SnapshotKey })
		if err != nil {
			return nil, err
		}
		history, err := s.downloadHistory(ctx, dir, obs)
		if err != nil {
			return nil, err
		}
		out := filepath.Join(dir, "observations.parquet")
		rows, err := opts.DB.CombineObservations(ctx, inputs, history, out)
		if err != nil {
			return nil, fmt.Errorf("build observations: %w", err)
		}
		if err := addLocal("observations", out, rows, warehouse.ObservationColumns, []string{"raw_sha256", "raw_position"}); err != nil {
			return nil, err
		}
		ind := filepath.Join(dir, "indicators.parquet")
		rows, err = opts.DB.WriteIndicators(ctx, out, ind)
		if err != nil {
			return nil, fmt.Errorf("build indicators: %w", err)
		}
		if err := addLocal("indicators", ind, rows, warehouse.IndicatorColumns, warehouse.IndicatorKey); err != nil {
			return nil, err
		}
	}
	if len(events) > 0 {
		// One file per raw export, copied as harmonized: row i of a file is data row i of its export.
		res := Resource{Name: "labour_events", Description: EventsKey, Format: "parquet", MediaType: "application/vnd.apache.parquet",
			Schema: schemaOf(warehouse.LabourEventsColumns, nil)}
		// One file per part of each raw segment, copied as harmonized: row i of a segment's parts is its
		// data row i.
		var flowParts []string
		for _, st := range events {
			for _, seg := range st.EventSegments() {
				if seg.FlowsPart == "" {
					return nil, fmt.Errorf("%s/%s has no flows part for raw %s", st.Source, st.Dataset, seg.RawKey)
				}
				flowParts = append(flowParts, seg.FlowsPart)
				if err := s.stageEvents(ctx, &res, stage, st, seg); err != nil {
					return nil, err
				}
			}
		}
		m.Resources = append(m.Resources, res)
		parts, err := s.downloadKeys(ctx, dir, "flows", flowParts)
		if err != nil {
			return nil, err
		}
		flowDir := filepath.Join(dir, "flows")
		if err := os.MkdirAll(flowDir, 0o755); err != nil {
			return nil, err
		}
		rows, err := opts.DB.BuildFlows(ctx, parts, flowDir)
		if err != nil {
			return nil, fmt.Errorf("build labour flows: %w", err)
		}
		for _, t := range warehouse.FlowTables {
			cols := warehouse.LabourFlowsColumns
			if t == "labour_balances" {
				cols = warehouse.LabourBalancesColumns
			}
			full := filepath.Join(flowDir, t+".parquet")
			local[t] = full
			res, err := s.stageByYear(ctx, opts.DB, stage, t, full, filepath.Join(flowDir, t))
			if err != nil {
				return nil, err
			}
			res.Schema = schemaOf(cols, warehouse.FlowKeys[t])
			if res.Rows != rows[t] {
				return nil, fmt.Errorf("%s: %d rows built, %d in its years", t, rows[t], res.Rows)
			}
			m.Resources = append(m.Resources, res)
		}
	}
	labels := filepath.Join(dir, "labels.parquet")
	rows, err := opts.DB.WriteLabels(ctx, local, labels)
	if err != nil {
		return nil, fmt.Errorf("build labels: %w", err)
	}
	if err := addLocal("labels", labels, rows, warehouse.LabelColumns, warehouse.LabelKey); err != nil {
		return nil, err
	}
	if err := categorize(ctx, opts.DB, labels, m.Resources); err != nil {
		return nil, err
	}
	terr := filepath.Join(dir, "territories.parquet")
	rows, err = opts.DB.WriteTerritories(ctx, terr)
	if err != nil {
		return nil, fmt.Errorf("build territories: %w", err)
	}
	if err := addLocal("territories", terr, rows, warehouse.TerritoryColumns, []string{"istat"}); err != nil {
		return nil, err
	}
	report, err := s.check(ctx, opts, m, local, events, dir)
	if err != nil {
		return nil, err
	}
	if err := s.B.PutJSON(ctx, stage+ChecksName, report, objectstore.PutOptions{}); err != nil {
		return nil, err
	}
	if err := s.putLatestChecks(ctx, opts, report); err != nil {
		return nil, err
	}
	if blocking := report.Blocking(); len(blocking) > 0 {
		return nil, fault.Errorf(fault.QualityGateFailed, "release %s blocked by %d quality gate(s): %s (report: %s)",
			m.Version, len(blocking), strings.Join(blocking, "; "), LatestChecksKey)
	}
	if err := s.changeLog(ctx, opts.DB, prev, m, local, dir, stage); err != nil {
		return nil, err
	}
	if err := s.addReports(ctx, opts, m, local, dir, stage); err != nil {
		return nil, err
	}
	if err := s.writeInputs(ctx, m, states, opts.DB.Codes(), dir, stage); err != nil {
		return nil, err
	}
	data, err := Encode(m)
	if err != nil {
		return nil, err
	}
	if opts.Signer != nil {
		if err := s.sign(ctx, opts.Signer, stage, data); err != nil {
			return nil, err
		}
	}
	if err := s.B.Put(ctx, stage+ManifestName, bytes.NewReader(data), int64(len(data)), objectstore.PutOptions{ContentType: "application/json"}); err != nil {
		return nil, err
	}
	return m, nil
}

// EventsKey says how a labour_events row is identified. Events are anonymous: no column is unique, and a
// stored row number would cost about 0.5 s per million events in the harmonization (measured: 5M events,
// 3.1–3.8 s without, 5.9–6.1 s with), so the key is the raw object and the row's position in it.
const EventsKey = "One row per CO event. Key: (raw_sha256, row), where row (0-based) is the row's position in its part " +
	"(Parquet file_row_number, e.g. read_parquet(path, file_row_number = true)) plus the rows of the parts before it; " +
	"that is the data row of the raw export the event was read from."

// ChecksName is the quality report's file name inside a release.
const ChecksName = "checks.json"

// LatestChecksKey is the report of the latest release build, published or blocked.
const LatestChecksKey = "checks/latest.json"

// check runs the quality gates: those of the tables built here, and those the harmonization of each CO
// export already ran (stored in its report).
func (s *Store) check(ctx context.Context, opts BuildOptions, m *Manifest, local map[string]string, events []lake.State, dir string) (*quality.Report, error) {
	all, err := quality.Checks()
	if err != nil {
		return nil, err
	}
	codes, err := opts.DB.Codes().Model()
	if err != nil {
		return nil, fmt.Errorf("code lists: %w", err)
	}
	rep := &quality.Report{Release: m.Version}
	var prev *Manifest
	if opts.Plan.Previous != "" {
		if prev, err = s.Get(ctx, opts.Plan.Previous); err != nil {
			return nil, err
		}
	}
	for _, table := range quality.Tables(all) {
		path, ok := local[table]
		if !ok {
			continue
		}
		var pv *quality.Previous
		if prev != nil {
			if r, ok := prev.Resource(table); ok {
				pv = &quality.Previous{Rows: r.Rows}
				if old, err := s.previousTable(ctx, opts.DB, prev, table, dir); err != nil {
					return nil, err
				} else if old != "" {
					pv.From = "read_parquet('" + old + "')"
				}
			}
		}
		results := quality.Run(ctx, opts.DB.SQL(), codes, table, "read_parquet('"+strings.ReplaceAll(path, "'", "''")+"')", all[table], pv)
		// The stored queries read the published files, relative to the bundle (run them in a pulled
		// release's folder, or with the release's prefix in front), not this build's temporary ones.
		for i := range results {
			results[i].Query = strings.ReplaceAll(results[i].Query, "'"+strings.ReplaceAll(path, "'", "''")+"'", "'"+bundleGlob(m, table)+"'")
			if pv != nil && pv.From != "" {
				results[i].Query = strings.ReplaceAll(results[i].Query, pv.From, "read_parquet('../"+opts.Plan.Previous+"/"+bundleGlob(prev, table)+"')")
			}
		}
		rep.Add(results...)
	}
	for _, st := range events {
		segs := st.EventSegments()
		for k, seg := range segs {
			if seg.ReportKey == "" {
				continue
			}
			var er struct {
				Checks []quality.Result `json:"checks"`
			}
			if err := s.B.GetJSON(ctx, seg.ReportKey, &er); err != nil {
				return nil, fmt.Errorf("harmonization report of %s/%s: %w", st.Source, st.Dataset, err)
			}
			table := "labour_events (" + st.Source + "/" + st.Dataset + ")"
			if len(segs) > 1 {
				table = fmt.Sprintf("labour_events (%s/%s, segment %d of %d)", st.Source, st.Dataset, k+1, len(segs))
			}
			for i := range er.Checks {
				er.Checks[i].Table = table
			}
			rep.Add(er.Checks...)
		}
	}
	return rep, nil
}

// Checks returns the quality report of a release, or of the latest build when version is "".
func (s *Store) Checks(ctx context.Context, version string) (*quality.Report, error) {
	key := LatestChecksKey
	if version != "" {
		key = Prefix(version) + ChecksName
	}
	var rep quality.Report
	if err := s.B.GetJSON(ctx, key, &rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

func sortStates(states []lake.State) {
	sort.Slice(states, func(i, j int) bool {
		if states[i].Source != states[j].Source {
			return states[i].Source < states[j].Source
		}
		return states[i].Dataset < states[j].Dataset
	})
}

func schemaOf(columns []warehouse.Column, key []string) TableSchema {
	ts := TableSchema{PrimaryKey: key}
	for _, c := range columns {
		ts.Fields = append(ts.Fields, Field{Name: c.Name, Type: c.Type, Description: c.Description})
	}
	return ts
}

// download fetches one object per state into dir and returns the local paths, in the states' order.
// bundleGlob is where a table's files are in a bundle, as read_parquet takes it: its one file, or a glob of
// its files (a table stored one file per year).
func bundleGlob(m *Manifest, table string) string {
	r, _ := m.Resource(table)
	if len(r.Path) == 1 {
		return r.Path[0]
	}
	return "data/" + table + "/*.parquet"
}

// previousTable copies a table of an earlier release into one local Parquet file (its files combined),
// or returns "" when that release has no such table.
func (s *Store) previousTable(ctx context.Context, db *warehouse.DB, prev *Manifest, table, dir string) (string, error) {
	if prev == nil {
		return "", nil
	}
	r, ok := prev.Resource(table)
	if !ok || len(r.Files()) == 0 {
		return "", nil
	}
	out := filepath.Join(dir, "previous-"+table+".parquet")
	if _, err := os.Stat(out); err == nil {
		return out, nil // copied already for another comparison of this build
	}
	files := r.Files()
	if len(files) == 1 {
		return out, s.B.GetFile(ctx, prev.FileKey(Prefix(prev.Version), files[0].Path), out)
	}
	keys := make([]string, len(files))
	for i, f := range files {
		keys[i] = prev.FileKey(Prefix(prev.Version), f.Path)
	}
	locals, err := s.downloadKeys(ctx, dir, "previous-"+table, keys)
	if err != nil {
		return "", err
	}
	if _, err := db.CombineParquet(ctx, warehouse.TableSpec{Inputs: locals, Out: out, OrderBy: "ALL"}); err != nil {
		return "", err
	}
	return out, nil
}

// ReportFile is a file of the bundle's reports/, made by BuildOptions.Reports.
type ReportFile struct {
	Path      string // in the bundle: reports/…
	Local     string
	MediaType string
}

// ReportsResource names the bundle's territorial reports.
const ReportsResource = "reports"

// addReports stages the territorial reports the Reports hook makes from the built tables, as one
// resource of the manifest (a release with no labour flows has none).
func (s *Store) addReports(ctx context.Context, opts BuildOptions, m *Manifest, local map[string]string, dir, stage string) error {
	if opts.Reports == nil || local["labour_flows"] == "" {
		return nil
	}
	rdir := filepath.Join(dir, "reports")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return err
	}
	files, err := opts.Reports(ctx, opts.DB, m, local, rdir)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	res := Resource{Name: ReportsResource, Format: "html", MediaType: "text/html",
		Description: "Le dinamiche degli eventi lavorativi: a report per province and for the region (open index.html), from this release's tables"}
	for _, f := range files {
		size, sum, err := hashFile(f.Local)
		if err != nil {
			return err
		}
		if err := s.B.PutFile(ctx, stage+f.Path, f.Local, objectstore.PutOptions{ContentType: f.MediaType}); err != nil {
			return err
		}
		res.Path = append(res.Path, f.Path)
		res.Parts = append(res.Parts, Part{Path: f.Path, Bytes: size, Hash: "sha256:" + sum})
		res.Bytes += size
	}
	if len(files) > 0 {
		m.Resources = append(m.Resources, res)
	}
	return nil
}

// stageByYear stages a flow table as one file per year (data/<table>/<year>.parquet): the years a day's
// events did not touch keep their bytes, and so their blobs.
func (s *Store) stageByYear(ctx context.Context, db *warehouse.DB, stage, table, full, dir string) (Resource, error) {
	res := Resource{Name: table, Format: "parquet", MediaType: "application/vnd.apache.parquet"}
	years, err := db.SplitByYear(ctx, full, dir)
	if err != nil {
		return res, fmt.Errorf("%s by year: %w", table, err)
	}
	if len(years) == 0 { // no event counted yet: one empty file keeps the table's schema
		years = []warehouse.YearFile{{Year: "empty", Path: full}}
	}
	for _, y := range years {
		size, sum, err := hashFile(y.Path)
		if err != nil {
			return res, err
		}
		p := "data/" + table + "/" + y.Year + ".parquet"
		if err := s.B.PutFile(ctx, stage+p, y.Path, objectstore.PutOptions{ContentType: res.MediaType}); err != nil {
			return res, err
		}
		res.Path = append(res.Path, p)
		res.Parts = append(res.Parts, Part{Path: p, Bytes: size, Hash: "sha256:" + sum, Rows: y.Rows})
		res.Bytes += size
		res.Rows += y.Rows
	}
	return res, nil
}

// stageEvents stages the labour_events parts of one raw segment of a CO dataset as files of res.
func (s *Store) stageEvents(ctx context.Context, res *Resource, stage string, st lake.State, seg lake.Segment) error {
	for k, key := range seg.SnapshotParts {
		p := fmt.Sprintf("data/labour_events/%s-%s-%s-%04d.parquet", st.Source, st.Dataset, seg.RawSHA256[:16], k)
		info, err := s.B.Stat(ctx, key)
		if err != nil {
			return err
		}
		sum, err := s.hashObject(ctx, key, info.ETag)
		if err != nil {
			return err
		}
		if err := s.stage(ctx, key, stage+p, "sha256:"+sum); err != nil {
			return err
		}
		res.Path = append(res.Path, p)
		res.Parts = append(res.Parts, Part{Path: p, Bytes: info.Size, Hash: "sha256:" + sum, Rows: seg.PartRows[k], RawSHA256: seg.RawSHA256})
		res.Bytes += info.Size
		res.Rows += seg.PartRows[k]
	}
	return nil
}

// downloadKeys copies objects into dir, named prefix-NNN.parquet in order, and returns their paths.
func (s *Store) downloadKeys(ctx context.Context, dir, prefix string, keys []string) ([]string, error) {
	out := make([]string, 0, len(keys))
	for i, k := range keys {
		local := filepath.Join(dir, fmt.Sprintf("%s-%03d.parquet", prefix, i))
		if err := s.B.GetFile(ctx, k, local); err != nil {
			return nil, fmt.Errorf("%s %s: %w", prefix, k, err)
		}
		out = append(out, local)
	}
	return out, nil
}

// downloadHistory copies the snapshots of the datasets' history (the ranges a backfill fetched) into dir,
// in period order, each ranked by when it was fetched (the latest first).
func (s *Store) downloadHistory(ctx context.Context, dir string, states []lake.State) ([]warehouse.HistoryFile, error) {
	var chunks []lake.Chunk
	for _, st := range states {
		for _, c := range st.History {
			if c.SnapshotKey != "" {
				chunks = append(chunks, c)
			}
		}
	}
	keys := make([]string, len(chunks))
	for i, c := range chunks {
		keys[i] = c.SnapshotKey
	}
	local, err := s.downloadKeys(ctx, dir, "history", keys)
	if err != nil {
		return nil, err
	}
	out := make([]warehouse.HistoryFile, len(chunks))
	for i, c := range chunks {
		out[i] = warehouse.HistoryFile{Path: local[i]}
		for _, o := range chunks {
			if o.FetchedAt.After(c.FetchedAt) || o.FetchedAt.Equal(c.FetchedAt) && o.From > c.From {
				out[i].Rank++
			}
		}
	}
	return out, nil
}

// download copies the object key names for each state into dir (see downloadKeys).
func (s *Store) download(ctx context.Context, dir, prefix string, states []lake.State, key func(lake.State) string) ([]string, error) {
	keys := make([]string, len(states))
	for i, st := range states {
		if keys[i] = key(st); keys[i] == "" {
			return nil, fmt.Errorf("%s/%s has no %s object", st.Source, st.Dataset, prefix)
		}
	}
	return s.downloadKeys(ctx, dir, prefix, keys)
}

// hashObject returns the sha256 of an object: from the cache kept beside it when its ETag has not
// changed (harmonized parts are immutable, and hashing 4.6 GB again each release costs seconds), else
// by streaming it.
func (s *Store) hashObject(ctx context.Context, key, etag string) (string, error) {
	var cached struct{ ETag, SHA256 string }
	if err := s.B.GetJSON(ctx, lake.HashKey(key), &cached); err == nil && etag != "" && cached.ETag == etag {
		return cached.SHA256, nil
	}
	r, err := s.B.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if etag != "" {
		cached.ETag, cached.SHA256 = etag, sum
		if err := s.B.PutJSON(ctx, lake.HashKey(key), cached, objectstore.PutOptions{}); err != nil {
			return "", err
		}
	}
	return sum, nil
}

// stage copies a file the release takes as it is (a harmonized part) into the staging prefix, unless its
// blob is stored already: an unchanged part is not copied at all.
func (s *Store) stage(ctx context.Context, key, stagedKey, hash string) error {
	ok, err := s.B.Exists(ctx, lake.BlobKey(hash))
	if err != nil || ok {
		return err
	}
	return s.B.CopyTo(ctx, key, s.B, stagedKey)
}

// Publish makes the staged release visible under its version. It claims the version with a create-only
// write (a Conflict fault when another release holds it), stores each file the blob store lacks (a file
// unchanged since an earlier release is not copied again), and writes the manifest last, create-only.
// Publishing the same release again is a no-op.
func (s *Store) Publish(ctx context.Context, releaseID, version string) (Moved, error) {
	claim := []byte(releaseID)
	err := s.B.Put(ctx, claimKey(version), bytes.NewReader(claim), int64(len(claim)), objectstore.PutOptions{IfAbsent: true})
	if errors.Is(err, objectstore.ErrExists) {
		holder, rerr := s.readClaim(ctx, version)
		if rerr != nil {
			return Moved{}, rerr
		}
		if holder != releaseID {
			return Moved{}, fault.Errorf(fault.Conflict, "version %s is claimed by release %s", version, holder)
		}
	} else if err != nil {
		return Moved{}, err
	}
	stage := stagingPrefix(releaseID)
	var m Manifest
	if err := s.B.GetJSON(ctx, stage+ManifestName, &m); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return Moved{}, fmt.Errorf("publish %s: nothing staged under %s", version, stage)
		}
		return Moved{}, err
	}
	moved, err := s.storeFiles(ctx, stage, Prefix(version), &m)
	if err != nil {
		return moved, err
	}
	err = s.B.CopyToIfAbsent(ctx, stage+ManifestName, Prefix(version)+ManifestName)
	if errors.Is(err, objectstore.ErrExists) {
		return moved, nil // published by an earlier attempt of this same release (the claim proves it is ours)
	}
	return moved, err
}

// Moved counts what publishing a bundle stored: the files copied into the blob store and those it held.
type Moved struct {
	Files       int   `json:"files"`
	Copied      int   `json:"copied"`
	CopiedBytes int64 `json:"copiedBytes"`
	Kept        int   `json:"kept"` // already stored by an earlier release
	KeptBytes   int64 `json:"keptBytes"`
}

// storeFiles moves the staged files of m into the blob store (those it lacks) and the files m does not
// list (signature, quality report) beside the manifest under prefix.
func (s *Store) storeFiles(ctx context.Context, stage, prefix string, m *Manifest) (Moved, error) {
	var mv Moved
	for _, r := range m.Resources {
		for _, f := range r.Files() {
			mv.Files++
			key := lake.BlobKey(f.Hash)
			ok, err := s.B.Exists(ctx, key)
			if err != nil {
				return mv, err
			}
			if ok { // stored by an earlier release (a part not staged because its blob was there)
				mv.Kept++
				mv.KeptBytes += f.Bytes
				continue
			}
			// The key is the content's hash: two releases storing one blob at once write the same bytes.
			if err := s.B.CopyTo(ctx, stage+f.Path, s.B, key); err != nil {
				return mv, fmt.Errorf("store %s: %w", f.Path, err)
			}
			mv.Copied++
			mv.CopiedBytes += f.Bytes
		}
	}
	files, err := s.B.List(ctx, stage, true)
	if err != nil {
		return mv, err
	}
	for _, f := range files {
		rel := strings.TrimPrefix(f.Key, stage)
		if _, listed := m.Path(rel); listed || rel == ManifestName {
			continue
		}
		if err := s.B.CopyTo(ctx, f.Key, s.B, prefix+rel); err != nil {
			return mv, err
		}
	}
	return mv, nil
}

func (s *Store) readClaim(ctx context.Context, version string) (string, error) {
	r, err := s.B.Get(ctx, claimKey(version))
	if err != nil {
		return "", err
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, 1024))
	return string(b), err
}

// Discard removes a staged build.
func (s *Store) Discard(ctx context.Context, releaseID string) error {
	files, err := s.B.List(ctx, stagingPrefix(releaseID), true)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := s.B.Remove(ctx, f.Key); err != nil {
			return err
		}
	}
	return nil
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

package release

import (
	"strings"

	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
)

// FileComparison is one file of a release rebuilt.
type FileComparison struct {
	Path      string `json:"path"`
	Published string `json:"published"`
	Rebuilt   string `json:"rebuilt"`
	Identical bool   `json:"identical"`
	// Content, for a table whose bytes differ, says whether its rows are the same (in any order).
	Content string `json:"content,omitempty"`
}

// RebuildReport compares a published release with a rebuild from its recorded inputs.
type RebuildReport struct {
	Version   string           `json:"version"`
	Identical bool             `json:"identical"`
	Files     []FileComparison `json:"files"`
	// CodeLists says which code lists the rebuild used: those the release recorded, or this binary's.
	CodeLists string `json:"codeLists"`
	// Why lists what makes identical bytes impossible: code lists, SQL or code that changed since.
	Why []string `json:"why,omitempty"`
}

// Rebuild builds a published release again from its recorded inputs (inputs.json: the accepted
// snapshots as they were), in a scratch staging prefix it removes afterwards, and compares every file's
// sha256 with the published manifest. Where code lists, SQL or the code changed since, it says so, and
// compares the differing tables' rows instead.
func (s *Store) Rebuild(ctx context.Context, version string, opts BuildOptions) (*RebuildReport, error) {
	m, err := s.Get(ctx, version)
	if err != nil {
		return nil, err
	}
	in, err := s.Inputs(ctx, version)
	if err != nil {
		return nil, err
	}
	rep := &RebuildReport{Version: version, Identical: true}
	dir, err := os.MkdirTemp(opts.WorkDir, "codelists-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	codes, err := s.recordedCodes(ctx, in, dir, rep)
	if err != nil {
		return nil, err
	}
	if codes != nil {
		opts.DB = opts.DB.WithCodes(codes)
	}
	now, err := CurrentInputs(version, in.States, codes)
	if err != nil {
		return nil, err
	}
	d := DiffInputs(in, now)
	for _, f := range d.CodeLists {
		rep.Why = append(rep.Why, "code list "+f+" changed since")
	}
	for _, f := range d.SQL {
		rep.Why = append(rep.Why, "SQL "+f+" changed since")
	}
	if d.Build {
		rep.Why = append(rep.Why, fmt.Sprintf("built by another binary (%s, Go %s, DuckDB %s; now %s, Go %s, DuckDB %s)",
			orNone(in.Build.Revision), in.Build.Go, in.Build.DuckDB, orNone(now.Build.Revision), now.Build.Go, now.Build.DuckDB))
	}
	opts.ReleaseID = fmt.Sprintf("rebuild-%s-%d", version, time.Now().UnixNano())
	opts.Name, opts.Rebuild, opts.Signer = m.Name, true, nil
	opts.Plan = Plan{Version: version, Previous: m.Osservatorio.Previous, Bump: m.Osservatorio.Bump, InputsDigest: m.Osservatorio.InputsDigest}
	defer s.Discard(context.WithoutCancel(ctx), opts.ReleaseID)
	again, err := s.Build(ctx, in.States, opts)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", version, err)
	}
	rebuilt := map[string]Part{}
	for _, r := range again.Resources {
		for _, f := range r.Files() {
			rebuilt[f.Path] = f
		}
	}
	for _, r := range m.Resources {
		for _, f := range r.Files() {
			c := FileComparison{Path: f.Path, Published: f.Hash, Rebuilt: rebuilt[f.Path].Hash}
			c.Identical = c.Published == c.Rebuilt
			if !c.Identical && r.Format == "parquet" && c.Rebuilt != "" {
				c.Content = s.compareRows(ctx, opts, m.FileKey(Prefix(version), f.Path), f.Path)
			}
			rep.Identical = rep.Identical && c.Identical
			rep.Files = append(rep.Files, c)
		}
	}
	return rep, nil
}

// recordedCodes reads back into dir the code lists the release was built with, and says in rep which
// were used. It returns nil (build with this binary's code lists) when some were not kept.
func (s *Store) recordedCodes(ctx context.Context, in Inputs, dir string, rep *RebuildReport) (*codelist.Set, error) {
	codes, missing, err := s.RecordedCodeLists(ctx, in, dir)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		rep.CodeLists = fmt.Sprintf("this binary's: %d of the recorded files were not kept (%s)", len(missing), strings.Join(missing, ", "))
		return nil, nil
	}
	if _, err := codes.Model(); err != nil {
		return nil, fmt.Errorf("recorded code lists: %w", err)
	}
	if _, err := codes.Territories(); err != nil {
		return nil, fmt.Errorf("recorded code lists: %w", err)
	}
	rep.CodeLists = fmt.Sprintf("recorded: %d files read back by sha256", len(in.CodeLists))
	return codes, nil
}

// compareRows says whether a published table file and its rebuild hold the same rows.
func (s *Store) compareRows(ctx context.Context, opts BuildOptions, published, path string) string {
	dir, err := os.MkdirTemp(opts.WorkDir, "rebuild-*")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	a, b := filepath.Join(dir, "published.parquet"), filepath.Join(dir, "rebuilt.parquet")
	if err := s.B.GetFile(ctx, published, a); err != nil {
		return err.Error()
	}
	if err := s.B.GetFile(ctx, stagingPrefix(opts.ReleaseID)+path, b); err != nil {
		return err.Error()
	}
	onlyA, onlyB, err := opts.DB.RowDifference(ctx, a, b)
	switch {
	case err != nil:
		return "rows not compared: " + err.Error()
	case onlyA == 0 && onlyB == 0:
		return "same rows, other bytes"
	default:
		return fmt.Sprintf("rows differ: %d only in the published file, %d only in the rebuild", onlyA, onlyB)
	}
}

func orNone(s string) string {
	if s == "" {
		return "no revision"
	}
	return s
}

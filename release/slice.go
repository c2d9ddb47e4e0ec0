package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/signing"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// Selection is what an observatory subscribes to of each release.
type Selection struct {
	Tables  []string // empty: all
	Sources []string // empty: all
	// Province, when set, keeps only that province's rows of labour_events and the labour flows.
	Province string
}

// Full says whether the selection takes the release whole.
func (s Selection) Full() bool { return len(s.Tables) == 0 && len(s.Sources) == 0 && s.Province == "" }

// SliceOf records, in a slice's manifest, the release and selection it was derived from.
type SliceOf struct {
	Release     string    `json:"release"`
	Observatory string    `json:"observatory"`
	Selection   Selection `json:"selection"`
}

// SliceOptions are the inputs of Slice.
type SliceOptions struct {
	Version     string
	Observatory string
	Selection   Selection
	DB          *warehouse.DB
	WorkDir     string
	Signer      *signing.Key
}

// territorial are the tables a province selection slices (the others hold code lists or official
// indicators every observatory compares itself with).
var territorial = []string{"labour_events", "labour_flows", "labour_flows_yearly", "labour_balances"}

// Slice derives an observatory's bundle from a published release: the tables and sources it subscribes to,
// its province's rows only where asked; signed like a release, and written under
// slices/<observatory>/<version>/ with its manifest last (create-only). The same release and selection
// give the same bytes. A slice already made is returned as it is.
func (s *Store) Slice(ctx context.Context, o SliceOptions) (*Manifest, error) {
	prefix := lake.SlicePrefix(o.Observatory, o.Version)
	var done Manifest
	if err := s.B.GetJSON(ctx, prefix+ManifestName, &done); err == nil {
		return &done, nil
	} else if !errors.Is(err, objectstore.ErrNotFound) {
		return nil, err
	}
	m, err := s.Get(ctx, o.Version)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(o.WorkDir, "slice-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	out := *m
	out.Name = m.Name + "-" + o.Observatory
	out.Resources, out.Sources = nil, nil
	out.Osservatorio.SliceOf = &SliceOf{Release: m.Version, Observatory: o.Observatory, Selection: o.Selection}
	out.Osservatorio.Files = StoredAsBlobs
	sourceOfRaw := map[string]string{}
	for _, src := range m.Sources {
		for _, r := range src.Raws() {
			sourceOfRaw[r.RawSHA256] = src.Source
		}
		if len(o.Selection.Sources) == 0 || slices.Contains(o.Selection.Sources, src.Source) {
			out.Sources = append(out.Sources, src)
		}
	}
	coSources := map[string]bool{} // the sources of the CO events
	if ev, ok := m.Resource("labour_events"); ok {
		for _, p := range ev.Parts {
			coSources[sourceOfRaw[p.RawSHA256]] = true
		}
	}
	for _, r := range m.Resources {
		if len(o.Selection.Tables) > 0 && !slices.Contains(o.Selection.Tables, r.Name) && !slices.Contains(changeLogResources, r.Name) {
			continue
		}
		res, keep, err := s.sliceResource(ctx, o, m, r, sourceOfRaw, coSources, dir)
		if err != nil {
			return nil, fmt.Errorf("slice %s of %s for %s: %w", r.Name, o.Version, o.Observatory, err)
		}
		if keep {
			out.Resources = append(out.Resources, res)
		}
	}
	out.Licenses = LicensesOf(out.Sources)
	data, err := Encode(&out)
	if err != nil {
		return nil, err
	}
	if o.Signer != nil {
		if err := s.sign(ctx, o.Signer, prefix, data); err != nil {
			return nil, err
		}
	}
	err = s.B.Put(ctx, prefix+ManifestName, bytes.NewReader(data), int64(len(data)), objectstore.PutOptions{IfAbsent: true, ContentType: "application/json"})
	if errors.Is(err, objectstore.ErrExists) {
		return s.Slice(ctx, o) // made meanwhile by an earlier attempt: that one stands
	}
	return &out, err
}

// sliceResource writes one table of the slice (a file it takes whole is the release's blob, not a copy);
// keep is false when the selection leaves nothing of it.
func (s *Store) sliceResource(ctx context.Context, o SliceOptions, m *Manifest, r Resource, sourceOfRaw map[string]string, coSources map[string]bool, dir string) (Resource, bool, error) {
	sel := o.Selection
	bySource := len(sel.Sources) > 0 && hasField(r, "source")
	byProvince := sel.Province != "" && slices.Contains(territorial, r.Name)
	if len(sel.Sources) > 0 && !hasField(r, "source") && slices.Contains(territorial, r.Name) &&
		!slices.ContainsFunc(sel.Sources, func(src string) bool { return coSources[src] }) {
		return Resource{}, false, nil // events and flows come from the CO sources, none of them selected
	}
	out := r
	out.Path, out.Parts, out.Bytes, out.Rows, out.Hash = nil, nil, 0, 0, ""
	multi := len(r.Parts) > 0
	// The events' parts are positional (row i of a part is a raw row): a province's rows keep their
	// position in the release's part. A flow table's years are not.
	positional := multi && r.Name == "labour_events"
	for _, f := range r.Files() {
		if multi && len(sel.Sources) > 0 && f.RawSHA256 != "" && !slices.Contains(sel.Sources, sourceOfRaw[f.RawSHA256]) {
			continue
		}
		part := f
		if !bySource && !byProvince {
			if err := s.copyBlob(ctx, m.FileKey(Prefix(o.Version), f.Path), f.Hash); err != nil {
				return out, false, err
			}
		} else {
			var err error
			if part, err = s.slicePart(ctx, o, m.FileKey(Prefix(o.Version), f.Path), f, bySource, byProvince, positional, dir); err != nil {
				return out, false, err
			}
		}
		out.Path = append(out.Path, part.Path)
		out.Bytes += part.Bytes
		out.Rows += part.Rows
		if multi {
			out.Parts = append(out.Parts, part)
		} else {
			out.Hash = part.Hash
		}
	}
	if positional && byProvince {
		out.Schema.Fields = append(slices.Clone(out.Schema.Fields), Field{Name: "part_row", Type: "integer",
			Description: "The row's 0-based position in the part of the same name in the release this slice comes from"})
	}
	return out, len(out.Path) > 0, nil
}

// slicePart filters one file of the release (stored at key) with DuckDB and stores the result as a blob.
func (s *Store) slicePart(ctx context.Context, o SliceOptions, key string, f Part, bySource, byProvince, positional bool, dir string) (Part, error) {
	flat := strings.ReplaceAll(f.Path, "/", "_") // a flow table's years share base names
	in := filepath.Join(dir, "in-"+flat)
	if err := s.B.GetFile(ctx, key, in); err != nil {
		return Part{}, err
	}
	defer os.Remove(in)
	spec := warehouse.SliceSpec{Input: in, Out: filepath.Join(dir, flat), PartRow: positional && byProvince}
	if bySource {
		spec.Sources = o.Selection.Sources
	}
	if byProvince {
		spec.Territory = o.Selection.Province
	}
	rows, err := o.DB.SliceParquet(ctx, spec)
	if err != nil {
		return Part{}, err
	}
	size, sum, err := hashFile(spec.Out)
	if err != nil {
		return Part{}, err
	}
	if err := s.putBlob(ctx, spec.Out, "sha256:"+sum); err != nil {
		return Part{}, err
	}
	return Part{Path: f.Path, Bytes: size, Hash: "sha256:" + sum, Rows: rows, RawSHA256: f.RawSHA256}, nil
}

func hasField(r Resource, name string) bool {
	return slices.ContainsFunc(r.Schema.Fields, func(f Field) bool { return f.Name == name })
}

// copyBlob stores the object at key as the blob of hash, unless it is there (it is, for a release
// published with blobs).
func (s *Store) copyBlob(ctx context.Context, key, hash string) error {
	blob := lake.BlobKey(hash)
	if key == blob {
		return nil
	}
	ok, err := s.B.Exists(ctx, blob)
	if err != nil || ok {
		return err
	}
	return s.B.CopyTo(ctx, key, s.B, blob)
}

// putBlob stores a local file as the blob of hash, unless it is there.
func (s *Store) putBlob(ctx context.Context, local, hash string) error {
	blob := lake.BlobKey(hash)
	ok, err := s.B.Exists(ctx, blob)
	if err != nil || ok {
		return err
	}
	return s.B.PutFile(ctx, blob, local, objectstore.PutOptions{ContentType: "application/vnd.apache.parquet"})
}

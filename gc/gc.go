// Package gc removes what nothing needs any more from the platform's bucket: release files no published
// release or slice names, harmonized snapshots and raw objects no dataset state and no release's inputs
// name, staged builds and download work files left behind, code lists no release recorded, and cached
// hashes of removed objects. It never touches a published manifest, a dataset state, an identity, a key,
// the ledgers or the audit and lineage logs: only the prefixes below are scanned.
//
// An object is removed only when it is unreferenced and older than the grace period, and older than the
// oldest running workflow (which may be about to reference what it wrote). A raw object no one references
// (a rejected download, kept for inspection, or a superseded export) is kept longer: KeepRaw.
package gc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// Scanned are the prefixes gc looks at; nothing outside them is ever removed.
var Scanned = []string{lake.BlobsPrefix, "harmonized/", "raw/", "staging/", "work/", "codelists/", "hashes/"}

// Options are the retention policy and the moment gc judges by.
type Options struct {
	Grace   time.Duration // an unreferenced object younger than this is kept (default 24h)
	KeepRaw time.Duration // an unreferenced raw object (and sidecar) younger than this is kept (default 30 days)
	Now     time.Time     // zero: time.Now()
	// OldestRunning is the start of the oldest running workflow (zero when none): anything written since
	// may belong to it and is kept.
	OldestRunning time.Time
	DryRun        bool
}

// Object is one object gc removed, or would remove.
type Object struct {
	Key      string    `json:"key"`
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
	Why      string    `json:"why"`
}

// Report is what a run found: the referenced objects, those kept for their age, and the removed ones.
type Report struct {
	DryRun       bool     `json:"dryRun"`
	Referenced   int      `json:"referenced"`
	ReferencedB  int64    `json:"referencedBytes"`
	KeptYoung    int      `json:"keptYoung"` // unreferenced, but within the grace period or after a running workflow began
	KeptYoungB   int64    `json:"keptYoungBytes"`
	Removed      []Object `json:"removed"`
	RemovedBytes int64    `json:"removedBytes"`
}

// Run finds the unreferenced objects and removes them (or only lists them, DryRun).
func Run(ctx context.Context, b *objectstore.Bucket, o Options) (*Report, error) {
	if o.Grace <= 0 {
		o.Grace = 24 * time.Hour
	}
	if o.KeepRaw <= 0 {
		o.KeepRaw = 30 * 24 * time.Hour
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	live, err := Referenced(ctx, b)
	if err != nil {
		return nil, err
	}
	rep := &Report{DryRun: o.DryRun, Removed: []Object{}}
	var all []objectstore.Info
	for _, p := range Scanned {
		infos, err := b.List(ctx, p, true)
		if err != nil {
			return nil, err
		}
		all = append(all, infos...)
	}
	exists := map[string]bool{}
	for _, in := range all {
		exists[in.Key] = true
	}
	for _, in := range all {
		why, ok := removable(in, live, exists, o)
		switch {
		case why == "":
			rep.Referenced++
			rep.ReferencedB += in.Size
		case !ok:
			rep.KeptYoung++
			rep.KeptYoungB += in.Size
		default:
			rep.Removed = append(rep.Removed, Object{Key: in.Key, Bytes: in.Size, Modified: in.LastModified, Why: why})
			rep.RemovedBytes += in.Size
		}
	}
	if o.DryRun {
		return rep, nil
	}
	for _, obj := range rep.Removed {
		if err := b.Remove(ctx, obj.Key); err != nil {
			return rep, fmt.Errorf("remove %s: %w", obj.Key, err)
		}
	}
	return rep, nil
}

// removable says why an object is unreferenced ("" when it is referenced) and whether it is old enough
// to go.
func removable(in objectstore.Info, live, exists map[string]bool, o Options) (string, bool) {
	key := in.Key
	var why string
	keep := o.Grace
	switch {
	case live[key]:
		return "", false
	case strings.HasPrefix(key, "hashes/"):
		target := strings.TrimSuffix(strings.TrimPrefix(key, "hashes/"), ".json")
		if exists[target] && live[target] || !scanned(target) {
			return "", false
		}
		why = "the cached hash of an object that is gone or unreferenced"
	case strings.HasPrefix(key, lake.BlobsPrefix):
		why = "a release file no published release or slice names"
	case strings.HasPrefix(key, "harmonized/") && strings.HasSuffix(key, ".rejected.json"):
		why, keep = "the report of a rejected harmonization (kept for inspection, as its raw object)", o.KeepRaw
	case strings.HasPrefix(key, "harmonized/"):
		why = "a snapshot no dataset state and no release's inputs name"
	case strings.HasPrefix(key, "raw/"):
		why, keep = "a raw object no dataset state and no release's inputs name (a rejected or superseded download)", o.KeepRaw
	case strings.HasPrefix(key, "staging/"):
		why = "a staged build never published, or left after publishing"
	case strings.HasPrefix(key, "work/"):
		why = "a download's work file left by an attempt that did not finish"
	case strings.HasPrefix(key, "codelists/"):
		why = "a code list no release recorded"
	default:
		return "", false
	}
	old := o.Now.Sub(in.LastModified) >= keep && (o.OldestRunning.IsZero() || in.LastModified.Before(o.OldestRunning))
	return why, old
}

func scanned(key string) bool {
	for _, p := range Scanned {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// Referenced returns every key a published release, a slice, a release's inputs or a dataset state
// names.
func Referenced(ctx context.Context, b *objectstore.Bucket) (map[string]bool, error) {
	live := map[string]bool{}
	rs := release.NewStore(b)
	versions, err := rs.Versions(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		m, err := rs.Get(ctx, v)
		if err != nil {
			return nil, err
		}
		addFiles(live, m, release.Prefix(v))
		in, err := rs.Inputs(ctx, v)
		if errors.Is(err, objectstore.ErrNotFound) {
			continue // made before releases recorded their inputs
		}
		if err != nil {
			return nil, fmt.Errorf("inputs of %s: %w", v, err)
		}
		for _, st := range in.States {
			addState(live, st)
		}
		for _, sum := range in.CodeLists {
			live[lake.CodeListKey(sum)] = true
		}
	}
	slices, err := b.List(ctx, "slices/", true)
	if err != nil {
		return nil, err
	}
	for _, in := range slices {
		if !strings.HasSuffix(in.Key, "/"+release.ManifestName) {
			continue
		}
		var m release.Manifest
		if err := b.GetJSON(ctx, in.Key, &m); err != nil {
			return nil, err
		}
		addFiles(live, &m, strings.TrimSuffix(in.Key, release.ManifestName))
	}
	states, err := lake.New(b).States(ctx)
	if err != nil {
		return nil, err
	}
	for _, st := range states {
		addState(live, st)
	}
	return live, nil
}

func addFiles(live map[string]bool, m *release.Manifest, prefix string) {
	for _, r := range m.Resources {
		for _, f := range r.Files() {
			live[m.FileKey(prefix, f.Path)] = true
		}
	}
}

func addState(live map[string]bool, st lake.State) {
	keys := []string{st.RawKey, st.SnapshotKey, st.ReportKey}
	if st.RawKey != "" {
		keys = append(keys, lake.SidecarKey(st.RawKey))
	}
	keys = append(keys, st.SnapshotParts...)
	for _, g := range st.Segments {
		keys = append(keys, g.RawKey, lake.SidecarKey(g.RawKey), g.FlowsPart, g.ReportKey)
		keys = append(keys, g.SnapshotParts...)
	}
	for _, c := range st.History {
		keys = append(keys, c.RawKey, lake.SidecarKey(c.RawKey), c.SnapshotKey, c.ReportKey)
	}
	parts := make([]string, 0, len(st.Parts))
	for _, k := range st.Parts {
		parts = append(parts, k)
	}
	sort.Strings(parts)
	for _, k := range append(keys, parts...) {
		if k != "" {
			live[k] = true
		}
	}
}

// Command daily measures what a day costs once history is in place: a CO dataset of N events is landed,
// harmonized, released and pulled by 13 observatories; then, day after day, 0.1% new rows land as a raw
// segment of their own, are harmonized alone, and a release is built, published and (on the first day)
// pulled again. It reports the bytes each day adds to the bucket against the new rows' own bytes, the
// harmonization time against a full one, the bytes each release and each pull moved, and the bucket after
// every day against history plus the deltas. Real MinIO, real DuckDB, the platform's activities (run by
// Temporal's activity test environment: no server). `make bench-daily` runs it.
//
// The delta's raw object is landed as the Fetch activity lands a segment (content-addressed, with its
// sidecar); the paging of a SODA download is measured by the integration tests, not here.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/bench/benchkit"
	"github.com/osservatorio-lombardia/osservatorio/cogen"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/lombardia"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/pull"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
	"github.com/osservatorio-lombardia/osservatorio/worker"
)

const (
	bucket  = "daily"
	source  = "lombardia"
	dataset = "attivati"
)

var refDate = time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)

var cpuProfile string

type bench struct {
	ctx  context.Context
	b    *objectstore.Bucket
	acts *activities.Activities
	env  *testsuite.TestActivityEnvironment
	work string
	refs []activities.RawRef
	n    int
}

// day is one day's figures.
type day struct {
	Day            int              `json:"day"`
	RawBytes       int64            `json:"rawBytes"`  // the segment
	PartBytes      int64            `json:"partBytes"` // its labour_events parts and labour_flows part
	ManifestBytes  int64            `json:"manifestBytes"`
	StoredBytes    int64            `json:"storedBytes"` // what the bucket grew by
	HarmonizeSecs  float64          `json:"harmonizeSeconds"`
	Harmonized     int64            `json:"harmonized"`
	ReleaseSecs    float64          `json:"releaseSeconds"`
	Copied         int              `json:"filesCopied"`
	CopiedBytes    int64            `json:"bytesCopied"`
	Kept           int              `json:"filesKept"`
	BucketBytes    int64            `json:"bucketBytes"`
	ByPrefix       map[string]int64 `json:"bucketByPrefix"`
	PulledBytes    int64            `json:"pulledBytes,omitempty"` // by all observatories
	PulledFiles    int              `json:"pulledFiles,omitempty"`
	ReusedFiles    int              `json:"reusedFiles,omitempty"`
	ReleaseVersion string           `json:"version"`
}

func main() {
	events := flag.Int("events", 1000000, "events of history")
	days := flag.Int("days", 30, "daily refreshes")
	observatories := flag.Int("observatories", 13, "observatories pulling each release (first day)")
	dir := flag.String("dir", "bench/out", "work folder (the history CSV is kept for later runs)")
	binDir := flag.String("bin", "bin", "folder with the minio binary")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the daily steps (not the history's) to this file")
	flag.Parse()
	cpuProfile = *profile
	if err := run(*events, *days, *observatories, *dir, *binDir); err != nil {
		fmt.Fprintln(os.Stderr, "daily:", err)
		os.Exit(1)
	}
}

func run(events, days, observatories int, dir, binDir string) error {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	work, err := os.MkdirTemp(dir, "daily-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	_, store, b, stop, err := benchkit.MinIO(ctx, binDir, filepath.Join(work, "minio"), bucket)
	if err != nil {
		return err
	}
	defer stop()
	acts := &activities.Activities{
		Store: store, Lake: lake.New(b), Releases: release.NewStore(b), WorkDir: filepath.Join(work, "worker"),
		DuckDB:     warehouse.Options{TempDir: filepath.Join(work, "worker"), MemoryLimit: worker.DuckDBMemoryLimit},
		SigningKey: filepath.Join(work, "signing.key"), ReleaseName: "bench",
		Sources: map[string]activities.Source{source: {
			Conn:     lombardia.New("http://127.0.0.1:1", nil, lombardia.Options{}),
			Datasets: []connectors.Dataset{{Source: source, ID: dataset, Code: "qbau-cyuc"}},
		}},
	}
	if err := os.MkdirAll(acts.WorkDir, 0o755); err != nil {
		return err
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(benchkit.Quiet{})
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	be := &bench{ctx: ctx, b: b, acts: acts, env: env, work: work}

	history := filepath.Join(dir, fmt.Sprintf("co-attivati-%d.csv", events))
	if _, err := os.Stat(history); err != nil {
		fmt.Fprintf(os.Stderr, "generating %d events of history into %s\n", events, history)
		if err := generate(history, cogen.Options{Events: events, Seed: 42}); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "history: landing and harmonizing %d events\n", events)
	full, err := be.refresh(history, 0)
	if err != nil {
		return err
	}
	if err := be.publish(&full); err != nil {
		return err
	}
	obs := make([]string, observatories)
	for i := range obs {
		obs[i] = filepath.Join(work, fmt.Sprintf("obs-%02d", i))
	}
	if err := be.pullAll(obs, &full); err != nil {
		return err
	}
	fmt.Printf("history: %d events, raw %s, harmonized in %.2f s; release %s stored %s in %d files; %d observatories pulled %s\n",
		full.Harmonized, mb(full.RawBytes), full.HarmonizeSecs, full.ReleaseVersion, mb(full.CopiedBytes), full.Copied, observatories, mb(full.PulledBytes))
	fmt.Printf("%4s %10s %10s %9s %10s %10s %7s %9s %12s %11s %12s\n", "day", "raw", "parts", "manifest", "stored", "ratio", "harm s", "% full", "release s", "copied", "bucket")
	var all []day
	var deltas int64
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	for d := 1; d <= days; d++ {
		csv := filepath.Join(work, fmt.Sprintf("delta-%02d.csv", d))
		if err := generate(csv, cogen.Options{Events: max(events/1000, 1), Seed: uint64(1000 + d),
			From: time.Date(2024, 12, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 12, 31, 0, 0, 0, 0, time.UTC)}); err != nil {
			return err
		}
		r, err := be.refresh(csv, d)
		if err != nil {
			return err
		}
		if err := be.publish(&r); err != nil {
			return err
		}
		if d == 1 {
			if err := be.pullAll(obs, &r); err != nil {
				return err
			}
		}
		r.StoredBytes = r.BucketBytes - prevBucket(all, full)
		deltas += r.RawBytes + r.PartBytes + r.ManifestBytes
		all = append(all, r)
		target := 3 * (r.RawBytes + r.PartBytes + r.ManifestBytes)
		fmt.Printf("%4d %10s %10s %9s %10s %9.2fx %7.2f %8.1f%% %12.2f %11s %12s\n", d, mb(r.RawBytes), mb(r.PartBytes), mb(r.ManifestBytes),
			mb(r.StoredBytes), float64(r.StoredBytes)/float64(target/3), r.HarmonizeSecs, 100*r.HarmonizeSecs/full.HarmonizeSecs,
			r.ReleaseSecs, mb(r.CopiedBytes), mb(r.BucketBytes))
		os.Remove(csv)
	}
	if len(all) > 0 {
		first, last := all[0], all[len(all)-1]
		fmt.Printf("\nday 1: stored %s for %s of new rows (raw %s + parts %s + manifests %s): %.2fx (target ≤ 3x)\n",
			mb(first.StoredBytes), mb(first.RawBytes+first.PartBytes+first.ManifestBytes), mb(first.RawBytes), mb(first.PartBytes),
			mb(first.ManifestBytes), float64(first.StoredBytes)/float64(first.RawBytes+first.PartBytes+first.ManifestBytes))
		fmt.Printf("day 1: harmonized %d rows in %.2f s, %.1f%% of the full harmonization (%.2f s; target ≤ 10%%)\n",
			first.Harmonized, first.HarmonizeSecs, 100*first.HarmonizeSecs/full.HarmonizeSecs, full.HarmonizeSecs)
		var grew []string
		for k, v := range first.ByPrefix {
			if g := v - full.ByPrefix[k]; g != 0 {
				grew = append(grew, fmt.Sprintf("%s/ %s", k, mb(g)))
			}
		}
		sort.Strings(grew)
		fmt.Printf("day 1: the bucket grew by prefix: %s\n", strings.Join(grew, ", "))
		fmt.Printf("day 1: release %s copied %d files (%s), kept %d; %d observatories pulled %d files (%s), reused %d\n",
			first.ReleaseVersion, first.Copied, mb(first.CopiedBytes), first.Kept, observatories, first.PulledFiles, mb(first.PulledBytes), first.ReusedFiles)
		base := full.BucketBytes
		fmt.Printf("after %d days: bucket %s; history %s + %d deltas and manifests %s = %s: %.3fx (target ≤ 1.2x)\n",
			len(all), mb(last.BucketBytes), mb(base), len(all), mb(deltas), mb(base+deltas), float64(last.BucketBytes)/float64(base+deltas))
	}
	data, _ := json.MarshalIndent(map[string]any{"events": events, "history": full, "days": all}, "", "  ")
	return os.WriteFile(filepath.Join(dir, fmt.Sprintf("daily-%d.json", events)), data, 0o644)
}

func prevBucket(all []day, full day) int64 {
	if len(all) == 0 {
		return full.BucketBytes
	}
	return all[len(all)-1].BucketBytes
}

// refresh lands csv as the dataset's next raw object (the whole history on day 0, a segment after), then
// harmonizes and accepts it as the Harmonize and Accept activities do in a refresh.
func (be *bench) refresh(csv string, d int) (day, error) {
	r := day{Day: d}
	sum, size, err := fileSHA256(csv)
	if err != nil {
		return r, err
	}
	key := lake.RawKey(source, dataset, sum, "csv")
	if err := be.b.PutFile(be.ctx, key, csv, objectstore.PutOptions{IfAbsent: true}); err != nil {
		return r, err
	}
	side := lake.Sidecar{Source: source, Dataset: dataset, URL: "bench://" + filepath.Base(csv), FetchedAt: refDate, Bytes: size, SHA256: sum}
	if n := len(be.refs); n > 0 {
		side.Follows = be.refs[n-1].Key
	}
	if err := be.b.PutJSON(be.ctx, lake.SidecarKey(key), side, objectstore.PutOptions{}); err != nil {
		return r, err
	}
	// The worker that fetched keeps the file for the harmonization (its raw cache).
	cache := filepath.Join(be.acts.WorkDir, "raw-cache")
	os.MkdirAll(cache, 0o755)
	if err := os.Link(csv, filepath.Join(cache, sum)); err != nil {
		return r, err
	}
	r.RawBytes = size
	fetch := activities.FetchResult{Changed: true, URL: side.URL, RawKey: key, SHA256: sum, Bytes: size, FetchedAt: refDate, Earlier: be.refs}
	start := time.Now()
	val, err := be.env.ExecuteActivity(be.acts.Harmonize, activities.HarmonizeInput{Source: source, Dataset: dataset,
		RawKey: key, SHA256: sum, FetchedAt: refDate, Earlier: be.refs})
	if err != nil {
		return r, err
	}
	var h activities.HarmonizeResult
	if err := val.Get(&h); err != nil {
		return r, err
	}
	r.HarmonizeSecs, r.Harmonized = time.Since(start).Seconds(), h.Harmonized
	if _, err := be.env.ExecuteActivity(be.acts.Accept, activities.AcceptInput{Source: source, Dataset: dataset, Fetch: fetch, Harmonize: h}); err != nil {
		return r, err
	}
	seg := h.Segments[len(h.Segments)-1]
	for _, k := range append(append([]string{}, seg.SnapshotParts...), seg.FlowsPart) {
		st, err := be.b.Stat(be.ctx, k)
		if err != nil {
			return r, err
		}
		r.PartBytes += st.Size
	}
	be.refs = append(be.refs, activities.RawRef{Key: key, SHA256: sum, Bytes: size, FetchedAt: refDate, URL: side.URL})
	return r, nil
}

// publish plans, builds and publishes the next release, as the release workflow does.
func (be *bench) publish(r *day) error {
	start := time.Now()
	val, err := be.env.ExecuteActivity(be.acts.PlanRelease)
	if err != nil {
		return err
	}
	var plan release.Plan
	if err := val.Get(&plan); err != nil {
		return err
	}
	be.n++
	id := fmt.Sprintf("bench-%03d", be.n)
	if val, err = be.env.ExecuteActivity(be.acts.BuildRelease, activities.BuildInput{ReleaseID: id, Plan: plan}); err != nil {
		return err
	}
	var built activities.BuildResult
	if err := val.Get(&built); err != nil {
		return err
	}
	moved, err := be.acts.Releases.Publish(be.ctx, id, built.Version)
	if err != nil {
		return err
	}
	if err := be.acts.Releases.Discard(be.ctx, id); err != nil { // as the PublishRelease activity does
		return err
	}
	r.ReleaseSecs = time.Since(start).Seconds()
	r.ReleaseVersion, r.Copied, r.CopiedBytes, r.Kept = built.Version, moved.Copied, moved.CopiedBytes, moved.Kept
	infos, err := be.b.List(be.ctx, release.Prefix(built.Version), true)
	if err != nil {
		return err
	}
	for _, in := range infos {
		r.ManifestBytes += in.Size
	}
	r.BucketBytes, r.ByPrefix, err = bucketBytes(be.ctx, be.b)
	return err
}

// pullAll has every observatory pull the latest release into its folder, as `osservatorio pull` does.
func (be *bench) pullAll(dirs []string, r *day) error {
	for i, dir := range dirs {
		res, err := pull.Pull(be.ctx, pull.Options{Bucket: be.b, Observatory: fmt.Sprintf("obs%02d", i), Dir: dir})
		if err != nil {
			return err
		}
		for _, p := range res {
			r.PulledBytes += p.Bytes
			r.PulledFiles += p.Downloaded
			r.ReusedFiles += p.Reused
		}
	}
	return nil
}

// bucketBytes is the size of the bucket, in all and by top-level prefix (the observatories' acks aside).
func bucketBytes(ctx context.Context, b *objectstore.Bucket) (int64, map[string]int64, error) {
	infos, err := b.List(ctx, "", true)
	var n int64
	by := map[string]int64{}
	for _, in := range infos {
		top, _, _ := strings.Cut(in.Key, "/")
		if top != "acks" {
			n += in.Size
			by[top] += in.Size
		}
	}
	return n, by, err
}

func generate(path string, o cogen.Options) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := cogen.Write(f, o); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func mb(n int64) string { return fmt.Sprintf("%.2f MB", float64(n)/1e6) }

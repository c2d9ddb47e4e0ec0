package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/openlineage"
)

// FetchInput names the dataset to fetch.
type FetchInput struct {
	Source  string
	Dataset string
	// Force skips the change check and conditional headers (a backfill or a manual re-fetch).
	Force bool
	// Nominal is when a scheduled refresh was due (zero for one started by hand).
	Nominal time.Time `json:",omitempty"`
}

// FetchResult says whether the dataset changed and, if so, where its raw bytes landed.
type FetchResult struct {
	Changed      bool
	Reason       string // why it is (un)changed, for the report
	URL          string
	Signal       string
	ETag         string
	LastModified string
	RawKey       string
	SHA256       string
	Bytes        int64
	FetchedAt    time.Time
	// Requests counts the HTTP requests made, change check included.
	Requests int
	// Cursor is where a paged or incremental download stopped, stored with the accepted state.
	Cursor *connectors.Cursor `json:",omitempty"`
	// WorkerQueue, when set, is the task queue of the worker holding the raw object in its cache.
	WorkerQueue string `json:",omitempty"`
	// Structure is what the source's structure message said (Istat's DSD: key order, territory
	// dimension), handed to the harmonization and kept with the state.
	Structure *connectors.Structure `json:",omitempty"`
	// Earlier are the accepted segments RawKey follows, when it holds only an incremental download's
	// new rows (nil: RawKey is the whole dataset).
	Earlier []RawRef `json:",omitempty"`
}

// Fetch asks the source whether the dataset changed (one small request) and, if it did, streams the body
// to a content-addressed raw object with its sidecar. A body that is not data (an HTML page, an error
// document, a truncated or oversized download) is kept under raw/ for inspection and reported as BadInput.
func (a *Activities) Fetch(ctx context.Context, in FetchInput) (FetchResult, error) {
	run := a.trace(ctx, "fetch."+in.Source+"."+in.Dataset, "", in.Nominal)
	res, err := a.fetch(ctx, in)
	if err == nil && !res.Changed {
		res, err = a.staleSnapshot(ctx, in, res)
	}
	err = fault.In(err, in.Source, in.Dataset)
	if run != nil {
		if res.URL != "" {
			run.Inputs(openlineage.Source(in.Source, res.URL))
		}
		var outputs []openlineage.Dataset
		if res.RawKey != "" {
			outputs = append(outputs, a.object(res.RawKey, res.SHA256, nil))
		}
		run.End(ctx, outputs, err)
	}
	return res, classify(err, res)
}

// staleSnapshot turns an unchanged dataset whose accepted snapshot was made by an older harmonizer, or
// under other settings of the dataset (filters, columns …), into a change: its accepted raw object is
// harmonized again (nothing is downloaded), so that an upgrade or a configuration change reaches the next
// release without waiting for the source to publish.
func (a *Activities) staleSnapshot(ctx context.Context, in FetchInput, res FetchResult) (FetchResult, error) {
	_, ds, err := a.dataset(in.Source, in.Dataset)
	if err != nil {
		return res, err
	}
	prev, ok, err := a.Lake.State(ctx, in.Source, in.Dataset)
	if err != nil || !ok || prev.RawSHA256 == "" || prev.SnapshotKey == lake.SnapshotKey(in.Source, in.Dataset, prev.Table, prev.RawSHA256, ds.Settings()) {
		return res, err
	}
	res.Changed = true
	res.Reason = fmt.Sprintf("unchanged at the source; snapshot %s was made by an older harmonizer or other dataset settings: harmonized again", prev.SnapshotKey)
	res.URL, res.RawKey, res.SHA256, res.Bytes, res.FetchedAt = prev.URL, prev.RawKey, prev.RawSHA256, prev.RawBytes, prev.FetchedAt
	res.Signal, res.ETag, res.LastModified, res.Cursor = prev.Signal, prev.ETag, prev.LastModified, prev.Cursor
	refs := segmentRefs(prev)
	res.Earlier = refs[:len(refs)-1]
	if len(res.Earlier) == 0 {
		res.Earlier = nil
	}
	if res.Structure == nil {
		res.Structure = prev.Structure
	}
	return res, nil
}

func (a *Activities) fetch(ctx context.Context, in FetchInput) (FetchResult, error) {
	log := activity.GetLogger(ctx)
	src, ds, err := a.dataset(in.Source, in.Dataset)
	if err != nil {
		return FetchResult{}, err
	}
	prev, hasPrev, err := a.Lake.State(ctx, in.Source, in.Dataset)
	if err != nil {
		return FetchResult{}, err
	}
	var res FetchResult
	// A rate-limited source may hold a request for a whole window: heartbeats go on meanwhile. (A paged
	// download's checkpoint does not ride on these: it is read back from the store.)
	stop := keepAlive(ctx, nil)
	sig, err := src.Conn.Check(ctx, ds)
	stop()
	if sig.URL != "" {
		res.Requests += max(sig.Requests, 1) // a connector without a cheap signal asks nothing here
	}
	switch {
	case err != nil && fault.Is(err, fault.SourceUnavailable):
		return res, err
	case err != nil:
		// No usable change signal: fall back to conditional GET and content hashing.
		log.Warn("change check failed; fetching to compare content", "source", in.Source, "dataset", in.Dataset, "error", err)
	default:
		res.Signal = sig.Token
	}
	// The structure the check read (Istat's DSD) builds the request and reads the data; without a fresh
	// one, the one kept with the state.
	ds.Structure, res.Structure = sig.Structure, sig.Structure
	if ds.Structure == nil && hasPrev {
		ds.Structure, res.Structure = prev.Structure, prev.Structure
	}
	if !in.Force && hasPrev && res.Signal != "" && res.Signal == prev.Signal {
		res.Reason = "change signal unchanged (" + res.Signal + ")"
		res.URL, res.RawKey, res.SHA256, res.Bytes, res.FetchedAt = prev.URL, prev.RawKey, prev.RawSHA256, prev.RawBytes, prev.FetchedAt
		return res, nil
	}
	if dl, ok := src.Conn.(connectors.Downloader); ok && dl.Downloads(ds) {
		return a.download(ctx, in, src, ds, dl, prev, hasPrev, res)
	}
	if res, err = a.getRaw(ctx, in, src, ds, prev, hasPrev, res); err != nil || !res.Changed {
		return res, err
	}
	res.Reason = "new data"
	if res.Signal != "" && hasPrev {
		res.Reason = fmt.Sprintf("new data (signal %s, was %s)", res.Signal, prev.Signal)
	}
	log.Info("fetched", "source", in.Source, "dataset", in.Dataset, "key", res.RawKey, "bytes", res.Bytes)
	return res, nil
}

// getRaw fetches a dataset's raw object with one request (conditional on the accepted state's ETag and
// Last-Modified unless forced) and settles it.
func (a *Activities) getRaw(ctx context.Context, in FetchInput, src Source, ds connectors.Dataset, prev lake.State, hasPrev bool, res FetchResult) (FetchResult, error) {
	defer keepAlive(ctx, nil)()
	req, err := src.Conn.DataRequest(ds)
	if err != nil {
		return res, err
	}
	res.URL = req.URL
	if !in.Force && hasPrev {
		req.ETag, req.LastModified = prev.ETag, prev.LastModified
	}
	client := a.HTTP
	if src.HTTP != nil {
		client = src.HTTP
	}
	resp, err := client.Get(ctx, req)
	res.Requests++
	if err != nil {
		return res, err
	}
	if resp.NotModified {
		res.Reason = "not modified (HTTP 304)"
		res.RawKey, res.SHA256, res.Bytes, res.FetchedAt = prev.RawKey, prev.RawSHA256, prev.RawBytes, prev.FetchedAt
		return res, a.keepSignal(ctx, prev, res.Signal, nil)
	}
	defer resp.Body.Close()
	res.FetchedAt = nowMillis()
	res.ETag, res.LastModified = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	spooled, spoolErr := httpfetch.Spool(ctx, resp.Body, httpfetch.ContentLength(resp.Header), a.WorkDir, src.MaxBytes,
		func(n int64) { activity.RecordHeartbeat(ctx, n) })
	if spooled.Path != "" {
		defer os.Remove(spooled.Path)
	}
	if spoolErr != nil && !errors.As(spoolErr, new(*fault.Error)) {
		return res, spoolErr // cancelled or a local disk failure: nothing worth keeping
	}
	rejected := spoolErr
	if rejected == nil {
		rejected = src.Conn.Inspect(ds, resp.Status, resp.Header, spooled.Head)
	}
	side := lake.Sidecar{URL: req.URL, Method: http.MethodGet, RequestHeaders: httpfetch.Redacted(req.Header), RequestBody: string(req.Body),
		Status: resp.Status, ResponseHeaders: resp.Header}
	if req.Body != nil {
		side.Method = http.MethodPost
	}
	if ds.Until != "" {
		side.Period = ds.Since + "/" + ds.Until
	}
	return a.settle(ctx, in, src, ds, spooled, side, rejected, prev, hasPrev, nil, res)
}

// settle ends a fetch once its body is spooled: the body lands under its content address with its sidecar
// (kept even when rejected, for inspection), then the fetch is a rejection, the accepted bytes again (the
// new change signal and cursor are kept), or new data (an export stays in this worker's raw cache for its
// harmonization). side carries the request and response; settle fills the rest.
func (a *Activities) settle(ctx context.Context, in FetchInput, src Source, ds connectors.Dataset, sp httpfetch.Spooled,
	side lake.Sidecar, rejected error, prev lake.State, hasPrev bool, cur *connectors.Cursor, res FetchResult) (FetchResult, error) {
	res.SHA256, res.Bytes = sp.SHA256, sp.Size
	res.RawKey = lake.RawKey(in.Source, in.Dataset, sp.SHA256, src.Conn.Extension(ds))
	side.Source, side.Dataset, side.FetchedAt, side.Bytes, side.SHA256, side.Signal = in.Source, in.Dataset, res.FetchedAt, sp.Size, sp.SHA256, res.Signal
	if rejected != nil {
		side.Rejected = rejected.Error()
	}
	if err := a.landRaw(ctx, res.RawKey, sp.Path, side); err != nil {
		return res, err
	}
	if rejected != nil {
		return res, keptFor(rejected, res.RawKey)
	}
	res.Cursor = cur
	if hasPrev && prev.RawSHA256 == sp.SHA256 && res.Earlier == nil {
		res.Reason = "same bytes as the accepted snapshot"
		res.FetchedAt = prev.FetchedAt
		return res, a.keepSignal(ctx, prev, res.Signal, cur)
	}
	res.Changed = true
	if _, events := src.Conn.(connectors.EventSource); events {
		res.WorkerQueue = a.cacheRaw(sp.Path, sp.SHA256)
	}
	return res, nil
}

// keepSignal records the change signal (and the download cursor) of a dataset whose data did not change,
// in its accepted state, so that the next check compares against them rather than fetching again (a
// source that republished the same data, a new watermark with no new row).
func (a *Activities) keepSignal(ctx context.Context, prev lake.State, signal string, cur *connectors.Cursor) error {
	if signal == "" || (signal == prev.Signal && cur == nil) {
		return nil
	}
	return a.Lake.UpdateState(ctx, prev.Source, prev.Dataset, func(st *lake.State, ok bool) error {
		if !ok || st.RawSHA256 != prev.RawSHA256 {
			return nil // accepted anew meanwhile: its own signal stands
		}
		st.Signal = signal
		if cur != nil {
			st.Cursor = cur
		}
		return nil
	})
}

// execution names the workflow execution an activity runs in ("" outside one).
func execution(ctx context.Context) (workflow, run string) {
	if !activity.IsActivity(ctx) {
		return "", ""
	}
	e := activity.GetInfo(ctx).WorkflowExecution
	return e.ID, e.RunID
}

// landRaw stores a spooled body under its content-addressed key with its sidecar. A key that exists already
// holds the same bytes: nothing is written.
func (a *Activities) landRaw(ctx context.Context, key, path string, side lake.Sidecar) error {
	side.Workflow, side.Run = execution(ctx)
	err := a.Lake.B.PutFile(ctx, key, path, objectstore.PutOptions{IfAbsent: true, ContentType: putOctets.ContentType})
	switch {
	case errors.Is(err, objectstore.ErrExists):
		return nil
	case err != nil:
		return err
	}
	return a.Lake.B.PutJSON(ctx, lake.SidecarKey(key), side, objectstore.PutOptions{})
}

// rawCacheTTL is how long a raw object waits in a worker's cache for its harmonization.
const rawCacheTTL = 24 * time.Hour

func (a *Activities) rawCacheDir() string { return filepath.Join(a.WorkDir, "raw-cache") }

// cacheRaw keeps a landed spool file on this worker, keyed by its sha256, for the harmonization that
// follows (CO exports run to gigabytes; reading them back from the object store costs the time of a
// download). Entries older than rawCacheTTL are removed. Best effort: a miss reads the object store.
// It returns this worker's task queue when the file is cached.
func (a *Activities) cacheRaw(path, sha string) string {
	dir := a.rawCacheDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ""
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > rawCacheTTL {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	if os.Rename(path, filepath.Join(dir, sha)) != nil {
		return ""
	}
	return a.WorkerQueue
}

// cachedRaw returns the cached copy of a raw object on this worker, or "".
func (a *Activities) cachedRaw(sha string) string {
	p := filepath.Join(a.rawCacheDir(), sha)
	if _, err := os.Stat(p); err != nil || sha == "" || strings.ContainsAny(sha, "/.") {
		return ""
	}
	return p
}

var putOctets = objectstore.PutOptions{ContentType: "application/octet-stream"}

func nowMillis() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync"

	"go.temporal.io/sdk/activity"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// checkpoint is what a download's heartbeat carries: enough for the next attempt of the same activity to
// rebuild the spool from the object store and ask the source only for what comes after.
type checkpoint struct {
	Cursor   connectors.Cursor
	Bases    []string              // accepted raw objects (segments) a window download starts with
	Drop     *connectors.RowFilter // the rows of Bases left out
	Pages    []string              // work objects holding the pages taken, in order
	Requests int                   // requests made by every attempt of this download
	FirstURL string                // the download's first request, whichever attempt made it
}

// sink is the connectors.Sink of one Fetch attempt: a local spool file hashed as it grows, each page also
// kept under work/ in the object store so that another worker can resume, and a heartbeat after every page.
type sink struct {
	a       *Activities
	ctx     context.Context
	f       *os.File
	h       hash.Hash
	n       int64
	head    []byte
	max     int64
	prefix  string
	cp      checkpoint
	resumed bool
	// accepted are the segments of the dataset's accepted raw data, in order: what AppendRaw copies.
	accepted []string

	mu        sync.Mutex
	committed checkpoint // the checkpoint of the last page stored, which heartbeats carry
}

// heartbeat is what the download's heartbeats say: the last page stored, never a page under way.
func (s *sink) heartbeat() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

func (s *sink) commit() {
	s.mu.Lock()
	s.committed = s.cp
	s.committed.Pages = append([]string(nil), s.cp.Pages...)
	s.mu.Unlock()
}

// newSink opens the spool and, when an earlier attempt of this activity left a checkpoint, rebuilds the
// bytes it had taken.
func (a *Activities) newSink(ctx context.Context, source, dataset string, maxBytes int64) (*sink, error) {
	f, err := os.CreateTemp(a.WorkDir, "download-*")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &sink{a: a, ctx: ctx, f: f, h: sha256.New(), max: maxBytes, prefix: "work/fetch/" + source + "/" + dataset + "/"}
	if s.max <= 0 {
		s.max = 1 << 40
	}
	if activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		s.prefix += info.WorkflowExecution.RunID + "-" + info.ActivityID + "/"
		var cp checkpoint
		if activity.HasHeartbeatDetails(ctx) {
			_ = activity.GetHeartbeatDetails(ctx, &cp)
		}
		// Heartbeats are throttled, so the last one may lag the pages stored: the store has the last word.
		if stored, ok := s.lastStored(ctx); ok && len(stored.Pages) > len(cp.Pages) {
			cp = stored
		}
		if cp.Cursor.Window != "" {
			if err := s.restore(ctx, cp); err != nil {
				activity.GetLogger(ctx).Warn("checkpoint unusable; downloading from the start", "error", err)
				s.reset()
			} else {
				s.cp, s.resumed = cp, true
				s.commit()
				activity.GetLogger(ctx).Info("resuming download", "source", source, "dataset", dataset,
					"pages", len(cp.Pages), "offset", cp.Cursor.Offset, "bytes", s.n)
			}
		}
	}
	return s, nil
}

// lastStored returns the checkpoint stored with the last page an earlier attempt of this activity kept.
func (s *sink) lastStored(ctx context.Context) (checkpoint, bool) {
	infos, err := s.a.Lake.B.List(ctx, s.prefix, true)
	if err != nil {
		return checkpoint{}, false
	}
	var last string
	for _, in := range infos {
		if strings.HasSuffix(in.Key, ".checkpoint.json") && in.Key > last {
			last = in.Key
		}
	}
	var cp checkpoint
	if last == "" || s.a.Lake.B.GetJSON(ctx, last, &cp) != nil {
		return checkpoint{}, false
	}
	return cp, true
}

func (s *sink) restore(ctx context.Context, cp checkpoint) error {
	if _, err := s.copyBase(ctx, cp.Bases, cp.Drop); err != nil {
		return err
	}
	for _, key := range cp.Pages {
		if _, err := s.copyObject(ctx, key, nil, true); err != nil {
			return err
		}
	}
	return nil
}

func (s *sink) reset() {
	s.f.Truncate(0)
	s.f.Seek(0, io.SeekStart)
	s.h.Reset()
	s.n, s.head = 0, nil
}

// copyBase appends raw segments to the spool as one CSV (the first one's header line only), through drop.
func (s *sink) copyBase(ctx context.Context, keys []string, drop *connectors.RowFilter) (int64, error) {
	var kept int64
	for i, key := range keys {
		n, err := s.copyObject(ctx, key, drop, i == 0)
		if err != nil {
			return kept, err
		}
		kept += n
	}
	return kept, nil
}

// copyObject appends an object to the spool; a CSV raw object goes through drop (rows counted), with its
// header line or without.
func (s *sink) copyObject(ctx context.Context, key string, drop *connectors.RowFilter, header bool) (int64, error) {
	r, err := s.a.Lake.B.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if !strings.HasPrefix(key, "raw/") {
		_, err = s.write(r, nil)
		return 0, err
	}
	pr, pw := io.Pipe()
	done := make(chan int64, 1)
	go func() {
		filter := connectors.FilterCSV
		if !header {
			filter = connectors.FilterCSVRows
		}
		kept, _, err := filter(pw, r, drop)
		pw.CloseWithError(err)
		done <- kept
	}()
	_, err = s.write(pr, nil)
	pr.CloseWithError(io.ErrClosedPipe) // stops the filter if the spool gave up first
	return <-done, err
}

// write appends r to the spool (and to also, when set), hashing, minding the size limit.
func (s *sink) write(r io.Reader, also io.Writer) (int64, error) {
	w := io.MultiWriter(s.f, s.h, headWriter{s})
	if also != nil {
		w = io.MultiWriter(w, also)
	}
	n, err := io.Copy(w, io.LimitReader(r, s.max-s.n+1))
	s.n += n
	if s.n > s.max {
		return n, fault.Errorf(fault.BadInput, "download larger than the limit of %d bytes: %w", s.max, httpfetch.ErrTooLarge)
	}
	return n, err
}

type headWriter struct{ s *sink }

func (h headWriter) Write(p []byte) (int, error) {
	if room := 4096 - len(h.s.head); room > 0 {
		h.s.head = append(h.s.head, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// Resumed implements connectors.Sink.
func (s *sink) Resumed() (connectors.Cursor, bool) { return s.cp.Cursor, s.resumed }

// AppendRaw implements connectors.Sink.
func (s *sink) AppendRaw(ctx context.Context, key string, drop *connectors.RowFilter) (int64, error) {
	keys := []string{key}
	if n := len(s.accepted); n > 0 && s.accepted[n-1] == key {
		keys = s.accepted
	}
	kept, err := s.copyBase(ctx, keys, drop)
	if err != nil {
		return 0, fmt.Errorf("base of the window download %s: %w", key, err)
	}
	s.cp.Bases, s.cp.Drop = keys, drop
	return kept, nil
}

// Page implements connectors.Sink.
func (s *sink) Page(ctx context.Context, body io.Reader, next func() connectors.Cursor) error {
	tmp, err := os.CreateTemp(s.a.WorkDir, "page-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if _, err := s.write(body, tmp); err != nil {
		if errors.As(err, new(*fault.Error)) || ctx.Err() != nil {
			return err
		}
		return fault.Errorf(fault.SourceUnavailable, "read page %d: %w", len(s.cp.Pages)+1, err)
	}
	cur := next()
	key := fmt.Sprintf("%spage-%06d", s.prefix, len(s.cp.Pages))
	if err := s.a.Lake.B.PutFile(ctx, key, tmp.Name(), putOctets); err != nil {
		return err
	}
	s.cp.Pages = append(s.cp.Pages, key)
	s.cp.Cursor = cur
	// The checkpoint goes beside its page (the next attempt resumes from the store, whatever the
	// heartbeats said), then into the heartbeat.
	if err := s.a.Lake.B.PutJSON(ctx, key+".checkpoint.json", s.cp, objectstore.PutOptions{}); err != nil {
		return err
	}
	s.commit()
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, s.heartbeat())
	}
	return nil
}

// Sent implements connectors.Sink.
func (s *sink) Sent(url string) {
	s.cp.Requests++
	if s.cp.FirstURL == "" {
		s.cp.FirstURL = url
	}
}

// done closes the spool and removes the work objects; the caller removes the spool file.
func (s *sink) done(ctx context.Context) {
	s.f.Close()
	if infos, err := s.a.Lake.B.List(ctx, s.prefix, true); err == nil {
		for _, in := range infos {
			_ = s.a.Lake.B.Remove(ctx, in.Key)
		}
	}
}

func (s *sink) spooled() httpfetch.Spooled {
	return httpfetch.Spooled{Path: s.f.Name(), Size: s.n, SHA256: hex.EncodeToString(s.h.Sum(nil)), Head: s.head}
}

// download is Fetch for a Downloader: the connector makes its requests through a sink, which spools,
// hashes and checkpoints; the result is inspected and landed like any other body.
func (a *Activities) download(ctx context.Context, in FetchInput, src Source, ds connectors.Dataset, dl connectors.Downloader,
	prev lake.State, hasPrev bool, res FetchResult) (FetchResult, error) {
	var from connectors.Cursor
	if !in.Force && hasPrev && prev.Cursor != nil {
		from = *prev.Cursor
		from.Base = prev.RawKey
	}
	s, err := a.newSink(ctx, in.Source, in.Dataset, src.MaxBytes)
	if err != nil {
		return res, err
	}
	var accepted []RawRef
	if hasPrev {
		accepted = segmentRefs(prev)
		for _, r := range accepted {
			s.accepted = append(s.accepted, r.Key)
		}
	}
	defer os.Remove(s.f.Name())
	// Heartbeats go on while a page streams or a base object is copied (minutes for gigabytes), carrying
	// the last page stored.
	stop := keepAlive(ctx, s.heartbeat)
	cur, err := dl.Download(ctx, ds, from, s)
	stop()
	res.Requests += s.cp.Requests
	res.URL = s.cp.FirstURL
	if err != nil && !errors.As(err, new(*fault.Error)) {
		return res, err // cancelled or a local failure: the checkpoint stays for the next attempt
	}
	if err != nil && fault.Is(err, fault.SourceUnavailable) {
		return res, err // retried by Temporal, from the last checkpoint
	}
	defer s.done(context.WithoutCancel(ctx))
	if err == nil && cur.Unchanged {
		res.Reason = "nothing new at the source (" + cur.Note + ")"
		res.URL, res.RawKey, res.SHA256, res.Bytes, res.FetchedAt = prev.URL, prev.RawKey, prev.RawSHA256, prev.RawBytes, prev.FetchedAt
		res.Cursor = prev.Cursor
		return res, a.keepSignal(ctx, prev, res.Signal, nil)
	}
	res.FetchedAt = nowMillis()
	sp := s.spooled()
	if err := s.f.Sync(); err != nil {
		return res, err
	}
	s.f.Close() // an export is moved into the raw cache by settle
	rejected := err
	if rejected == nil {
		rejected = src.Conn.Inspect(ds, 200, nil, sp.Head)
	}
	side := lake.Sidecar{URL: res.URL, Method: "GET", Status: 200, Requests: s.cp.Requests, Download: cur.Note}
	if ds.Until != "" {
		side.Period = ds.Since + "/" + ds.Until
	}
	if cur.Mode == "incremental" {
		// A segment of its own: the accepted ones stay, and this one follows them.
		res.Earlier = accepted
		side.Follows = prev.RawKey
	} else if hasPrev {
		side.Replaces = s.accepted
	}
	if n := len(s.cp.Bases); n > 0 {
		side.Base = s.cp.Bases[n-1]
	}
	if res, err = a.settle(ctx, in, src, ds, sp, side, rejected, prev, hasPrev, &cur, res); err != nil || !res.Changed {
		return res, err
	}
	res.Reason = "new data (" + cur.Note + ")"
	activity.GetLogger(ctx).Info("downloaded", "source", in.Source, "dataset", in.Dataset, "key", res.RawKey,
		"bytes", res.Bytes, "requests", res.Requests, "how", cur.Note)
	return res, nil
}

// keptFor turns a rejection into the BadInput the workflow reports, naming where the bytes were kept.
func keptFor(rejected error, rawKey string) error {
	if fault.Is(rejected, fault.Deferred) {
		return rejected
	}
	var fe *fault.Error
	if errors.As(rejected, &fe) {
		fe.Kind, fe.Err = fault.BadInput, fmt.Errorf("%w (raw bytes kept at %s)", fe.Err, rawKey)
		return fe
	}
	return fault.Errorf(fault.BadInput, "%w (raw bytes kept at %s)", rejected, rawKey)
}

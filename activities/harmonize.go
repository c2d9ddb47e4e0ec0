package activities

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/openlineage"
	"github.com/osservatorio-lombardia/osservatorio/quality"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// HarmonizeInput names the raw object to harmonize.
type HarmonizeInput struct {
	Source    string
	Dataset   string
	RawKey    string
	SHA256    string
	FetchedAt time.Time // events dated after it are flagged as in the future
	// Structure is the dataset's structure as the fetch read it (Istat's DSD), for the parser.
	Structure *connectors.Structure `json:",omitempty"`
	// Earlier are the accepted CO segments RawKey follows (FetchResult.Earlier).
	Earlier []RawRef `json:",omitempty"`
	// Period, for a range of history a backfill fetched, is that range: only its periods are kept.
	Period *Period `json:",omitempty"`
}

// HarmonizeResult is the snapshot written.
type HarmonizeResult struct {
	Table       string
	SnapshotKey string
	Rows        int64
	FirstPeriod string
	LastPeriod  string
	// Parts are further outputs of the same raw object, by table (labour_flows_part for CO events).
	Parts map[string]string `json:",omitempty"`
	// ReportKey is the harmonization report stored beside the snapshot (unmapped labels, flags).
	ReportKey string `json:",omitempty"`
	// EventParts are the labour_events files of the export, in order (SnapshotKey is the first), with
	// their rows: row i of part k is data row (rows of earlier parts) + i of the export. For a dataset in
	// segments, those of the last segment.
	EventParts []string `json:",omitempty"`
	PartRows   []int64  `json:",omitempty"`
	// Segments are the CO dataset's raw segments, in order, each with what its harmonization wrote; Rows
	// counts them all and Harmonized the rows harmonized by this activity (the others were in place).
	Segments   []lake.Segment `json:",omitempty"`
	Harmonized int64          `json:",omitempty"`
}

// RawRef names a raw object: an export, or a segment of a CO dataset.
type RawRef struct {
	Key       string
	SHA256    string
	Bytes     int64     `json:",omitempty"`
	FetchedAt time.Time // events dated after it are flagged as in the future
	URL       string    `json:",omitempty"`
}

// segmentRefs names the raw segments of a dataset's accepted state, in order.
func segmentRefs(st lake.State) []RawRef {
	var out []RawRef
	for _, s := range st.EventSegments() {
		out = append(out, RawRef{Key: s.RawKey, SHA256: s.RawSHA256, Bytes: s.RawBytes, FetchedAt: s.FetchedAt, URL: s.URL})
	}
	return out
}

// Harmonize turns one raw object into a deterministic Parquet snapshot of the common model. A snapshot of
// the same raw object by the same harmonizer version already in place is reused.
func (a *Activities) Harmonize(ctx context.Context, in HarmonizeInput) (HarmonizeResult, error) {
	defer keepAlive(ctx, nil)()
	sql, columns := harmonizeRule(in.Source)
	run := a.trace(ctx, "harmonize."+in.Source+"."+in.Dataset, sql, time.Time{}, a.object(in.RawKey, in.SHA256, nil))
	res, err := a.harmonize(ctx, in)
	err = fault.In(err, in.Source, in.Dataset)
	if err == nil {
		n := res.Rows
		if res.Segments != nil {
			n = res.Harmonized
		}
		metrics.Rows.WithLabelValues(in.Source, res.Table).Add(float64(n))
	}
	if run != nil {
		var outputs []openlineage.Dataset
		if res.SnapshotKey != "" {
			outputs = append(outputs, a.object(res.SnapshotKey, "", columns))
		}
		run.End(ctx, outputs, err)
	}
	return res, classify(err)
}

// harmonizeRule is the SQL and the schema of what a source's harmonization writes.
func harmonizeRule(source string) (string, []warehouse.Column) {
	if source == "lombardia" {
		return warehouse.SQL()["sql/labour_events.sql"], warehouse.LabourEventsColumns
	}
	return warehouse.SQL()["sql/observations.sql"], warehouse.ObservationColumns
}

const (
	metaRows        = "Rows"
	metaFirstPeriod = "First-Period"
	metaLastPeriod  = "Last-Period"
)

func (a *Activities) harmonize(ctx context.Context, in HarmonizeInput) (HarmonizeResult, error) {
	src, ds, err := a.dataset(in.Source, in.Dataset)
	if err != nil {
		return HarmonizeResult{}, err
	}
	ds.Structure = in.Structure
	if in.Period != nil {
		ds = chunkOf(ds, *in.Period)
	}
	if ev, ok := src.Conn.(connectors.EventSource); ok {
		return a.harmonizeEvents(ctx, in, ev, ds, src)
	}
	const table = "observations"
	res := HarmonizeResult{Table: table, SnapshotKey: lake.SnapshotKey(in.Source, in.Dataset, table, in.SHA256, ds.Settings())}
	res.ReportKey = lake.ReportKey(res.SnapshotKey)
	if st, err := a.Lake.B.Stat(ctx, res.SnapshotKey); err == nil {
		res.Rows, _ = strconv.ParseInt(st.Metadata[metaRows], 10, 64)
		res.FirstPeriod, res.LastPeriod = st.Metadata[metaFirstPeriod], st.Metadata[metaLastPeriod]
		return res, nil
	} else if !errors.Is(err, objectstore.ErrNotFound) {
		return res, err
	}
	dir, db, done, err := a.scratch(ctx)
	if err != nil {
		return res, err
	}
	defer done()
	rawPath := filepath.Join(dir, "raw")
	if err := a.Lake.B.GetFile(ctx, in.RawKey, rawPath); err != nil {
		return res, err
	}
	out := filepath.Join(dir, table+".parquet")
	stats, err := HarmonizeFile(ctx, db, src.Conn, ds, in.SHA256, rawPath, out)
	if err != nil {
		return res, err
	}
	res.Rows, res.FirstPeriod, res.LastPeriod = stats.Rows, stats.FirstPeriod, stats.LastPeriod
	activity.RecordHeartbeat(ctx, res.Rows)
	rep := ObservationsReport{Source: in.Source, Dataset: in.Dataset, RawKey: in.RawKey, RawSHA256: in.SHA256, Stats: stats}
	if err := a.Lake.B.PutJSON(ctx, res.ReportKey, rep, objectstore.PutOptions{}); err != nil {
		return res, err
	}
	// The snapshot goes last: its presence says the report is in place too.
	err = a.Lake.B.PutFile(ctx, res.SnapshotKey, out, objectstore.PutOptions{
		ContentType: "application/vnd.apache.parquet",
		Metadata: map[string]string{metaRows: strconv.FormatInt(res.Rows, 10),
			metaFirstPeriod: res.FirstPeriod, metaLastPeriod: res.LastPeriod},
	})
	return res, err
}

// harmonizeEvents harmonizes the segments of a CO dataset (the earlier ones, then in.RawKey): each into
// its own labour_events parts, labour_flows part and report. A segment harmonized before by this
// harmonizer under these settings is reused, so a daily increment costs what its new rows cost.
func (a *Activities) harmonizeEvents(ctx context.Context, in HarmonizeInput, ev connectors.EventSource, ds connectors.Dataset, src Source) (HarmonizeResult, error) {
	res := HarmonizeResult{Table: "labour_events"}
	refs := append(append([]RawRef(nil), in.Earlier...), RawRef{Key: in.RawKey, SHA256: in.SHA256, FetchedAt: in.FetchedAt})
	for _, ref := range refs {
		rep, fresh, err := a.harmonizeSegment(ctx, in.Source, in.Dataset, ref, ev, ds, src)
		if err != nil {
			return res, err
		}
		if fresh {
			res.Harmonized += rep.Events
		}
		seg := lake.Segment{RawKey: ref.Key, RawSHA256: ref.SHA256, RawBytes: ref.Bytes, FetchedAt: ref.FetchedAt, URL: ref.URL,
			Rows: rep.Events, SnapshotParts: rep.EventParts, PartRows: rep.PartRows,
			FlowsPart: flowsPartKey(in.Source, in.Dataset, ref.SHA256, ds), ReportKey: eventsReportKey(in.Source, in.Dataset, ref.SHA256, ds)}
		res.Segments = append(res.Segments, seg)
		res.Rows += rep.Events
		if res.FirstPeriod == "" || (rep.FirstMonth != "" && rep.FirstMonth < res.FirstPeriod) {
			res.FirstPeriod = rep.FirstMonth
		}
		res.LastPeriod = max(res.LastPeriod, rep.LastMonth)
	}
	last := res.Segments[len(res.Segments)-1]
	res.SnapshotKey = lake.SnapshotKey(in.Source, in.Dataset, "labour_events", in.SHA256, ds.Settings())
	res.Parts = map[string]string{"labour_flows_part": last.FlowsPart}
	res.ReportKey, res.EventParts, res.PartRows = last.ReportKey, last.SnapshotParts, last.PartRows
	return res, nil
}

func flowsPartKey(source, dataset, sha string, ds connectors.Dataset) string {
	return lake.SnapshotKey(source, dataset, "labour_flows_part", sha, ds.Settings())
}

func eventsReportKey(source, dataset, sha string, ds connectors.Dataset) string {
	return lake.ReportKey(lake.SnapshotKey(source, dataset, "labour_events", sha, ds.Settings()))
}

// harmonizeSegment turns one raw CO object (an export, a base or an increment) into its labour_events
// parts, its labour_flows part and a report of unmapped labels and flagged rows, which it returns; fresh
// is false when the report was in place (harmonized before by this harmonizer under these settings).
func (a *Activities) harmonizeSegment(ctx context.Context, source, dataset string, in RawRef, ev connectors.EventSource,
	ds connectors.Dataset, src Source) (rep EventsReport, fresh bool, err error) {
	snapshotKey := lake.SnapshotKey(source, dataset, "labour_events", in.SHA256, ds.Settings())
	reportKey := lake.ReportKey(snapshotKey)
	if err := a.Lake.B.GetJSON(ctx, reportKey, &rep); err == nil {
		return rep, false, nil
	} else if !errors.Is(err, objectstore.ErrNotFound) {
		return rep, false, err
	}
	dir, db, done, err := a.scratch(ctx)
	if err != nil {
		return rep, false, err
	}
	defer done()
	flows, eventsOut := filepath.Join(dir, "flows.parquet"), filepath.Join(dir, "events.parquet")
	req := warehouse.CORequest{EventType: ev.EventType(ds), RawSHA256: in.SHA256, RefDate: in.FetchedAt, SchemaDrift: src.SchemaDrift,
		FlowsOut: flows, EventsOut: eventsOut}
	st, step, read, err := a.harmonizeRaw(ctx, db, dir, in, req)
	if err != nil {
		return rep, false, err
	}
	activity.RecordHeartbeat(ctx, st.Events)
	events := "'" + strings.ReplaceAll(eventsOut, "'", "''") + "'"
	checks, err := quality.Checks()
	if err != nil {
		return rep, false, err
	}
	var qr quality.Report
	lap := time.Now()
	qr.Add(quality.Run(ctx, db.SQL(), nil, "labour_events", "read_parquet("+events+")", checks["labour_events"], nil)...)
	countFailed(qr.Results)
	st.Timings["checks"] = time.Since(lap)
	rep = EventsReport{Source: source, Dataset: dataset, RawKey: in.Key, RawSHA256: in.SHA256, COStats: st, Checks: qr.Results}
	if blocking := qr.Blocking(); len(blocking) > 0 {
		// Kept for inspection beside where the snapshot would have gone; the dataset is not accepted.
		_ = a.Lake.B.PutJSON(ctx, strings.TrimSuffix(reportKey, ".json")+".rejected.json", rep, objectstore.PutOptions{})
		return rep, false, fault.Errorf(fault.QualityGateFailed, "labour_events: %s", strings.Join(blocking, "; "))
	}
	lap = time.Now()
	if err := a.Lake.B.PutFile(ctx, snapshotKey, eventsOut, objectstore.PutOptions{ContentType: "application/vnd.apache.parquet"}); err != nil {
		return rep, false, err
	}
	rep.EventParts = []string{snapshotKey}
	if err := a.Lake.B.PutFile(ctx, flowsPartKey(source, dataset, in.SHA256, ds), flows, objectstore.PutOptions{ContentType: "application/vnd.apache.parquet"}); err != nil {
		return rep, false, err
	}
	st.Timings["upload"] = time.Since(lap)
	st.Timings[step] = read
	rep.COStats, rep.PartRows = st, []int64{st.Events}
	// The report goes last: its presence says the snapshot and its part are complete.
	return rep, true, a.Lake.B.PutJSON(ctx, reportKey, rep, objectstore.PutOptions{})
}

// harmonizeRaw runs the CO harmonization of one raw object in one pass of DuckDB, as a bare script
// would, over the copy the fetch left in this worker's raw cache; on a worker without it, over the object
// streamed from the store through a named pipe as it downloads (where pipes exist; else downloaded to a
// file first). It returns the stats, how the export was read and how long that took (the whole pass for
// a stream, the copy or download otherwise).
func (a *Activities) harmonizeRaw(ctx context.Context, db *warehouse.DB, dir string, in RawRef, req warehouse.CORequest) (st warehouse.COStats, step string, took time.Duration, err error) {
	start := time.Now()
	if raw := a.cachedRaw(in.SHA256); raw != "" {
		req.CSVPath = raw
		st, err = db.HarmonizeCO(ctx, req)
		// Done with the cached copy once harmonized, or once it is known it never will be.
		if err == nil || fault.Is(err, fault.BadInput) || fault.Is(err, fault.QualityGateFailed) {
			os.Remove(raw)
		}
		return st, "read_cache", time.Since(start), err
	}
	if !streamsRaw {
		req.CSVPath = filepath.Join(dir, "raw.csv")
		if err := a.Lake.B.GetFile(ctx, in.Key, req.CSVPath); err != nil {
			return st, "download", 0, err
		}
		took = time.Since(start)
		st, err = db.HarmonizeCO(ctx, req)
		return st, "download", took, err
	}
	head, err := a.Lake.B.GetHead(ctx, in.Key, 64<<10)
	if err != nil {
		return st, "stream", 0, err
	}
	if req.Header, err = warehouse.ParseCOHeader(bytes.NewReader(head)); err != nil {
		return st, "stream", 0, err
	}
	var streams []*rawStream
	open := func() (string, error) {
		rs, err := a.streamRaw(ctx, dir, fmt.Sprintf("raw-%d.csv", len(streams)), in.Key, in.SHA256)
		if err != nil {
			return "", err
		}
		streams = append(streams, rs)
		return rs.path, nil
	}
	if req.CSVPath, err = open(); err != nil {
		return st, "stream", 0, err
	}
	req.Again = open // a second pass (labels found under another spelling) streams the object again
	st, err = db.HarmonizeCO(ctx, req)
	for _, rs := range streams {
		// A download cut short ends DuckDB's file early: whatever DuckDB made of it (a short table, a
		// last line that does not parse), the download's error is the one (retried), not bad input.
		if serr := rs.finish(); serr != nil {
			err = fmt.Errorf("raw object %s: %w", in.Key, serr)
		}
	}
	return st, "stream", time.Since(start), err
}

// ObservationsReport is what harmonizing one statistical raw object found: rows, periods, and the source
// codes no code list has (kept verbatim and flagged in the rows' unmapped column).
type ObservationsReport struct {
	Source    string `json:"source"`
	Dataset   string `json:"dataset"`
	RawKey    string `json:"rawKey"`
	RawSHA256 string `json:"rawSha256"`
	warehouse.Stats
}

// EventsReport is what harmonizing one CO export found: counts, unmapped labels, flagged rows, timings.
type EventsReport struct {
	Source    string `json:"source"`
	Dataset   string `json:"dataset"`
	RawKey    string `json:"rawKey"`
	RawSHA256 string `json:"rawSha256"`
	warehouse.COStats
	Checks     []quality.Result `json:"checks"`
	EventParts []string         `json:"eventParts"`
	PartRows   []int64          `json:"partRows"`
}

// scratch returns a fresh work folder and DuckDB for one harmonization, and what removes both.
func (a *Activities) scratch(ctx context.Context) (string, *warehouse.DB, func(), error) {
	dir, err := os.MkdirTemp(a.WorkDir, "harmonize-*")
	if err != nil {
		return "", nil, nil, err
	}
	db, err := warehouse.Open(ctx, a.DuckDB)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, err
	}
	return dir, db, func() { db.Close(); os.RemoveAll(dir) }, nil
}

// HarmonizeFile parses the raw file at rawPath with conn and writes the observations snapshot to out. It
// is the whole harmonization of one raw object, shared by the activity, the tests and the benchmarks.
func HarmonizeFile(ctx context.Context, db *warehouse.DB, conn connectors.Source, ds connectors.Dataset, sha256, rawPath, out string) (warehouse.Stats, error) {
	f, err := os.Open(rawPath)
	if err != nil {
		return warehouse.Stats{}, err
	}
	defer f.Close()
	snap := warehouse.Snapshot{Source: conn.Name(), Dataset: ds.ID, RawSHA256: sha256, Unit: ds.Unit, UnitMult: ds.UnitMult}
	stats, err := db.HarmonizeObservations(ctx, snap, func(emit func(connectors.Observation) error) error {
		return conn.Parse(ctx, ds, f, emit)
	}, out)
	if err != nil {
		return stats, err
	}
	if stats.Rows == 0 && ds.Until == "" { // a range of history may hold nothing: the source starts later
		return stats, fault.Errorf(fault.BadInput, "no observations in the raw object")
	}
	return stats, nil
}

// AcceptInput is a fetched and harmonized dataset to make the current one.
type AcceptInput struct {
	Source    string
	Dataset   string
	Fetch     FetchResult
	Harmonize HarmonizeResult
}

// Accept records a harmonized snapshot as the dataset's current state, the one the next release publishes.
func (a *Activities) Accept(ctx context.Context, in AcceptInput) error {
	next := lake.State{
		Source: in.Source, Dataset: in.Dataset, Signal: in.Fetch.Signal, ETag: in.Fetch.ETag,
		LastModified: in.Fetch.LastModified, URL: in.Fetch.URL, RawKey: in.Fetch.RawKey, RawSHA256: in.Fetch.SHA256,
		RawBytes: in.Fetch.Bytes, FetchedAt: in.Fetch.FetchedAt, Table: in.Harmonize.Table,
		SnapshotKey: in.Harmonize.SnapshotKey, Rows: in.Harmonize.Rows, FirstPeriod: in.Harmonize.FirstPeriod,
		LastPeriod: in.Harmonize.LastPeriod, AcceptedAt: time.Now().UTC(),
	}
	if next.SnapshotKey == "" || next.RawKey == "" {
		return classify(fault.Errorf(fault.BadInput, "accept %s/%s: no snapshot", in.Source, in.Dataset))
	}
	st := &next
	st.Parts, st.ReportKey = in.Harmonize.Parts, in.Harmonize.ReportKey
	st.SnapshotParts, st.PartRows = in.Harmonize.EventParts, in.Harmonize.PartRows
	st.Segments = in.Harmonize.Segments
	if n := len(st.Segments); n > 0 {
		// The last segment is this fetch's raw object; the earlier ones keep what their fetches recorded.
		last := &st.Segments[n-1]
		last.RawBytes, last.FetchedAt, last.URL = st.RawBytes, st.FetchedAt, st.URL
	}
	st.Cursor, st.Structure = in.Fetch.Cursor, in.Fetch.Structure
	st.Workflow, st.Run = execution(ctx)
	err := a.Lake.UpdateState(ctx, in.Source, in.Dataset, func(cur *lake.State, _ bool) error {
		next.History = cur.History // a backfill's chunks stay with the dataset
		*cur = next
		return nil
	})
	if err != nil {
		return fmt.Errorf("accept %s/%s: %w", in.Source, in.Dataset, err)
	}
	return nil
}

// countFailed counts the failed quality checks by severity.
func countFailed(results []quality.Result) {
	for _, r := range results {
		if !r.Passed {
			metrics.QualityFailed.WithLabelValues(r.Severity).Inc()
		}
	}
}

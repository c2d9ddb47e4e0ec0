// Package lake knows where everything lives in the platform's bucket and what each record holds: immutable
// raw objects with their sidecars, harmonized snapshots, and the accepted state of every dataset.
//
//	raw/<source>/<dataset>/<sha256>.<ext>            the bytes as fetched, content-addressed, never rewritten
//	                                                 (an incremental CO download lands only its new rows: a
//	                                                 segment, see State.Segments)
//	raw/<source>/<dataset>/<sha256>.<ext>.meta.json  sidecar: URL, request, status, headers, time, bytes, sha256
//	harmonized/<source>/<dataset>/<table>-<sha256[:16]>-<settings>-h<N>.parquet  deterministic snapshot of one
//	                                                 raw object under the dataset's settings, by harmonizer N
//	harmonized/<source>/<dataset>/<table>-…-h<N>.report.json  what its harmonization found
//	state/<source>/<dataset>.json                    the last accepted snapshot and change signal, and the
//	                                                 history a backfill added (State.History)
//	releases/<version>/…                             published releases (see package release)
//	deliveries/<version>/<observatory>.json          the delivery ledger
//	identities/tokens/<id>.json                      API tokens: role, name, sha256 of the secret (package identity)
//	identities/observatories/<id>.json               an observatory's storage identity: access key, times (no secret)
//	keys/<key id>.json                               public keys that verify release signatures, with validity
//	slices/<observatory>/<version>/…                 an observatory's signed slice of a release (package release)
//	subscriptions/<observatory>.json                 what it subscribes to, when set with the CLI or the API
//	endpoints/<observatory>.json                     its webhook's state (disabled after repeated failure)
//	acks/<observatory>/<version>.json                an observatory's acknowledgement of a release it pulled
package lake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// HarmonizerVersion is bumped whenever harmonization changes its output for the same input, so that new
// snapshots get new keys.
// Version 2: the common model's code lists, unit_mult, indicator ids, school years (observations); the
// region and sex totals in the labour flows.
const HarmonizerVersion = 2

// RawKey is the key of a raw object.
func RawKey(source, dataset, sha256, ext string) string {
	return fmt.Sprintf("raw/%s/%s/%s.%s", source, dataset, sha256, ext)
}

// SidecarKey is the key of a raw object's sidecar.
func SidecarKey(rawKey string) string { return rawKey + ".meta.json" }

// SnapshotKey is the key of the harmonized snapshot of table built from one raw object with the dataset's
// settings (connectors.Dataset.Settings): a new harmonizer or a configuration change makes a new key.
func SnapshotKey(source, dataset, table, rawSHA256, settings string) string {
	return fmt.Sprintf("harmonized/%s/%s/%s-%s-%s-h%d.parquet", source, dataset, table, rawSHA256[:16], settings, HarmonizerVersion)
}

// ReportKey is the key of the harmonization report beside a snapshot.
func ReportKey(snapshotKey string) string {
	return strings.TrimSuffix(snapshotKey, ".parquet") + ".report.json"
}

// TokensPrefix is where API tokens are kept.
const TokensPrefix = "identities/tokens/"

// TokenKey is the key of the API token with the given public id.
func TokenKey(id string) string { return TokensPrefix + id + ".json" }

// KeysPrefix holds the public keys of release signatures.
const KeysPrefix = "keys/"

// PublicKeyKey is the key of a published public key.
func PublicKeyKey(id string) string { return KeysPrefix + id + ".json" }

// ObservatoryIdentityKey is the key of an observatory's storage identity record.
func ObservatoryIdentityKey(id string) string { return "identities/observatories/" + id + ".json" }

// AcksPrefix holds the acknowledgements an observatory writes with its own key.
func AcksPrefix(observatory string) string { return "acks/" + observatory + "/" }

// AckKey is the key of an observatory's acknowledgement of a release.
func AckKey(observatory, version string) string { return AcksPrefix(observatory) + version + ".json" }

// SlicePrefix holds an observatory's slice of a release (the tables, sources or province it subscribes to).
func SlicePrefix(observatory, version string) string {
	return "slices/" + observatory + "/" + version + "/"
}

// SubscriptionKey is the key of an observatory's subscription set with the CLI or the API.
func SubscriptionKey(observatory string) string { return "subscriptions/" + observatory + ".json" }

// EndpointKey is the key of the state of an observatory's webhook endpoint.
func EndpointKey(observatory string) string { return "endpoints/" + observatory + ".json" }

// BlobsPrefix holds the files of every release and slice once each, by content.
const BlobsPrefix = "blobs/"

// BlobKey is the key of a release file by its hash ("sha256:<hex>"): a table unchanged between releases,
// or shared by a release and a slice, is stored once.
func BlobKey(hash string) string { return BlobsPrefix + strings.Replace(hash, ":", "/", 1) }

// HashKey is the key of the cached sha256 of an immutable object (with the ETag it was computed for).
func HashKey(key string) string { return "hashes/" + key + ".json" }

// CodeListKey is the key of one code list file stored by its sha256 (the files a release was built with,
// read back to rebuild it).
func CodeListKey(sha256 string) string { return "codelists/" + sha256 + ".csv" }

// HealthKey is the key of a dataset's check record (package health).
func HealthKey(source, dataset string) string {
	return fmt.Sprintf("health/%s/%s.json", source, dataset)
}

// StateKey is the key of a dataset's state record.
func StateKey(source, dataset string) string { return fmt.Sprintf("state/%s/%s.json", source, dataset) }

// Sidecar records how a raw object was fetched.
type Sidecar struct {
	Source         string      `json:"source"`
	Dataset        string      `json:"dataset"`
	URL            string      `json:"url"`
	Method         string      `json:"method"`
	RequestHeaders http.Header `json:"requestHeaders,omitempty"`
	// RequestBody is the query sent by POST (INPS), so the request can be replayed.
	RequestBody     string      `json:"requestBody,omitempty"`
	Status          int         `json:"status"`
	ResponseHeaders http.Header `json:"responseHeaders"`
	FetchedAt       time.Time   `json:"fetchedAt"`
	Bytes           int64       `json:"bytes"`
	SHA256          string      `json:"sha256"`
	Signal          string      `json:"signal,omitempty"`
	// Rejected says why the bytes were not accepted as data; they are kept for inspection.
	Rejected string `json:"rejected,omitempty"`
	// A raw object made of several requests (pages, months) says how many, how it was taken and, for an
	// incremental download, the earlier raw object it starts with; URL is then its first request.
	Requests int    `json:"requests,omitempty"`
	Download string `json:"download,omitempty"`
	Base     string `json:"base,omitempty"`
	// Follows is the segment an incremental download's new rows come after (this object holds only
	// them); Replaces are the segments a full or window download makes a new base of.
	Follows  string   `json:"follows,omitempty"`
	Replaces []string `json:"replaces,omitempty"`
	// Period is the range a backfill asked for ("2018/2020"): the object holds that part of the history.
	Period string `json:"period,omitempty"`
	// Workflow and Run are the Temporal workflow execution that fetched the bytes.
	Workflow string `json:"workflow,omitempty"`
	Run      string `json:"run,omitempty"`
}

// State is a dataset's accepted state: the snapshot the next release publishes.
type State struct {
	Source       string    `json:"source"`
	Dataset      string    `json:"dataset"`
	Signal       string    `json:"signal,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"lastModified,omitempty"`
	URL          string    `json:"url"`
	RawKey       string    `json:"rawKey"`
	RawSHA256    string    `json:"rawSha256"`
	RawBytes     int64     `json:"rawBytes"`
	FetchedAt    time.Time `json:"fetchedAt"`
	Table        string    `json:"table"`
	SnapshotKey  string    `json:"snapshotKey"`
	Rows         int64     `json:"rows"`
	FirstPeriod  string    `json:"firstPeriod,omitempty"`
	LastPeriod   string    `json:"lastPeriod,omitempty"`
	AcceptedAt   time.Time `json:"acceptedAt"`
	// Workflow and Run are the Temporal workflow execution (a refresh) that harmonized and accepted it.
	Workflow string `json:"workflow,omitempty"`
	Run      string `json:"run,omitempty"`
	// Parts are further outputs of the same raw object, by table (labour_flows_part for CO events).
	Parts map[string]string `json:"parts,omitempty"`
	// ReportKey is the harmonization report beside the snapshot.
	ReportKey string `json:"reportKey,omitempty"`
	// SnapshotParts are the files of a snapshot written in parts (CO events, in the export's order), with
	// their rows; empty when SnapshotKey is the whole snapshot.
	SnapshotParts []string `json:"snapshotParts,omitempty"`
	PartRows      []int64  `json:"partRows,omitempty"`
	// Cursor is where the last download of a paged or incremental source stopped.
	Cursor *connectors.Cursor `json:"cursor,omitempty"`
	// Structure is the dataset's structure as the last fetch read it (Istat's DSD).
	Structure *connectors.Structure `json:"structure,omitempty"`
	// Segments are the raw objects of an append-only dataset (CO events), in order: a base (a full or a
	// window download) and the increments downloaded since, each harmonized on its own. The fields above
	// describe the last segment, except Rows, the rows of all of them. Empty: the dataset is RawKey alone.
	Segments []Segment `json:"segments,omitempty"`
	// History holds the period ranges a backfill fetched, each its own raw object and snapshot, ordered by
	// period. A release publishes the snapshot above and, of these, the observations it does not hold
	// (the latest fetch wins for the same observation; among chunks, the later one).
	History []Chunk `json:"history,omitempty"`
}

// Chunk is one period range of a dataset's history, fetched by a backfill.
type Chunk struct {
	From        string    `json:"from"` // first period asked for (the dataset's Since for this fetch)
	To          string    `json:"to"`   // last period asked for
	Settings    string    `json:"settings"`
	RawKey      string    `json:"rawKey"`
	RawSHA256   string    `json:"rawSha256"`
	RawBytes    int64     `json:"rawBytes"`
	URL         string    `json:"url"`
	FetchedAt   time.Time `json:"fetchedAt"`
	SnapshotKey string    `json:"snapshotKey,omitempty"` // empty when the source had nothing in the range
	ReportKey   string    `json:"reportKey,omitempty"`
	Rows        int64     `json:"rows"`
	FirstPeriod string    `json:"firstPeriod,omitempty"`
	LastPeriod  string    `json:"lastPeriod,omitempty"`
	AcceptedAt  time.Time `json:"acceptedAt"`
	Workflow    string    `json:"workflow,omitempty"` // the backfill that fetched it
	Run         string    `json:"run,omitempty"`
}

// Covers says whether the history holds the range from–to as fetched under settings and harmonized by
// this harmonizer (a range made under other settings, or by an older harmonizer, is to be made again).
func (st State) Covers(from, to, settings string) bool {
	for _, c := range st.History {
		if c.From == from && c.To == to && c.Settings == settings &&
			(c.SnapshotKey == "" || c.SnapshotKey == SnapshotKey(st.Source, st.Dataset, "observations", c.RawSHA256, settings)) {
			return true
		}
	}
	return false
}

// AddHistory puts chunks into the state's history, each replacing a chunk of the same range, ordered by
// period; it returns how many changed the history (a chunk fetched again with the same bytes does not).
func (st *State) AddHistory(chunks ...Chunk) int {
	changed := 0
	for _, c := range chunks {
		i := slices.IndexFunc(st.History, func(h Chunk) bool { return h.From == c.From && h.To == c.To })
		switch {
		case i < 0:
			st.History = append(st.History, c)
		case st.History[i].RawSHA256 == c.RawSHA256 && st.History[i].SnapshotKey == c.SnapshotKey:
			continue
		default:
			st.History[i] = c
		}
		changed++
	}
	slices.SortStableFunc(st.History, func(a, b Chunk) int { return strings.Compare(a.From+"|"+a.To, b.From+"|"+b.To) })
	return changed
}

// Segment is one raw object of an append-only dataset and what its harmonization wrote.
type Segment struct {
	RawKey        string    `json:"rawKey"`
	RawSHA256     string    `json:"rawSha256"`
	RawBytes      int64     `json:"rawBytes"`
	FetchedAt     time.Time `json:"fetchedAt"`
	URL           string    `json:"url,omitempty"`
	Rows          int64     `json:"rows"`
	SnapshotParts []string  `json:"snapshotParts"` // labour_events files, in the raw object's order
	PartRows      []int64   `json:"partRows"`
	FlowsPart     string    `json:"flowsPart,omitempty"` // labour_flows_part
	ReportKey     string    `json:"reportKey,omitempty"`
}

// EventSegments returns the state's segments; a state written before segments, or of a dataset that is
// one raw object, is one segment.
func (st State) EventSegments() []Segment {
	if len(st.Segments) > 0 {
		return st.Segments
	}
	parts, rows := st.SnapshotParts, st.PartRows
	if len(parts) == 0 {
		parts, rows = []string{st.SnapshotKey}, []int64{st.Rows}
	}
	return []Segment{{RawKey: st.RawKey, RawSHA256: st.RawSHA256, RawBytes: st.RawBytes, FetchedAt: st.FetchedAt, URL: st.URL,
		Rows: st.Rows, SnapshotParts: parts, PartRows: rows, FlowsPart: st.Parts["labour_flows_part"], ReportKey: st.ReportKey}}
}

// Lake is the platform's bucket seen through its layout.
type Lake struct {
	B *objectstore.Bucket
}

// New returns a Lake over bucket b.
func New(b *objectstore.Bucket) *Lake { return &Lake{B: b} }

// State returns a dataset's state; ok is false when the dataset was never accepted.
func (l *Lake) State(ctx context.Context, source, dataset string) (st State, ok bool, err error) {
	err = l.B.GetJSON(ctx, StateKey(source, dataset), &st)
	if errors.Is(err, objectstore.ErrNotFound) {
		return State{}, false, nil
	}
	return st, err == nil, err
}

// SetState records a dataset's accepted state.
func (l *Lake) SetState(ctx context.Context, st State) error {
	return l.B.PutJSON(ctx, StateKey(st.Source, st.Dataset), st, objectstore.PutOptions{})
}

// UpdateState changes a dataset's state (ok: there was one) as a compare-and-swap, read again and
// changed again when another writer came first: a refresh accepting a snapshot and a backfill adding
// history to the same dataset both land.
func (l *Lake) UpdateState(ctx context.Context, source, dataset string, change func(st *State, ok bool) error) error {
	key := StateKey(source, dataset)
	for attempt := 1; ; attempt++ {
		var st State
		data, etag, err := l.B.GetWithETag(ctx, key)
		ok := err == nil
		switch {
		case errors.Is(err, objectstore.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := json.Unmarshal(data, &st); err != nil {
				return fmt.Errorf("state %s: %w", key, err)
			}
		}
		if err := change(&st, ok); err != nil {
			return err
		}
		out, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		out = append(out, '\n')
		if ok {
			err = l.B.PutIfMatch(ctx, key, out, etag)
		} else if err = l.B.Put(ctx, key, bytes.NewReader(out), int64(len(out)), objectstore.PutOptions{IfAbsent: true, ContentType: "application/json"}); errors.Is(err, objectstore.ErrExists) {
			err = objectstore.ErrChanged
		}
		if !errors.Is(err, objectstore.ErrChanged) || attempt == 10 {
			return err
		}
	}
}

// States returns every dataset's state, ordered by source and dataset.
func (l *Lake) States(ctx context.Context) ([]State, error) {
	infos, err := l.B.List(ctx, "state/", true)
	if err != nil {
		return nil, err
	}
	var out []State
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".json") {
			continue
		}
		var st State
		if err := l.B.GetJSON(ctx, in.Key, &st); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

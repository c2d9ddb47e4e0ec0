// Package connectors defines what a source connector is: a Go value that knows, for each dataset it offers,
// how to ask cheaply whether it changed, which request fetches its raw bytes, how to tell data from an error
// page, and how to turn raw bytes into rows of the common model. Connectors know HTTP and formats, never
// Temporal; one subpackage per source and per shared format.
package connectors

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"

	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Dataset is one configured dataset of a source.
type Dataset struct {
	Source  string
	ID      string              // the platform's name for it, e.g. "lfst_r_lfu3rt"
	Code    string              // the source's code, when it differs from ID
	Filters map[string][]string // dimension → accepted codes
	Since   string              // first period wanted
	// Until is the last period wanted: set only for a chunk of a backfill (see Backfiller); a dataset's
	// regular fetch is open-ended.
	Until  string
	Format string // the source's format to fetch, where it offers several ("" = its default)
	// Resource names a file inside a catalogue package (CKAN sources), by file name.
	Resource string
	// Query holds the parts of a source's query beyond filters (INPS: rows, cols, measures).
	Query map[string][]string
	// Columns maps the columns of a plain CSV table to the common model (see package tabular).
	Columns map[string]string
	// Unit and UnitMult are the unit of measure (a code of the common model, or the source's) and its
	// power of ten for a dataset whose source does not say them.
	Unit     string
	UnitMult *int
	// Structure is what the source's structure message said at the last check (nil when the source has
	// none or the check did not answer): handed to DataRequest and Parse by the platform.
	Structure *Structure
}

// Structure is what a source's structure message (an SDMX DSD) says of a dataset: its dimensions in key
// order and which of them holds the territory. Check learns it; the platform keeps it with the fetch and
// the dataset's state and hands it back in Dataset.Structure, so no connector remembers it between calls.
type Structure struct {
	Dimensions []string `json:"dimensions,omitempty"`
	Territory  string   `json:"territory,omitempty"`
}

// Settings is a short digest of everything the configuration says of the dataset that shapes its
// harmonized rows (code, filters, since, format, file, query, columns, unit): part of a snapshot's key, so
// that a configuration change harmonizes the same raw bytes again.
func (d Dataset) Settings() string {
	// An empty map and none are the same settings (a configuration written back and read again has {}).
	if len(d.Filters) == 0 {
		d.Filters = nil
	}
	if len(d.Query) == 0 {
		d.Query = nil
	}
	if len(d.Columns) == 0 {
		d.Columns = nil
	}
	b, _ := json.Marshal(struct {
		Code, Since, Format, Resource, Unit string
		Filters, Query                      map[string][]string
		Columns                             map[string]string
		UnitMult                            *int
		Until                               string `json:",omitempty"` // a backfill chunk's; absent otherwise, so older digests hold
	}{d.Code, d.Since, d.Format, d.Resource, d.Unit, d.Filters, d.Query, d.Columns, d.UnitMult, d.Until})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:4])
}

// SourceCode returns the source's own code for the dataset.
func (d Dataset) SourceCode() string {
	if d.Code != "" {
		return d.Code
	}
	return d.ID
}

// Signal is what a source says about a dataset's version without sending its data. Two equal non-empty
// tokens mean the data did not change.
type Signal struct {
	Token string // e.g. Eurostat's UPDATE_DATA timestamp; "" when the source gave none
	URL   string // the URL asked
	// Requests is how many requests the check took when more than one (MIM: two catalogue pages).
	Requests int
	// Structure is the dataset's structure, from a source whose check reads it (Istat's DSD).
	Structure *Structure
}

// Observation is one statistical fact as a connector reads it, before territory harmonization.
type Observation struct {
	Indicator   string // what is measured, the dataset code when the dataset measures one thing
	Breakdown   string // any dimensions beyond the common ones, "wstatus=EMP;nace_r2=TOTAL"
	Unit        string // the source's unit code; mapped onto the common model's by the harmonizer
	UnitMult    *int   // the source's UNIT_MULT (power of ten) when it gives one
	Geo         string // the source's territory code, mapped by the harmonizer
	Period      string // normalised: 2023, 2023-Q1, 2023-01, 2023-S1, 2023-W05
	Freq        string // A, Q, M, S, W, D
	Sex         string
	Age         string
	Education   string
	Sector      string
	Citizenship string
	Value       *float64 // nil when the source gives only a status (e.g. confidential)
	Status      string   // the source's flag, kept as given
	Position    int64    // position in the raw object (flat index, row number)
}

// Source is a connector.
type Source interface {
	// Name is the source's configuration name, e.g. "eurostat".
	Name() string
	// Check asks the source for the dataset's change signal with one small request.
	Check(ctx context.Context, ds Dataset) (Signal, error)
	// DataRequest returns the request that fetches the dataset's raw bytes.
	DataRequest(ds Dataset) (httpfetch.Request, error)
	// Inspect looks at the status, headers and first bytes of a downloaded body and returns a classified
	// error when it is not data (an HTML error page, an error document, a deferred extraction).
	Inspect(ds Dataset, status int, header http.Header, head []byte) error
	// Extension is the file extension of raw objects ("json", "csv").
	Extension(ds Dataset) string
	// Parse reads raw bytes and calls emit for every observation, in the order of the raw object.
	Parse(ctx context.Context, ds Dataset, r io.Reader, emit func(Observation) error) error
}

// Backfiller is a source whose history can be fetched one period range at a time: with Dataset.Since
// and Dataset.Until set, DataRequest asks for those periods only and Parse keeps only them (whatever the
// endpoint did with the request's period filter). A backfill fetches each range as a raw object of its
// own (osservatorio backfill).
type Backfiller interface {
	// Backfills says whether the dataset can be fetched by period range.
	Backfills(ds Dataset) bool
}

// EventSource is a source whose datasets are CO events, harmonized by DuckDB straight from the raw export
// into labour_events rather than parsed into observations.
type EventSource interface {
	Source
	// EventType is the CO event type of a dataset: attivazione, cessazione, proroga, trasformazione.
	EventType(ds Dataset) string
}

// Downloader is a source whose raw object takes more than one request: the pages of a query, one call per
// month, a query sent by POST. It writes the raw bytes through the Sink, which spools and hashes them and
// checkpoints after every page; when an attempt dies, the next one is handed the last checkpoint (from
// the activity's heartbeat) and carries on from there. Fetch still inspects and lands what it wrote.
type Downloader interface {
	// Downloads says whether the dataset is fetched this way (a source may offer a one-request format too).
	Downloads(ds Dataset) bool
	// Download writes the dataset's raw object to sink. prev is the cursor of the accepted state (zero when
	// there is none, or when the fetch is forced); the cursor returned is stored with the new state. A
	// download that finds nothing new returns a cursor with Unchanged set and writes nothing.
	Download(ctx context.Context, ds Dataset, prev Cursor, sink Sink) (Cursor, error)
}

// Cursor is where a download stands: kept in heartbeats while it runs and with the dataset's state once
// accepted, so that the next download asks only for what is new.
type Cursor struct {
	Mode      string     `json:"mode,omitempty"`      // full, incremental or window
	Watermark string     `json:"watermark,omitempty"` // the source's high-water mark of the data taken (Socrata :updated_at)
	FullAt    string     `json:"fullAt,omitempty"`    // when the last full download started (RFC 3339)
	Rows      int64      `json:"rows,omitempty"`      // data rows in the raw object
	Offset    int64      `json:"offset,omitempty"`    // rows taken by this download so far (the next page's offset)
	Pages     int        `json:"pages,omitempty"`     // pages taken by this download so far
	Base      string     `json:"base,omitempty"`      // the accepted raw data (its last segment) an incremental or window download follows
	Header    string     `json:"header,omitempty"`    // the header line of a CSV raw object, which appended pages must repeat
	Drop      *RowFilter `json:"drop,omitempty"`      // the rows of Base a window download takes again (left out of the copy)
	Window    string     `json:"window,omitempty"`    // the window the running download takes, for resuming it
	Expect    int64      `json:"expect,omitempty"`    // rows the window holds, as counted by the source
	Unchanged bool       `json:"unchanged,omitempty"` // nothing new: no raw object was written
	Note      string     `json:"note,omitempty"`      // what was done, for the report
}

// Sink takes a download's bytes.
type Sink interface {
	// Resumed returns the checkpoint of an earlier attempt of this download, if one was interrupted: the
	// bytes up to it are already in the sink.
	Resumed() (Cursor, bool)
	// AppendRaw copies the accepted raw data of the dataset whose last segment is key (a CSV: every
	// segment in order, one header line) into the sink, the start of a window download that makes a new
	// base, leaving out the rows drop names (nil: none); it returns the data rows copied.
	AppendRaw(ctx context.Context, key string, drop *RowFilter) (int64, error)
	// Page appends body, then checkpoints the cursor next returns (called once body is consumed): once Page
	// returns, a new attempt resumes after this page.
	Page(ctx context.Context, body io.Reader, next func() Cursor) error
	// Sent counts a request made (counts, windows, pages, retries excluded) and remembers its URL.
	Sent(url string)
}

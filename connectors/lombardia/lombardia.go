// Package lombardia connects Regione Lombardia's open-data portal (Socrata, dati.lombardia.it) for the
// comunicazioni obbligatorie: the four event datasets (attivati, cessati, prorogati, trasformati). The
// change signal is the view's rowsUpdatedAt (GET /api/views/{id}.json, about 1 KB). The data comes from
// the SODA resource endpoint in pages ($order=:id, $limit, $offset) within a window of :updated_at, and
// only the rows updated since the last download once there was one (see Download); or, with format
// export, from the CSV export in one request. Either way the raw object is one CSV of the whole dataset,
// harmonized by DuckDB into labour_events.
package lombardia

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "lombardia"

// Datasets are the regional CO datasets: configuration id → Socrata 4x4 id.
var Datasets = map[string]string{"attivati": "qbau-cyuc", "cessati": "nwz3-p6vm", "prorogati": "chng-cman", "trasformati": "8dwx-jjag"}

// EventTypes are the CO event type of each dataset.
var EventTypes = map[string]string{"attivati": "attivazione", "cessati": "cessazione", "prorogati": "proroga", "trasformati": "trasformazione"}

// Source is the connector.
type Source struct {
	base       string
	client     *httpfetch.Client
	appToken   string
	pageSize   int
	reconcile  time.Duration
	dateWindow time.Duration
	now        func() time.Time
}

// Options tune the SODA download; zero values take the defaults.
type Options struct {
	AppToken       string // sent as X-App-Token
	PageSize       int    // rows per page ($limit)
	ReconcileEvery time.Duration
	DateWindow     time.Duration    // after a republication, how far back (by business date) rows are taken again
	Now            func() time.Time // the clock, for tests
}

// New returns the connector for the portal at baseURL (https://www.dati.lombardia.it or a mirror).
func New(baseURL string, client *httpfetch.Client, opts Options) *Source {
	s := &Source{base: strings.TrimRight(baseURL, "/"), client: client, appToken: opts.AppToken,
		pageSize: opts.PageSize, reconcile: opts.ReconcileEvery, dateWindow: opts.DateWindow, now: opts.Now}
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	if s.reconcile <= 0 {
		s.reconcile = DefaultReconcileEvery
	}
	if s.dateWindow <= 0 {
		s.dateWindow = DefaultDateWindow
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Name returns "lombardia".
func (s *Source) Name() string { return Name }

// Extension returns "csv".
func (s *Source) Extension(connectors.Dataset) string { return "csv" }

// Table says the datasets are harmonized into labour_events.
func (s *Source) Table(connectors.Dataset) string { return "labour_events" }

// EventType returns the CO event type the dataset publishes.
func (s *Source) EventType(ds connectors.Dataset) string { return EventTypes[ds.ID] }

func (s *Source) viewID(ds connectors.Dataset) string {
	if ds.Code != "" {
		return ds.Code
	}
	return Datasets[ds.ID]
}

func (s *Source) header() http.Header {
	h := http.Header{}
	if s.appToken != "" {
		h.Set("X-App-Token", s.appToken)
	}
	return h
}

// Check reads the view's rowsUpdatedAt.
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	u := fmt.Sprintf("%s/api/views/%s.json", s.base, url.PathEscape(s.viewID(ds)))
	h := s.header()
	h.Set("Accept", "application/json")
	resp, err := s.client.Get(ctx, httpfetch.Request{URL: u, Header: h})
	if err != nil {
		return connectors.Signal{URL: u}, err
	}
	defer resp.Body.Close()
	if resp.Status != http.StatusOK {
		return connectors.Signal{URL: u}, fault.Errorf(fault.BadInput, "view metadata %s: HTTP %d", u, resp.Status)
	}
	var meta struct {
		RowsUpdatedAt    int64 `json:"rowsUpdatedAt"`
		ViewLastModified int64 `json:"viewLastModified"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&meta); err != nil {
		return connectors.Signal{URL: u}, fault.Wrap(fault.BadInput, "view metadata "+u, err)
	}
	token := ""
	if meta.RowsUpdatedAt > 0 {
		token = fmt.Sprintf("rowsUpdatedAt=%d", meta.RowsUpdatedAt)
	}
	return connectors.Signal{Token: token, URL: u}, nil
}

// DataRequest asks for the full CSV export.
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	id := s.viewID(ds)
	if id == "" {
		return httpfetch.Request{}, fault.Errorf(fault.BadInput, "dataset %q has no Socrata id (set code)", ds.ID)
	}
	h := s.header()
	h.Set("Accept", "text/csv")
	return httpfetch.Request{URL: fmt.Sprintf("%s/api/views/%s/rows.csv?accessType=DOWNLOAD", s.base, url.PathEscape(id)), Header: h}, nil
}

// Inspect rejects error statuses, HTML pages and Socrata's JSON errors.
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	trimmed, err := connectors.CheckBody(status, header, head)
	switch {
	case err != nil:
		return err
	case bytes.HasPrefix(trimmed, []byte("{")):
		return fault.Errorf(fault.BadInput, "JSON instead of CSV: %q", connectors.Snippet(trimmed, 160))
	}
	return nil
}

// Parse is not used: CO exports are harmonized by DuckDB straight from the raw CSV.
func (s *Source) Parse(context.Context, connectors.Dataset, io.Reader, func(connectors.Observation) error) error {
	return fault.Errorf(fault.BadInput, "lombardia exports are harmonized as labour events, not observations")
}

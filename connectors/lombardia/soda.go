package lombardia

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Formats of a dataset: soda (the default) pages the SODA 2 resource endpoint and downloads only what
// changed since the last download; export downloads the whole CSV export in one request.
const (
	FormatSODA   = "soda"
	FormatExport = "export"
)

// Defaults of the SODA download.
const (
	DefaultPageSize       = 50000 // the most a SODA 2.0 endpoint gives per request
	DefaultReconcileEvery = 30 * 24 * time.Hour
	DefaultDateWindow     = 92 * 24 * time.Hour // about a quarter: late communications and corrections land there
)

// Downloads says every format goes through Download.
func (s *Source) Downloads(connectors.Dataset) bool { return true }

// Backfills says a dataset taken through the SODA endpoint can take a range of dates again (a window on
// its business date, DateField); the one-request export cannot.
func (s *Source) Backfills(ds connectors.Dataset) bool { return ds.Format != FormatExport }

// window is what the source says of the rows a download will take, in one small request.
type window struct {
	N            int64  // rows
	LastUpdated  string // max(:updated_at): the next watermark
	FirstCreated string // min(:created_at)
}

// Download takes the dataset through the SODA resource endpoint, in pages of $limit rows ordered by :id
// within a fixed window of :updated_at (so that rows written meanwhile wait for the next download rather
// than shifting the pages). With a watermark from the last download it asks only for rows updated since,
// which land as a segment of their own (a CSV with its header line, appended to the dataset's segments by
// the fetch), unless some of those rows were created before the watermark (the region rewrote published
// rows, or republished everything): then the rows of the date window are taken again on top of the
// accepted ones (a new base), and as every ReconcileEvery, everything is downloaded again.
func (s *Source) Download(ctx context.Context, ds connectors.Dataset, prev connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	id := s.viewID(ds)
	if id == "" {
		return connectors.Cursor{}, fault.Errorf(fault.BadInput, "dataset %q has no Socrata id (set code)", ds.ID)
	}
	if ds.Format == FormatExport {
		return s.export(ctx, ds, sink)
	}
	if ds.Format != "" && ds.Format != FormatSODA {
		return connectors.Cursor{}, fault.Errorf(fault.BadInput, "unknown format %q (soda or export)", ds.Format)
	}
	if cur, ok := sink.Resumed(); ok {
		return s.pages(ctx, id, cur, sink)
	}
	if ds.Until != "" {
		return s.backfill(ctx, id, ds, prev, sink)
	}
	now := s.now().UTC()
	full, why := true, "first download"
	if prev.Watermark != "" && prev.Base != "" {
		full, why = false, ""
		if at, err := time.Parse(time.RFC3339, prev.FullAt); err != nil || now.Sub(at) >= s.reconcile {
			full, why = true, "periodic full reconciliation"
		}
	}
	var since string
	if !full {
		since = fmt.Sprintf(":updated_at > '%s'", prev.Watermark)
		w, err := s.window(ctx, id, since, sink)
		if err != nil {
			return connectors.Cursor{}, err
		}
		switch {
		case w.N == 0:
			return connectors.Cursor{Unchanged: true, Note: "no row updated since " + prev.Watermark}, nil
		case w.FirstCreated != "" && w.FirstCreated <= prev.Watermark:
			// Published rows were rewritten (a republication moves every row's :updated_at): take again the
			// rows of the last DateWindow by their business date, keep the rest of the last download until
			// the next full reconciliation.
			if col := column(prev.Header, DateField); col >= 0 {
				from := now.Add(-s.dateWindow).Format("2006-01-02") + "T00:00:00.000"
				where := fmt.Sprintf("%s >= '%s' AND :updated_at <= '%s'", DateField, from, w.LastUpdated)
				ww, err := s.window(ctx, id, where, sink)
				if err != nil {
					return connectors.Cursor{}, err
				}
				cur := connectors.Cursor{Mode: "window", Watermark: w.LastUpdated, FullAt: prev.FullAt, Base: prev.Base, Header: prev.Header,
					Expect: ww.N, Window: where, Drop: &connectors.RowFilter{Column: col, From: from},
					Note: fmt.Sprintf("%d published rows rewritten since %s: the rows dated from %s taken again (%d), the older ones kept until the next full reconciliation", w.N, prev.Watermark, from[:10], ww.N)}
				cur, err = s.pages(ctx, id, cur, sink)
				if !errors.Is(err, errHeaderChanged) {
					return cur, err
				}
				why = "the columns changed: full download"
				break
			}
			full, why = true, fmt.Sprintf("%d rows updated since %s include rows created before it (created %s): full reconciliation", w.N, prev.Watermark, w.FirstCreated)
		default:
			cur := connectors.Cursor{Mode: "incremental", Watermark: w.LastUpdated, FullAt: prev.FullAt, Rows: prev.Rows,
				Base: prev.Base, Header: prev.Header, Expect: w.N, Window: since + fmt.Sprintf(" AND :updated_at <= '%s'", w.LastUpdated),
				Note: fmt.Sprintf("incremental: %d rows updated since %s", w.N, prev.Watermark)}
			cur, err = s.pages(ctx, id, cur, sink)
			if !errors.Is(err, errHeaderChanged) {
				return cur, err
			}
			why = "the columns changed: full download"
		}
	}
	w, err := s.window(ctx, id, "", sink)
	if err != nil {
		return connectors.Cursor{}, err
	}
	cur := connectors.Cursor{Mode: "full", Watermark: w.LastUpdated, FullAt: now.Format(time.RFC3339), Expect: w.N,
		Window: fmt.Sprintf(":updated_at <= '%s'", w.LastUpdated), Note: fmt.Sprintf("full (%s): %d rows", why, w.N)}
	if w.LastUpdated == "" { // an empty dataset
		cur.Window = "1=1"
	}
	return s.pages(ctx, id, cur, sink)
}

// backfill takes again the rows dated in a backfill's range (ds.Since to ds.Until, by DateField) on top
// of the accepted rows less those dates: a new base. It asks only for rows up to the accepted watermark:
// those updated since are the next incremental download's, so no row is taken twice.
func (s *Source) backfill(ctx context.Context, id string, ds connectors.Dataset, prev connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	first, _, err := connectors.PeriodMonths(ds.Since)
	if err != nil {
		return connectors.Cursor{}, fault.Wrap(fault.BadInput, "backfill", err)
	}
	_, last, err := connectors.PeriodMonths(ds.Until)
	if err != nil {
		return connectors.Cursor{}, fault.Wrap(fault.BadInput, "backfill", err)
	}
	col := column(prev.Header, DateField)
	if prev.Watermark == "" || prev.Base == "" || col < 0 {
		return connectors.Cursor{}, fault.Errorf(fault.BadInput, "backfill: no accepted download with a %q column to take a range of again: refresh the dataset first", DateField)
	}
	from, before := connectors.MonthStart(first)+"T00:00:00.000", connectors.MonthStart(last+1)+"T00:00:00.000"
	where := fmt.Sprintf("%s >= '%s' AND %s < '%s' AND :updated_at <= '%s'", DateField, from, DateField, before, prev.Watermark)
	w, err := s.window(ctx, id, where, sink) // the first request: the sidecar's URL names the range
	if err != nil {
		return connectors.Cursor{}, err
	}
	// Rows updated since the watermark would be left out of the range and dropped from the accepted rows:
	// the refresh takes them first.
	if upd, err := s.window(ctx, id, fmt.Sprintf(":updated_at > '%s'", prev.Watermark), sink); err != nil {
		return connectors.Cursor{}, err
	} else if upd.N > 0 {
		return connectors.Cursor{}, fault.Errorf(fault.BadInput, "backfill: %d rows were updated at the source since the last download (%s): refresh the dataset, then backfill", upd.N, prev.Watermark)
	}
	cur := connectors.Cursor{Mode: "window", Watermark: prev.Watermark, FullAt: prev.FullAt, Base: prev.Base, Header: prev.Header,
		Expect: w.N, Window: where, Drop: &connectors.RowFilter{Column: col, From: from, Before: before},
		Note: fmt.Sprintf("backfill %s–%s: the %d rows dated from %s to before %s taken again, the others kept", ds.Since, ds.Until, w.N, from[:10], before[:10])}
	cur, err = s.pages(ctx, id, cur, sink)
	if errors.Is(err, errHeaderChanged) {
		return cur, fault.Errorf(fault.BadInput, "backfill: the columns changed since the last download: refresh the dataset (a full download) first")
	}
	return cur, err
}

// window counts the rows matching where and reads the watermark they reach.
func (s *Source) window(ctx context.Context, id, where string, sink connectors.Sink) (window, error) {
	q := url.Values{"$select": {"count(*) AS n, max(:updated_at) AS last_updated, min(:created_at) AS first_created"}}
	if where != "" {
		q.Set("$where", where)
	}
	u := fmt.Sprintf("%s/resource/%s.json?%s", s.base, url.PathEscape(id), q.Encode())
	h := s.header()
	h.Set("Accept", "application/json")
	sink.Sent(u)
	resp, err := s.client.Get(ctx, httpfetch.Request{URL: u, Header: h})
	if err != nil {
		return window{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := s.Inspect(connectors.Dataset{}, resp.Status, resp.Header, body); err != nil && resp.Status >= 400 {
		return window{}, fault.Errorf(fault.BadInput, "count %s: %w", u, err)
	}
	var rows []struct {
		N            string `json:"n"`
		LastUpdated  string `json:"last_updated"`
		FirstCreated string `json:"first_created"`
	}
	if err := json.Unmarshal(body, &rows); err != nil || len(rows) != 1 {
		return window{}, fault.Errorf(fault.BadInput, "count %s: not a SODA answer: %q", u, string(body[:min(len(body), 160)]))
	}
	n, err := strconv.ParseInt(rows[0].N, 10, 64)
	if err != nil {
		return window{}, fault.Errorf(fault.BadInput, "count %s: n = %q", u, rows[0].N)
	}
	return window{N: n, LastUpdated: rows[0].LastUpdated, FirstCreated: rows[0].FirstCreated}, nil
}

// pages takes the window's rows from cur.Offset on, a page at a time, checkpointing after each.
func (s *Source) pages(ctx context.Context, id string, cur connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	size := s.pageSize
	for {
		q := url.Values{"$where": {cur.Window}, "$order": {":id"}, "$limit": {strconv.Itoa(size)}, "$offset": {strconv.FormatInt(cur.Offset, 10)}}
		u := fmt.Sprintf("%s/resource/%s.csv?%s", s.base, url.PathEscape(id), q.Encode())
		h := s.header()
		h.Set("Accept", "text/csv")
		sink.Sent(u)
		resp, err := s.client.Get(ctx, httpfetch.Request{URL: u, Header: h})
		if err != nil {
			return cur, err
		}
		rows, err := s.page(ctx, resp, &cur, sink)
		resp.Body.Close()
		if err != nil {
			if errors.Is(err, errHeaderChanged) {
				return cur, err
			}
			if k := fault.KindOf(err); k != "" {
				return cur, fault.Wrap(k, fmt.Sprintf("page %d (offset %d)", cur.Pages+1, cur.Offset), err)
			}
			return cur, err
		}
		if rows < int64(size) || cur.Offset >= cur.Expect {
			break
		}
	}
	if cur.Offset != cur.Expect {
		return cur, fault.Errorf(fault.BadInput, "the dataset changed while it was paged: the source counted %d rows in the window, the pages held %d (the next refresh starts over)", cur.Expect, cur.Offset)
	}
	cur.Window, cur.Offset, cur.Pages, cur.Expect, cur.Base, cur.Drop = "", 0, 0, 0, "", nil
	return cur, nil
}

// page hands one page to the sink: the header line on the first page of a full download or of a segment
// (after the accepted rows for a window download), checked against the expected columns on every page,
// then the rows, counted.
func (s *Source) page(ctx context.Context, resp *httpfetch.Response, cur *connectors.Cursor, sink connectors.Sink) (int64, error) {
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	head, _ := br.Peek(512)
	if err := s.Inspect(connectors.Dataset{}, resp.Status, resp.Header, head); err != nil {
		return 0, err
	}
	header, err := br.ReadString('\n')
	if err != nil && err != io.EOF {
		return 0, fault.Errorf(fault.SourceUnavailable, "read header: %w", err)
	}
	header = strings.TrimRight(header, "\r\n")
	if strings.TrimSpace(header) == "" {
		return 0, fault.Errorf(fault.BadInput, "an empty page: no header line")
	}
	switch {
	case cur.Mode == "full" && cur.Pages == 0:
		cur.Header = header
	case header != cur.Header && cur.Base != "" && cur.Pages == 0:
		return 0, errHeaderChanged // before anything is written: the download starts over in full
	case header != cur.Header:
		return 0, fault.Errorf(fault.BadInput, "the columns changed between pages: %q, then %q", cur.Header, header)
	case cur.Mode == "window" && cur.Pages == 0:
		kept, err := sink.AppendRaw(ctx, cur.Base, cur.Drop)
		if err != nil {
			return 0, err
		}
		cur.Rows = kept
	}
	counter := &rowCounter{r: br}
	var body io.Reader = counter
	if (cur.Mode == "full" || cur.Mode == "incremental") && cur.Pages == 0 {
		body = io.MultiReader(bytes.NewReader(terminated(header)), counter)
	}
	err = sink.Page(ctx, &ensureNewline{r: body, c: counter}, func() connectors.Cursor {
		// The checkpoint taken with the page says where the next one starts.
		cur.Offset += counter.rows
		cur.Rows += counter.rows
		cur.Pages++
		return *cur
	})
	return counter.rows, err
}

// DateField is the business date of the CO datasets, the key of the date window.
const DateField = "data"

// column returns the index of field name in a CSV header line, or -1.
func column(header, name string) int {
	for i, f := range strings.Split(header, ",") {
		if strings.Trim(strings.TrimSpace(f), `"`) == name {
			return i
		}
	}
	return -1
}

// errHeaderChanged says the first page of an incremental download has other columns than the raw object
// it would be appended to.
var errHeaderChanged = errors.New("the columns changed since the last download")

func terminated(line string) []byte { return []byte(line + "\n") }

// rowCounter passes CSV bytes through, counting records (line ends outside quotes).
type rowCounter struct {
	r       io.Reader
	rows    int64
	inQuote bool
	last    byte
}

func (c *rowCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for _, b := range p[:n] {
		switch {
		case b == '"':
			c.inQuote = !c.inQuote
		case b == '\n' && !c.inQuote:
			c.rows++
		}
	}
	if n > 0 {
		c.last = p[n-1]
	}
	return n, err
}

// ensureNewline ends the stream with a line end if it has bytes and does not end with one.
type ensureNewline struct {
	r    io.Reader
	c    *rowCounter
	last byte
	n    int64
	done bool
}

func (e *ensureNewline) Read(p []byte) (int, error) {
	if e.done {
		return 0, io.EOF
	}
	n, err := e.r.Read(p)
	if n > 0 {
		e.last = p[n-1]
		e.n += int64(n)
	}
	if err == io.EOF {
		if e.n > 0 && e.last != '\n' {
			if n < len(p) {
				p[n] = '\n'
				n++
				e.done = true
				e.c.rows++
				return n, io.EOF
			}
			return n, nil // room next call
		}
		e.done = true
	}
	return n, err
}

// export downloads the whole CSV export in one request.
func (s *Source) export(ctx context.Context, ds connectors.Dataset, sink connectors.Sink) (connectors.Cursor, error) {
	req, err := s.DataRequest(ds)
	if err != nil {
		return connectors.Cursor{}, err
	}
	sink.Sent(req.URL)
	resp, err := s.client.Get(ctx, req)
	if err != nil {
		return connectors.Cursor{}, err
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	head, _ := br.Peek(512)
	if err := s.Inspect(ds, resp.Status, resp.Header, head); err != nil {
		return connectors.Cursor{}, err
	}
	c := &rowCounter{r: br}
	cur := connectors.Cursor{Mode: "export", Note: "full CSV export"}
	err = sink.Page(ctx, c, func() connectors.Cursor {
		cur.Rows = max(c.rows-1, 0)
		return cur
	})
	return cur, err
}

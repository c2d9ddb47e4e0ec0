package inail

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Formats of a dataset: zip (the default) is the region's whole monthly history in one zipped CSV; api
// asks the REST API (DatiConCadenzaMensileInfortuni) one month at a time over the window it serves.
const (
	FormatZip = "zip"
	FormatAPI = "api"
)

// APIWindowMonths is how far back the REST API serves months (about 18): older months are in the zip.
const APIWindowMonths = 18

// Downloads says the REST API format is fetched month by month (see Download).
func (s *Source) Downloads(ds connectors.Dataset) bool { return ds.Format == FormatAPI }

// month is one month of the REST API as kept in the raw object: which month, the URL asked, and INAIL's
// answer verbatim (JSON).
type month struct {
	Month   string          `json:"mese"`
	URL     string          `json:"url"`
	Answer  json.RawMessage `json:"risposta"`
	Records []Record        `json:"-"`
}

// Download asks the REST API for every month of its window (from the dataset's since, at most
// APIWindowMonths back, to the current month), one call each. A month INAIL has no data for yet is an
// HTTP 500 whose body says "Dati non trovati": skipped, not an error. The raw object is a JSON array of
// the months answered, each with its URL and INAIL's answer verbatim; every month is a checkpoint.
func (s *Source) Download(ctx context.Context, ds connectors.Dataset, _ connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	region := ds.Code
	if region == "" {
		region = "Lombardia"
	}
	months, err := s.window(ds.Since)
	if err != nil {
		return connectors.Cursor{}, err
	}
	cur := connectors.Cursor{Mode: "months", Window: months[0] + ".." + months[len(months)-1]}
	if resumed, ok := sink.Resumed(); ok && resumed.Window == cur.Window {
		cur = resumed
	}
	empty := 0
	for i := int(cur.Offset); i < len(months); i++ {
		y, m, _ := strings.Cut(months[i], "-")
		q := url.Values{"Regione": {region}, "AnnoAccadimento": {y}, "MeseAccadimento": {m}}
		u := fmt.Sprintf("%s/api/OpenData/DatiConCadenzaMensileInfortuni?%s", s.base, q.Encode())
		sink.Sent(u)
		resp, err := s.client.Get(ctx, httpfetch.Request{URL: u, Header: http.Header{"Accept": {"application/json"}}, Pass: []int{http.StatusInternalServerError}})
		if err != nil {
			return cur, err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		resp.Body.Close()
		if err != nil {
			return cur, fault.Errorf(fault.SourceUnavailable, "month %s: read: %w", months[i], err)
		}
		switch trimmed := bytes.TrimSpace(body); {
		case resp.Status == http.StatusInternalServerError && bytes.Contains(body, []byte("Dati non trovati")):
			empty++
			body = nil
		case resp.Status >= 500:
			return cur, fault.Errorf(fault.SourceUnavailable, "month %s: HTTP %d %q", months[i], resp.Status, string(trimmed[:min(len(trimmed), 120)]))
		case resp.Status >= 400:
			return cur, fault.Errorf(fault.BadInput, "month %s: HTTP %d %q", months[i], resp.Status, string(trimmed[:min(len(trimmed), 120)]))
		case !bytes.HasPrefix(trimmed, []byte("{")) || !json.Valid(trimmed):
			return cur, fault.Errorf(fault.BadInput, "month %s: not a JSON answer: %q", months[i], string(trimmed[:min(len(trimmed), 120)]))
		}
		var page bytes.Buffer
		if i == 0 {
			page.WriteString("[")
		}
		if body != nil {
			if cur.Rows > 0 {
				page.WriteString(",\n")
			}
			b, _ := json.Marshal(month{Month: months[i], URL: u})
			page.Write(b[:len(b)-1]) // the object without its closing brace
			page.WriteString(`,"risposta":`)
			page.Write(bytes.TrimSpace(body))
			page.WriteString("}")
		}
		if i == len(months)-1 {
			page.WriteString("]\n")
		}
		if err := sink.Page(ctx, &page, func() connectors.Cursor {
			cur.Offset, cur.Pages = int64(i+1), cur.Pages+1
			if body != nil {
				cur.Rows++ // months answered
			}
			return cur
		}); err != nil {
			return cur, err
		}
	}
	cur.Note = fmt.Sprintf("%d months asked, %d with data, %d not yet available (\"Dati non trovati\")", len(months), cur.Rows, empty)
	cur.Window, cur.Offset, cur.Pages = "", 0, 0
	return cur, nil
}

// window returns the months to ask for, oldest first.
func (s *Source) window(since string) ([]string, error) {
	now := s.now()
	last := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	first := last.AddDate(0, -(APIWindowMonths - 1), 0)
	if since != "" {
		t, err := time.Parse("2006-01", since)
		if err != nil {
			return nil, fault.Errorf(fault.BadInput, "since %q: want YYYY-MM for the INAIL API", since)
		}
		if t.After(first) {
			first = t
		}
	}
	if first.After(last) {
		return nil, fault.Errorf(fault.BadInput, "since %s is after the current month", since)
	}
	var out []string
	for t := first; !t.After(last); t = t.AddDate(0, 1, 0) {
		out = append(out, t.Format("2006-01"))
	}
	return out, nil
}

// countMonths counts the injuries of a raw object of REST API months.
func countMonths(r io.Reader) (map[key]int64, error) {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, fault.Errorf(fault.BadInput, "INAIL API months: not a JSON array")
	}
	counts := map[key]int64{}
	for dec.More() {
		var m month
		if err := dec.Decode(&m); err != nil {
			return nil, fault.Wrap(fault.BadInput, "INAIL API months", err)
		}
		recs, err := Records(bytes.NewReader(m.Answer))
		if err != nil {
			return nil, fault.Wrap(fault.BadInput, "INAIL API month "+m.Month, err)
		}
		for i, rec := range recs {
			k, ok, err := keyOf(rec)
			if err != nil {
				return nil, fault.Wrap(fault.BadInput, "INAIL API month "+m.Month+" record "+strconv.Itoa(i+1), err)
			}
			if ok {
				counts[k]++
			}
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fault.Wrap(fault.BadInput, "INAIL API months: truncated", err)
	}
	return counts, nil
}

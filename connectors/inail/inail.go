// Package inail connects INAIL's open data on workplace injuries for Lombardy: the zipped, ";"-separated
// CSV history of the monthly data (one row per reported injury), counted into observations per province of
// the accident (LuogoAccadimento), month, sex, economic section and outcome. The same record layout comes
// from the REST API (DatiConCadenzaMensileInfortuni, JSON); Records reads it. The change signal is the
// file's ETag/Last-Modified (INAIL publishes no annotation), then its sha256.
package inail

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "inail"

// Source is the connector.
type Source struct {
	base   string
	client *httpfetch.Client
	now    func() time.Time
}

// New returns the connector for the portal at baseURL (https://dati.inail.it or a mirror). now is the
// clock that places the REST API's window of months (nil: time.Now).
func New(baseURL string, client *httpfetch.Client, now func() time.Time) *Source {
	if now == nil {
		now = time.Now
	}
	return &Source{base: strings.TrimRight(baseURL, "/"), client: client, now: now}
}

// Name returns "inail".
func (s *Source) Name() string { return Name }

// Extension returns "zip", or "json" for the REST API.
func (s *Source) Extension(ds connectors.Dataset) string {
	if ds.Format == FormatAPI {
		return "json"
	}
	return "zip"
}

// Check has no cheap signal to read: the fetch is a conditional GET, then a content hash.
func (s *Source) Check(context.Context, connectors.Dataset) (connectors.Signal, error) {
	return connectors.Signal{}, nil
}

// DataRequest asks for the zipped monthly CSV of the region (ds.Code, default Lombardia).
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	region := ds.Code
	if region == "" {
		region = "Lombardia"
	}
	return httpfetch.Request{URL: fmt.Sprintf("%s/opendata/downloads/daticoncadenzamensileinfortuni/zip/DatiConCadenzaMensileInfortuni%s_csv.zip", s.base, region)}, nil
}

// Inspect wants a zip archive (or the months of the REST API, a JSON array).
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	if ds.Format == FormatAPI {
		if !bytes.HasPrefix(bytes.TrimSpace(head), []byte("[")) {
			return fault.Errorf(fault.BadInput, "not the months of the INAIL API: %q", string(head[:min(len(head), 60)]))
		}
		return nil
	}
	switch {
	case status >= 400:
		return fault.Errorf(fault.BadInput, "HTTP %d", status)
	case !bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return fault.Errorf(fault.BadInput, "not a zip archive: %q", string(head[:min(len(head), 60)]))
	}
	return nil
}

// Record is one reported injury, as INAIL publishes it.
type Record struct {
	DataAccadimento          string  `json:"DataAccadimento"`
	DataMorte                *string `json:"DataMorte"`
	LuogoAccadimento         string  `json:"LuogoAccadimento"`
	Genere                   string  `json:"Genere"`
	Eta                      string  `json:"Eta"`
	SettoreAttivitaEconomica string  `json:"SettoreAttivitaEconomica"`
	Regione                  string  `json:"Regione"`
}

// Records decodes a REST API answer ({"DatiConCadenzaMensileInfortuni": [...]}).
func Records(r io.Reader) ([]Record, error) {
	var body struct {
		Records []Record `json:"DatiConCadenzaMensileInfortuni"`
	}
	if err := json.NewDecoder(r).Decode(&body); err != nil {
		return nil, fault.Wrap(fault.BadInput, "INAIL JSON", err)
	}
	return body.Records, nil
}

type key struct{ prov, month, sex, section, fatal string }

// Parse counts the injuries of the zipped CSV (or of the REST API's months) into observations, in key order.
func (s *Source) Parse(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	if ds.Format == FormatAPI {
		counts, err := countMonths(r)
		if err != nil {
			return err
		}
		return emitCounts(counts, emit)
	}
	zr, done, err := connectors.OpenZip(r) // tens of MB at most
	if err != nil {
		return err
	}
	defer done()
	var member *zip.File
	for _, f := range zr.File {
		if strings.HasSuffix(strings.ToLower(f.Name), ".csv") {
			member = f
			break
		}
	}
	if member == nil {
		return fault.Errorf(fault.BadInput, "INAIL archive holds no CSV file")
	}
	rc, err := member.Open()
	if err != nil {
		return fault.Wrap(fault.BadInput, "INAIL archive", err)
	}
	defer rc.Close()
	cr := csv.NewReader(rc)
	cr.Comma = ';'
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return fault.Errorf(fault.BadInput, "INAIL CSV: no header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.Trim(strings.TrimPrefix(h, "\ufeff"), `"`))] = i
	}
	for _, need := range []string{"DataAccadimento", "LuogoAccadimento", "Genere"} {
		if _, ok := col[need]; !ok {
			return fault.Errorf(fault.BadInput, "schema changed: column %s missing from %v", need, header)
		}
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	counts := map[key]int64{}
	var row int64
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fault.Errorf(fault.BadInput, "INAIL CSV row %d: %w", row+1, err)
		}
		row++
		if row%8192 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		morte := get(rec, "DataMorte")
		r := Record{DataAccadimento: get(rec, "DataAccadimento"), LuogoAccadimento: get(rec, "LuogoAccadimento"),
			Genere: get(rec, "Genere"), SettoreAttivitaEconomica: get(rec, "SettoreAttivitaEconomica"), DataMorte: &morte}
		k, ok, err := keyOf(r)
		if err != nil {
			return fault.Wrap(fault.BadInput, fmt.Sprintf("INAIL CSV row %d", row), err)
		}
		if ok {
			counts[k]++
		}
	}
	return emitCounts(counts, emit)
}

// emitCounts emits the injuries counted per key as observations, in key order.
func emitCounts(counts map[key]int64, emit func(connectors.Observation) error) error {
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.prov+a.month+a.sex+a.section+a.fatal < b.prov+b.month+b.sex+b.section+b.fatal
	})
	for i, k := range keys {
		v := float64(counts[k])
		if err := emit(connectors.Observation{Indicator: "infortuni_denunciati", Breakdown: "esito_mortale=" + k.fatal,
			Unit: "NR", Geo: k.prov, Period: k.month, Freq: "M", Sex: k.sex, Sector: k.section, Value: &v, Position: int64(i)}); err != nil {
			return err
		}
	}
	return nil
}

// keyOf returns the counting key of a record; ok is false for accidents outside Lombardy.
func keyOf(r Record) (key, bool, error) {
	t, ok := codelist.MustTerritories().Lookup(r.LuogoAccadimento)
	if !ok || t.Level != "province" {
		return key{}, false, nil
	}
	d := strings.Split(r.DataAccadimento, "/")
	if len(d) != 3 || len(d[2]) != 4 || len(d[1]) != 2 {
		return key{}, false, fmt.Errorf("DataAccadimento %q is not dd/mm/yyyy", r.DataAccadimento)
	}
	section := "UNK" // not determined: not the total of the sectors, which an empty sector would mean
	if s := strings.TrimSpace(r.SettoreAttivitaEconomica); s != "" && s != "ND" {
		section = strings.Fields(s)[0]
	}
	fatal := "N"
	if r.DataMorte != nil && strings.TrimSpace(*r.DataMorte) != "" {
		fatal = "S"
	}
	return key{prov: t.Istat, month: d[2] + "-" + d[1], sex: r.Genere, section: section, fatal: fatal}, true, nil
}

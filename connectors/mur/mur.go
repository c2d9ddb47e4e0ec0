// Package mur connects the university ministry's statistics portal (MUR USTAT, a CKAN site): enrolments,
// first-year enrolments and graduates. A dataset is a package and a file name (resource ids change when
// MUR republishes); the change signal is the resource's last_modified (else the package's
// metadata_modified). Files are Windows-1252 CSV with ";" separators, province and comune codes without
// leading zeros; only rows of Lombardy provinces are kept.
package mur

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/ckan"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "mur"

// Source is the connector.
type Source struct {
	files *ckan.Files
}

// New returns the connector for the portal at baseURL; its files are fetched from the same site.
func New(baseURL string, client *httpfetch.Client) *Source {
	base := strings.TrimRight(baseURL, "/")
	return &Source{files: &ckan.Files{Base: base, Rebase: base, Client: client}}
}

// Name returns "mur".
func (s *Source) Name() string { return Name }

// Extension returns "csv".
func (s *Source) Extension(connectors.Dataset) string { return "csv" }

// Check reads the package and finds the dataset's file in it.
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	return s.files.Check(ctx, ds)
}

// DataRequest downloads the file found by Check.
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	return s.files.Request(ds)
}

// Inspect rejects HTML pages and JSON errors.
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	h := strings.ToLower(strings.TrimSpace(string(head[:min(len(head), 64)])))
	switch {
	case status >= 400:
		return fault.Errorf(fault.BadInput, "HTTP %d", status)
	case strings.HasPrefix(h, "<"), strings.HasPrefix(strings.ToLower(header.Get("Content-Type")), "text/html"):
		return fault.Errorf(fault.BadInput, "an HTML page instead of the CSV file")
	case strings.HasPrefix(h, "{"):
		return fault.Errorf(fault.BadInput, "JSON instead of the CSV file")
	case !strings.Contains(string(head), ";"):
		return fault.Errorf(fault.BadInput, "not a ';'-separated file")
	}
	return nil
}

var measures = map[string]string{"isc": "iscritti", "immatricolati": "immatricolati", "lau": "laureati"}

// Parse decodes Windows-1252, reads the ";" CSV and emits one observation per row of a Lombardy province.
func (s *Source) Parse(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	terr := codelist.MustTerritories()
	cr := csv.NewReader(charmap.Windows1252.NewDecoder().Reader(r))
	cr.Comma = ';'
	header, err := cr.Read()
	if err != nil {
		return fault.Errorf(fault.BadInput, "no header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	measure, indicator := -1, ""
	for k, name := range measures {
		if i, ok := col[k]; ok {
			measure, indicator = i, name
		}
	}
	geo := -1
	for _, k := range []string{"residenzap", "sedep"} {
		if i, ok := col[k]; ok {
			geo = i
			break
		}
	}
	period := -1
	for _, k := range []string{"annoa", "annos"} {
		if i, ok := col[k]; ok {
			period = i
			break
		}
	}
	if measure < 0 || geo < 0 || period < 0 {
		return fault.Errorf(fault.BadInput, "schema changed: columns %v lack a count (Isc, Immatricolati, Lau), a province (ResidenzaP, SedeP) or a year (AnnoA, AnnoS)", header)
	}
	var pos int64
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fault.Errorf(fault.BadInput, "row %d: %w", pos+1, err)
		}
		if pos%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		row := pos
		pos++
		code := strings.TrimSpace(rec[geo])
		if n, err := strconv.Atoi(code); err == nil {
			code = fmt.Sprintf("%03d", n) // MUR drops leading zeros: 17 is Brescia, 017
		}
		t, ok := terr.Lookup(code)
		if !ok || t.Level != "province" {
			continue
		}
		year := strings.TrimSpace(rec[period])
		y, freq, err := academicYear(year)
		if err != nil {
			return fault.Errorf(fault.BadInput, "row %d: %w", row+1, err)
		}
		n, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(rec[measure]), ",", "."), 64)
		if err != nil {
			return fault.Errorf(fault.BadInput, "row %d: count %q is not a number", row+1, rec[measure])
		}
		var extra []string
		for name, i := range col {
			if i == measure || i == geo || i == period || name == "sesso" || strings.HasSuffix(name, "nome") {
				continue
			}
			extra = append(extra, name+"="+strings.TrimSpace(rec[i]))
		}
		sort.Strings(extra)
		sex := ""
		if i, ok := col["sesso"]; ok {
			sex = strings.TrimSpace(rec[i])
		}
		if err := emit(connectors.Observation{Indicator: indicator, Breakdown: strings.Join(extra, ";"), Unit: "PERS",
			Geo: t.Istat, Period: y, Freq: freq, Sex: sex, Value: &n, Position: row}); err != nil {
			return err
		}
	}
}

// academicYear reads MUR's years: an academic year 2024/2025 is the period 2024-25 (frequency SY, September
// to August), a solar year 2024 (AnnoS, graduates) the period 2024 (A).
func academicYear(s string) (period, freq string, err error) {
	from, to, academic := strings.Cut(s, "/")
	a, errA := strconv.Atoi(from)
	if errA != nil || len(from) != 4 {
		return "", "", fmt.Errorf("year %q", s)
	}
	if !academic {
		return from, "A", nil
	}
	if b, err := strconv.Atoi(to); err != nil || (b != a+1 && b != (a+1)%100) {
		return "", "", fmt.Errorf("academic year %q", s)
	}
	return fmt.Sprintf("%s-%02d", from, (a+1)%100), "SY", nil
}

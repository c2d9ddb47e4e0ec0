// Package mim connects the education ministry's school open data (Portale Unico dei Dati della Scuola):
// the school registry (anagrafe) and the students by course year and age. Each school year is a new file
// whose name (CODE + school year + date) is discovered on the dataset's catalogue page, never guessed
// (the date suffix varies and guesses 404); the change signal is that file name. The student files carry
// only the school code: a students dataset names its registry (resource) and its raw object is a zip of
// both files, joined when parsed to place each school in its province. "Non Disponibile" is a missing
// value. Only Lombardy's schools are kept.
package mim

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/osservatorio-lombardia/osservatorio/codelist"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/tabular"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "mim"

// Source is the connector.
type Source struct {
	base   string
	client *httpfetch.Client
	mu     sync.Mutex
	found  map[string]string // dataset code → file name found on its page
}

// New returns the connector for the catalogue at baseURL
// (https://dati.istruzione.it/opendata/opendata/catalogo/elements1 or a mirror).
func New(baseURL string, client *httpfetch.Client) *Source {
	return &Source{base: strings.TrimRight(baseURL, "/"), client: client, found: map[string]string{}}
}

// Name returns "mim".
func (s *Source) Name() string { return Name }

// Extension returns "csv" for a registry, "zip" for students with their registry.
func (s *Source) Extension(ds connectors.Dataset) string {
	if ds.Resource != "" {
		return "zip"
	}
	return "csv"
}

// Downloads says a students dataset (one with a registry to join) is downloaded as a zip of both files.
func (s *Source) Downloads(ds connectors.Dataset) bool { return ds.Resource != "" }

// pageURL is the catalogue page of a dataset code.
func (s *Source) pageURL(ds connectors.Dataset, code string) string {
	id := "DS0010" + code
	if v := ds.Query["dataset_id"]; len(v) > 0 && code == ds.SourceCode() {
		id = v[0]
	}
	return fmt.Sprintf("%s/leaf/?datasetId=%s", s.base, url.QueryEscape(id))
}

// fileName matches a file of the catalogue: CODE, the school year (202425) and a date (20240831).
func fileName(code string) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta(code) + `(\d{6})(\d{8})\.csv`)
}

// discover reads the dataset's page and returns its newest file (latest school year, then latest date).
func (s *Source) discover(ctx context.Context, ds connectors.Dataset, code string) (string, string, error) {
	u := s.pageURL(ds, code)
	resp, err := s.client.Get(ctx, httpfetch.Request{URL: u, Header: http.Header{"Accept": {"text/html"}}})
	if err != nil {
		return "", u, err
	}
	defer resp.Body.Close()
	if resp.Status != http.StatusOK {
		return "", u, fault.Errorf(fault.BadInput, "catalogue page %s: HTTP %d", u, resp.Status)
	}
	page, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return "", u, fault.Errorf(fault.SourceUnavailable, "catalogue page %s: %w", u, err)
	}
	names := fileName(code).FindAllString(string(page), -1)
	if len(names) == 0 {
		return "", u, fault.Errorf(fault.BadInput, "catalogue page %s lists no %s file (a changed page, or the dataset moved)", u, code)
	}
	sort.Strings(names) // CODE + school year + date: the newest sorts last
	name := names[len(names)-1]
	s.mu.Lock()
	s.found[code] = name
	s.mu.Unlock()
	return name, u, nil
}

func (s *Source) fileURL(name string) string { return s.base + "/leaf/" + name }

// Check discovers the newest file of the dataset (and of its registry): their names are the signal.
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	name, u, err := s.discover(ctx, ds, ds.SourceCode())
	if err != nil {
		return connectors.Signal{URL: u}, err
	}
	sig := connectors.Signal{Token: name, URL: u, Requests: 1}
	if ds.Resource != "" {
		reg, _, err := s.discover(ctx, ds, ds.Resource)
		if err != nil {
			return sig, err
		}
		sig.Token += "+" + reg
		sig.Requests++
	}
	return sig, nil
}

func (s *Source) file(code string) (string, error) {
	s.mu.Lock()
	name := s.found[code]
	s.mu.Unlock()
	if name == "" {
		return "", fault.Errorf(fault.SourceUnavailable, "the file of %s is not discovered yet", code)
	}
	return name, nil
}

// DataRequest downloads the registry file found by Check.
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	name, err := s.file(ds.SourceCode())
	if err != nil {
		return httpfetch.Request{}, err
	}
	return httpfetch.Request{URL: s.fileURL(name)}, nil
}

// Download writes a zip of the students file and its registry file, in that order, with fixed
// timestamps so that the same files make the same bytes.
func (s *Source) Download(ctx context.Context, ds connectors.Dataset, _ connectors.Cursor, sink connectors.Sink) (connectors.Cursor, error) {
	var names []string
	for _, code := range []string{ds.SourceCode(), ds.Resource} {
		name, err := s.file(code)
		if err != nil {
			return connectors.Cursor{}, err
		}
		names = append(names, name)
	}
	cur := connectors.Cursor{Mode: "files", Note: "students " + names[0] + " with registry " + names[1]}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.zipFiles(ctx, names, pw, sink)
		pw.CloseWithError(err)
		done <- err
	}()
	err := sink.Page(ctx, pr, func() connectors.Cursor { return cur })
	pr.CloseWithError(io.ErrClosedPipe) // unblock the writer if the sink stopped early
	if werr := <-done; werr != nil && !errors.Is(werr, io.ErrClosedPipe) {
		return cur, werr
	}
	return cur, err
}

// zipFiles streams the files into a zip written to w.
func (s *Source) zipFiles(ctx context.Context, names []string, w io.Writer, sink connectors.Sink) error {
	zw := zip.NewWriter(w)
	for _, name := range names {
		u := s.fileURL(name)
		sink.Sent(u)
		resp, err := s.client.Get(ctx, httpfetch.Request{URL: u})
		if err != nil {
			return err
		}
		head := make([]byte, 512)
		n, _ := io.ReadFull(resp.Body, head)
		if err := s.Inspect(connectors.Dataset{}, resp.Status, resp.Header, head[:n]); err != nil {
			resp.Body.Close()
			return fault.Wrap(fault.KindOf(err), name, err)
		}
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err != nil {
			resp.Body.Close()
			return err
		}
		fw.Write(head[:n])
		_, err = io.Copy(fw, resp.Body)
		resp.Body.Close()
		if err != nil {
			return fault.Errorf(fault.SourceUnavailable, "%s: %w", name, err)
		}
	}
	return zw.Close()
}

// Inspect rejects error statuses, HTML pages and empty files.
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case status >= 400:
		return fault.Errorf(fault.BadInput, "HTTP %d", status)
	case bytes.HasPrefix(trimmed, []byte("<")):
		return fault.Errorf(fault.BadInput, "an HTML page instead of the CSV file")
	case ds.Resource != "" && !bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return fault.Errorf(fault.BadInput, "not the zip of students and registry")
	case len(trimmed) == 0:
		return fault.Errorf(fault.BadInput, "an empty file")
	}
	return nil
}

// Parse counts the registry's schools, or sums the students of Lombardy's schools.
func (s *Source) Parse(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	if ds.Resource == "" {
		return parseRegistry(ds, r, emit)
	}
	zr, done, err := connectors.OpenZip(r)
	if err != nil {
		return err
	}
	defer done()
	if len(zr.File) != 2 {
		return fault.Errorf(fault.BadInput, "not the zip of a students file and its registry (%d files)", len(zr.File))
	}
	reg, err := zr.File[1].Open()
	if err != nil {
		return fault.Wrap(fault.BadInput, "registry", err)
	}
	province, err := registry(reg)
	reg.Close()
	if err != nil {
		return fault.Wrap(fault.KindOf(err), zr.File[1].Name, err)
	}
	st, err := zr.File[0].Open()
	if err != nil {
		return fault.Wrap(fault.BadInput, "students", err)
	}
	defer st.Close()
	return parseStudents(ds, st, province, emit)
}

// table reads a MIM CSV (comma, UTF-8, CRLF, quoted), returning its rows as maps of normalised column
// names (upper case, no spaces: the student files' spelling varies).
func table(r io.Reader, need []string, each func(row map[string]string) error) error {
	br := bytesReader(r)
	head, _ := br.Peek(4096)
	cr := tabular.NewReader(br, tabular.Sniff(head))
	header, err := cr.Read()
	if err != nil {
		return fault.Errorf(fault.BadInput, "no header: %v", err)
	}
	cols := make([]string, len(header))
	have := map[string]bool{}
	for i, h := range header {
		cols[i] = strings.ReplaceAll(strings.ToUpper(strings.TrimSpace(h)), " ", "")
		have[cols[i]] = true
	}
	for _, n := range need {
		if !have[n] {
			return fault.Errorf(fault.BadInput, "schema changed: column %s missing from %v", n, header)
		}
	}
	row := map[string]string{}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fault.Errorf(fault.BadInput, "line %d: %v", line, err)
		}
		for i, c := range cols {
			row[c] = ""
			if i < len(rec) {
				row[c] = strings.TrimSpace(rec[i])
			}
		}
		if err := each(row); err != nil {
			return fault.Wrap(fault.BadInput, fmt.Sprintf("line %d", line), err)
		}
	}
}

func bytesReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 64<<10) }

// registry maps the codes of Lombardy's schools to their province's Istat code.
func registry(r io.Reader) (map[string]string, error) {
	terr := codelist.MustTerritories()
	out := map[string]string{}
	all := 0
	err := table(r, []string{"CODICESCUOLA", "PROVINCIA"}, func(row map[string]string) error {
		all++
		if t, ok := terr.Lookup(row["PROVINCIA"]); ok && t.Level == "province" {
			out[row["CODICESCUOLA"]] = t.Istat
		} else {
			out[row["CODICESCUOLA"]] = "" // known, elsewhere
		}
		return nil
	})
	if err == nil && all == 0 {
		err = fault.Errorf(fault.BadInput, "an empty registry")
	}
	return out, err
}

// schoolYear turns 202425 into the period 2024 and the label 2024/25.
func schoolYear(as string) (string, string, error) {
	if len(as) != 6 || strings.Trim(as, "0123456789") != "" {
		return "", "", fmt.Errorf("ANNOSCOLASTICO %q is not like 202425", as)
	}
	return as[:4] + "-" + as[4:], as[:4] + "/" + as[4:], nil
}

// ageRE reads MIM's age classes: "6 anni", and the open ends "fino a 5 anni", "oltre 19 anni".
var ageRE = regexp.MustCompile(`^(?i)\s*(fino a |oltre |< ?|> ?)?(\d{1,2}) anni( e oltre| e più)?\s*$`)

// ageClass writes a MIM age class in the common model's notation (Y6, Y_LT6, Y_GE20); an age it cannot
// read is returned as given, for the harmonizer to flag.
func ageClass(s string) string {
	m := ageRE.FindStringSubmatch(s)
	if m == nil {
		return s
	}
	n, _ := strconv.Atoi(m[2])
	switch strings.ToLower(strings.TrimSpace(m[1])) {
	case "fino a":
		return fmt.Sprintf("Y_LT%d", n+1)
	case "<":
		return fmt.Sprintf("Y_LT%d", n)
	case "oltre", ">":
		return fmt.Sprintf("Y_GE%d", n+1)
	}
	if m[3] != "" {
		return fmt.Sprintf("Y_GE%d", n)
	}
	return fmt.Sprintf("Y%d", n)
}

func parseRegistry(ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	terr := codelist.MustTerritories()
	type key struct{ prov, year, label, kind string }
	counts := map[key]int64{}
	err := table(r, []string{"ANNOSCOLASTICO", "PROVINCIA", "CODICESCUOLA", "DESCRIZIONETIPOLOGIAGRADOISTRUZIONESCUOLA"}, func(row map[string]string) error {
		t, ok := terr.Lookup(row["PROVINCIA"])
		if !ok || t.Level != "province" {
			return nil
		}
		year, label, err := schoolYear(row["ANNOSCOLASTICO"])
		if err != nil {
			return err
		}
		counts[key{t.Istat, year, label, row["DESCRIZIONETIPOLOGIAGRADOISTRUZIONESCUOLA"]}]++
		return nil
	})
	if err != nil {
		return err
	}
	keys := make([]key, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return a.prov+a.year+a.kind < b.prov+b.year+b.kind
	})
	for i, k := range keys {
		v := float64(counts[k])
		if err := emit(connectors.Observation{Indicator: ds.ID, Unit: "NR", Geo: k.prov, Period: k.year, Freq: "SY",
			Education: k.kind, Breakdown: "tipologia=" + k.kind, Value: &v, Position: int64(i)}); err != nil {
			return err
		}
	}
	return nil
}

// maxUnmatched is the share of student rows whose school the registry does not know beyond which the
// pair of files is rejected (a registry of another year, a truncated registry).
const maxUnmatched = 0.01

func parseStudents(ds connectors.Dataset, r io.Reader, province map[string]string, emit func(connectors.Observation) error) error {
	type key struct{ prov, year, label, order, grade, age string }
	sums := map[key]float64{}
	missing := map[key]bool{}
	rows, unmatched := 0, 0
	example := ""
	err := table(r, []string{"ANNOSCOLASTICO", "CODICESCUOLA", "ORDINESCUOLA", "ANNOCORSO", "FASCIAETA", "ALUNNI"}, func(row map[string]string) error {
		rows++
		prov, known := province[row["CODICESCUOLA"]]
		if !known {
			unmatched++
			example = row["CODICESCUOLA"]
			return nil
		}
		if prov == "" {
			return nil // a school outside Lombardy
		}
		year, label, err := schoolYear(row["ANNOSCOLASTICO"])
		if err != nil {
			return err
		}
		k := key{prov, year, label, row["ORDINESCUOLA"], row["ANNOCORSO"], row["FASCIAETA"]}
		v, ok, err := tabular.ParseNumber(row["ALUNNI"], false)
		if err != nil {
			return err
		}
		if !ok {
			missing[k] = true
			return nil
		}
		sums[k] += v
		return nil
	})
	if err != nil {
		return err
	}
	if rows > 0 && float64(unmatched)/float64(rows) > maxUnmatched {
		return fault.Errorf(fault.BadInput, "%d of %d student rows name a school the registry does not know (e.g. %s): a registry of another year?", unmatched, rows, example)
	}
	keys := make([]key, 0, len(sums)+len(missing))
	for k := range sums {
		keys = append(keys, k)
	}
	for k := range missing {
		if _, ok := sums[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		return strings.Join([]string{a.prov, a.year, a.order, a.grade, a.age}, "\x00") < strings.Join([]string{b.prov, b.year, b.order, b.grade, b.age}, "\x00")
	})
	for i, k := range keys {
		o := connectors.Observation{Indicator: ds.ID, Unit: "PERS", Geo: k.prov, Period: k.year, Freq: "SY", Education: k.order,
			Age: ageClass(k.age), Breakdown: "anno_corso=" + k.grade, Position: int64(i)}
		if v, ok := sums[k]; ok {
			o.Value = &v
		} else {
			o.Status = "Non Disponibile"
		}
		if err := emit(o); err != nil {
			return err
		}
	}
	return nil
}

// Package mlps connects the labour ministry's open data on the comunicazioni obbligatorie: the tables of
// activated and terminated employment relationships (by gender, sector, region, …) that dati.lavoro.gov.it
// publishes and dati.gov.it harvests (CKAN, publisher m_lps). A dataset is a CKAN package and a file name;
// the change signal is the resource's last_modified (else the package's metadata_modified), read with one
// package_show. The files are plain statistical CSV whose field names the ministry does not document: the
// dataset's configuration maps them (package tabular), and a renamed column stops with a schema error.
// The ministry's own host sits behind a WAF that answers scripts with HTML: that is rejected as such.
// Only regional (Lombardia) rows are kept; the ministry publishes nothing finer.
package mlps

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/ckan"
	"github.com/osservatorio-lombardia/osservatorio/connectors/tabular"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Name is the source's configuration name.
const Name = "mlps"

// Source is the connector.
type Source struct {
	base, files string
	client      *httpfetch.Client
	mu          sync.Mutex
	urls        map[string]string // dataset → file URL found by the last Check
}

// New returns the connector for the CKAN catalogue at baseURL (https://www.dati.gov.it/opendata). Files
// are fetched from the URL the catalogue gives, or, when filesURL is set (a mirror), from the same path
// under filesURL.
func New(baseURL, filesURL string, client *httpfetch.Client) *Source {
	return &Source{base: strings.TrimRight(baseURL, "/"), files: strings.TrimRight(filesURL, "/"), client: client, urls: map[string]string{}}
}

// Name returns "mlps".
func (s *Source) Name() string { return Name }

// Extension returns "csv".
func (s *Source) Extension(connectors.Dataset) string { return "csv" }

// Check reads the package and finds the dataset's file in it: by file name when the dataset names one,
// else the package's only CSV resource.
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	pkg, u, err := ckan.PackageShow(ctx, s.client, s.base, ds.SourceCode())
	if err != nil {
		return connectors.Signal{URL: u}, err
	}
	res, ok := pkg.ResourceByFile(ds.Resource)
	if ds.Resource == "" {
		res, ok = onlyCSV(pkg)
	}
	if !ok {
		return connectors.Signal{URL: u}, fault.Errorf(fault.BadInput, "package %s has no file %q (its files: %s)", ds.SourceCode(), ds.Resource, files(pkg))
	}
	fu := res.URL
	if s.files != "" {
		if fu, err = ckan.Rebase(res.URL, s.files); err != nil {
			return connectors.Signal{URL: u}, fault.Wrap(fault.BadInput, "resource URL", err)
		}
	}
	s.mu.Lock()
	s.urls[ds.ID] = fu
	s.mu.Unlock()
	token := res.LastModified
	if token == "" {
		token = pkg.MetadataModified
	}
	return connectors.Signal{Token: token, URL: u}, nil
}

func onlyCSV(pkg ckan.Package) (ckan.Resource, bool) {
	var found []ckan.Resource
	for _, r := range pkg.Resources {
		if strings.EqualFold(r.Format, "csv") || strings.EqualFold(path.Ext(r.URL), ".csv") {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return ckan.Resource{}, false
	}
	return found[0], true
}

func files(pkg ckan.Package) string {
	var names []string
	for _, r := range pkg.Resources {
		names = append(names, path.Base(r.URL))
	}
	return strings.Join(names, ", ")
}

// DataRequest downloads the file found by Check.
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	s.mu.Lock()
	u := s.urls[ds.ID]
	s.mu.Unlock()
	if u == "" {
		return httpfetch.Request{}, fault.Errorf(fault.SourceUnavailable, "the file of %s is not resolved yet", ds.ID)
	}
	return httpfetch.Request{URL: u, Header: http.Header{"Accept": {"text/csv, */*"}}}, nil
}

// Inspect rejects error statuses, the WAF's HTML, JSON errors and empty files.
func (s *Source) Inspect(ds connectors.Dataset, status int, header http.Header, head []byte) error {
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	lower := bytes.ToLower(trimmed[:min(len(trimmed), 64)])
	switch {
	case status >= 400:
		return fault.Errorf(fault.BadInput, "HTTP %d", status)
	case bytes.HasPrefix(lower, []byte("<")), strings.HasPrefix(strings.ToLower(header.Get("Content-Type")), "text/html"):
		return fault.Errorf(fault.BadInput, "an HTML page instead of the CSV file (the ministry's WAF answers scripts this way)")
	case bytes.HasPrefix(trimmed, []byte("{")):
		return fault.Errorf(fault.BadInput, "JSON instead of the CSV file: %q", string(trimmed[:min(len(trimmed), 120)]))
	case len(trimmed) == 0:
		return fault.Errorf(fault.BadInput, "an empty file")
	}
	return nil
}

// Parse reads the table with the dataset's column mapping.
func (s *Source) Parse(ctx context.Context, ds connectors.Dataset, r io.Reader, emit func(connectors.Observation) error) error {
	_, err := tabular.Read(r, ds, tabular.Columns(ds.Columns), emit)
	return err
}

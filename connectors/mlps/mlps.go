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
	"strings"

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
	files *ckan.Files
}

// New returns the connector for the CKAN catalogue at baseURL (https://www.dati.gov.it/opendata). Files
// are fetched from the URL the catalogue gives, or, when filesURL is set (a mirror), from the same path
// under filesURL.
func New(baseURL, filesURL string, client *httpfetch.Client) *Source {
	return &Source{files: &ckan.Files{Base: strings.TrimRight(baseURL, "/"), Rebase: strings.TrimRight(filesURL, "/"), Client: client}}
}

// Name returns "mlps".
func (s *Source) Name() string { return Name }

// Extension returns "csv".
func (s *Source) Extension(connectors.Dataset) string { return "csv" }

// Check reads the package and finds the dataset's file in it: by file name when the dataset names one,
// else the package's only CSV resource.
func (s *Source) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	return s.files.Check(ctx, ds)
}

// DataRequest downloads the file found by Check.
func (s *Source) DataRequest(ds connectors.Dataset) (httpfetch.Request, error) {
	return s.files.Request(ds)
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

// Package ckan reads CKAN catalogues (MUR's USTAT portal, dati.gov.it for the labour ministry):
// package_show, whose metadata_modified and resources[].last_modified are the change signals, and the
// resources of a package found by file name (their ids change when a package is republished).
package ckan

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
)

// Resource is one file of a package.
type Resource struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	URL          string `json:"url"`
	Format       string `json:"format"`
	LastModified string `json:"last_modified"`
}

// Package is a CKAN dataset.
type Package struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	MetadataModified string     `json:"metadata_modified"`
	Resources        []Resource `json:"resources"`
}

// PackageShow asks {base}/api/3/action/package_show?id=… and returns the package and the URL asked.
func PackageShow(ctx context.Context, c *httpfetch.Client, base, id string) (Package, string, error) {
	u := fmt.Sprintf("%s/api/3/action/package_show?id=%s", strings.TrimRight(base, "/"), url.QueryEscape(id))
	resp, err := c.Get(ctx, httpfetch.Request{URL: u, Header: http.Header{"Accept": {"application/json"}}})
	if err != nil {
		return Package{}, u, err
	}
	defer resp.Body.Close()
	if resp.Status != http.StatusOK {
		return Package{}, u, fault.Errorf(fault.BadInput, "package_show %s: HTTP %d", u, resp.Status)
	}
	var env struct {
		Success bool            `json:"success"`
		Result  Package         `json:"result"`
		Error   json.RawMessage `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&env); err != nil {
		return Package{}, u, fault.Wrap(fault.BadInput, "package_show "+u+": not CKAN JSON", err)
	}
	if !env.Success {
		return Package{}, u, fault.Errorf(fault.BadInput, "package_show %s: %s", u, string(env.Error))
	}
	return env.Result, u, nil
}

// ResourceByFile returns the resource whose URL ends with file (or whose name is file).
func (p Package) ResourceByFile(file string) (Resource, bool) {
	for _, r := range p.Resources {
		if strings.EqualFold(path.Base(r.URL), file) || strings.EqualFold(r.Name, file) {
			return r, true
		}
	}
	return Resource{}, false
}

// Rebase moves a resource URL onto base (scheme, host and path prefix), keeping its path: a catalogue's
// files are served by the catalogue's own site, so a mirror of the site serves them too.
func Rebase(resourceURL, base string) (string, error) {
	r, err := url.Parse(resourceURL)
	if err != nil {
		return "", err
	}
	b, err := url.Parse(strings.TrimRight(base, "/"))
	if err != nil {
		return "", err
	}
	b.Path += r.Path
	b.RawQuery = r.RawQuery
	return b.String(), nil
}

// Files finds the file of each dataset in its CKAN package (the change check) and remembers it for the
// download that follows. A dataset names its package (code) and its file (resource); a dataset that names
// no file takes its package's only CSV.
type Files struct {
	Base   string // the catalogue, e.g. https://dati-ustat.mur.gov.it
	Rebase string // when set, files are fetched from the same path under it (a mirror; MUR: Base itself)
	Client *httpfetch.Client
	mu     sync.Mutex
	urls   map[string]string // dataset → file URL found by the last Check
}

// Check reads the package, finds the dataset's file and returns its change signal: the file's
// last_modified, else the package's metadata_modified.
func (f *Files) Check(ctx context.Context, ds connectors.Dataset) (connectors.Signal, error) {
	pkg, u, err := PackageShow(ctx, f.Client, f.Base, ds.SourceCode())
	if err != nil {
		return connectors.Signal{URL: u}, err
	}
	res, ok := pkg.ResourceByFile(ds.Resource)
	if ds.Resource == "" {
		res, ok = pkg.onlyCSV()
	}
	if !ok {
		return connectors.Signal{URL: u}, fault.Errorf(fault.BadInput, "package %s has no file %q (its files: %s)", ds.SourceCode(), ds.Resource, pkg.files())
	}
	fu := res.URL
	if f.Rebase != "" {
		if fu, err = Rebase(res.URL, f.Rebase); err != nil {
			return connectors.Signal{URL: u}, fault.Wrap(fault.BadInput, "resource URL", err)
		}
	}
	f.mu.Lock()
	if f.urls == nil {
		f.urls = map[string]string{}
	}
	f.urls[ds.ID] = fu
	f.mu.Unlock()
	token := res.LastModified
	if token == "" {
		token = pkg.MetadataModified
	}
	return connectors.Signal{Token: token, URL: u}, nil
}

// Request returns the download of the file the last Check found.
func (f *Files) Request(ds connectors.Dataset) (httpfetch.Request, error) {
	f.mu.Lock()
	u := f.urls[ds.ID]
	f.mu.Unlock()
	if u == "" {
		return httpfetch.Request{}, fault.Errorf(fault.SourceUnavailable, "the file of %s is not resolved yet", ds.ID)
	}
	return httpfetch.Request{URL: u, Header: http.Header{"Accept": {"text/csv, */*"}}}, nil
}

func (p Package) onlyCSV() (Resource, bool) {
	var found []Resource
	for _, r := range p.Resources {
		if strings.EqualFold(r.Format, "csv") || strings.EqualFold(path.Ext(r.URL), ".csv") {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return Resource{}, false
	}
	return found[0], true
}

func (p Package) files() string {
	var names []string
	for _, r := range p.Resources {
		names = append(names, path.Base(r.URL))
	}
	return strings.Join(names, ", ")
}

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

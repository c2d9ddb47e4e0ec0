// Package mirror serves recorded source responses over HTTP, so that every connector can run against a
// local copy of its API: for `make demo`, for the integration tests, and for air-gapped installs. The
// recorded responses ship inside the binary (recorded/, with their provenance in recorded/README.md); a
// directory of the same layout can replace them.
package mirror

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

//go:embed recorded
var recorded embed.FS

// Recorded returns the recorded responses that ship with the platform.
func Recorded() fs.FS {
	sub, err := fs.Sub(recorded, "recorded")
	if err != nil {
		panic(err)
	}
	return sub
}

// modTime is the Last-Modified of every embedded response: fixed, so conditional requests behave the same
// on every machine.
var modTime = time.Date(2025, 4, 25, 8, 0, 0, 0, time.UTC)

// Server answers GET <source>/<path>?<query> with the file at <source>/<path> or that path plus .json,
// .xml or .csv (or, failing that, the same for a shorter prefix of the path); the query is ignored (a recording answers the configured query). It honours If-None-Match
// and If-Modified-Since, and counts requests and bytes.
type Server struct {
	files    fs.FS
	requests atomic.Int64
	bytes    atomic.Int64
}

// New returns a Server over files.
func New(files fs.FS) *Server { return &Server{files: files} }

// Stats returns the requests served and the bytes of their bodies.
func (s *Server) Stats() (requests, bytes int64) { return s.requests.Load(), s.bytes.Load() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	// A POST (a query API such as INPS's) is answered by the recording of its path, whatever its body.
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	// A Socrata resource (<source>/resource/<id>.csv or .json) is a recorded table answering SoQL.
	if dir, file := path.Split(p); path.Base(dir) == "resource" && (path.Ext(file) == ".csv" || path.Ext(file) == ".json") {
		table := dir + strings.TrimSuffix(file, path.Ext(file)) + ".csv"
		if _, err := fs.Stat(s.files, table); err == nil {
			cw := &countWriter{ResponseWriter: w}
			SODA{Table: s.files, Path: table}.ServeHTTP(cw, r)
			s.bytes.Add(cw.n)
			return
		}
	}
	// A recording of a path also answers longer paths under it (an SDMX data key: data/FLOW/A.ITC4C+…),
	// up to three segments deeper.
	var names []string
	// A recording of one query (<path>@<query, sorted>) answers it before the recording of the path does:
	// where the query names the resource (MIM's ?datasetId=…).
	if r.URL.RawQuery != "" {
		q := p + "@" + r.URL.Query().Encode()
		names = append(names, q, q+".json", q+".xml", q+".csv", q+".html")
	}
	for q, i := p, 0; i < 4 && q != "." && q != ""; q, i = path.Dir(q), i+1 {
		names = append(names, q, q+".json", q+".xml", q+".csv", q+".html")
	}
	for _, name := range names {
		data, err := fs.ReadFile(s.files, name)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(data)
		w.Header().Set("Content-Type", contentType(name))
		w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
		cw := &countWriter{ResponseWriter: w}
		if r.Method == http.MethodPost {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			cw.Write(data)
			s.bytes.Add(cw.n)
			return
		}
		http.ServeContent(cw, r, name, modTime, bytes.NewReader(data))
		s.bytes.Add(cw.n)
		return
	}
	http.Error(w, "no recorded response for "+r.URL.Path, http.StatusNotFound)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".json":
		return "application/json"
	case ".xml":
		return "application/xml"
	case ".csv":
		return "text/csv; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	}
	return "application/octet-stream"
}

type countWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	return n, err
}

package connectors

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/fault"
)

// CheckBody rejects, the same way for every source, what is plainly not data: an error status (with the
// start of its body), an HTML page (by its Content-Type or its first bytes), an empty body. It returns the
// body's start without BOM and leading space, for the connector's own format checks.
func CheckBody(status int, header http.Header, head []byte) ([]byte, error) {
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	lower := bytes.ToLower(trimmed[:min(len(trimmed), 64)])
	switch {
	case status >= 400:
		return trimmed, fault.Errorf(fault.BadInput, "HTTP %d: %q", status, Snippet(trimmed, 160))
	case bytes.HasPrefix(lower, []byte("<!doctype html")), bytes.HasPrefix(lower, []byte("<html")),
		strings.HasPrefix(strings.ToLower(header.Get("Content-Type")), "text/html"):
		return trimmed, fault.Errorf(fault.BadInput, "an HTML page instead of data")
	case len(trimmed) == 0:
		return trimmed, fault.Errorf(fault.BadInput, "an empty body")
	}
	return trimmed, nil
}

// Snippet returns the first n bytes of b as a string, for an error message.
func Snippet(b []byte, n int) string { return string(b[:min(len(b), n)]) }

// OpenZip spools a zip archive (which needs random access) to a temporary file and opens it; done closes
// and removes the file.
func OpenZip(r io.Reader) (zr *zip.Reader, done func(), err error) {
	tmp, err := os.CreateTemp("", "raw-*.zip")
	if err != nil {
		return nil, nil, err
	}
	done = func() { tmp.Close(); os.Remove(tmp.Name()) }
	size, err := io.Copy(tmp, r)
	if err != nil {
		done()
		return nil, nil, err
	}
	if zr, err = zip.NewReader(tmp, size); err != nil {
		done()
		return nil, nil, fault.Wrap(fault.BadInput, "not a zip archive", fmt.Errorf("%w", err))
	}
	return zr, done, nil
}

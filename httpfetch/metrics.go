package httpfetch

import (
	"io"
	"net/http"
	"strconv"

	"github.com/osservatorio-lombardia/osservatorio/metrics"
)

// counted is the innermost transport: it counts every request sent to the source (each retry too), its
// status, 304s, and the body bytes read.
type counted struct {
	source string
	base   http.RoundTripper
}

func (c counted) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		metrics.Requests.WithLabelValues(c.source, "error").Inc()
		return resp, err
	}
	metrics.Requests.WithLabelValues(c.source, strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode == http.StatusNotModified {
		metrics.NotModified.WithLabelValues(c.source).Inc()
	}
	if resp.Body != nil {
		resp.Body = &countedBody{ReadCloser: resp.Body, bytes: metrics.Bytes.WithLabelValues(c.source)}
	}
	return resp, nil
}

type countedBody struct {
	io.ReadCloser
	bytes interface{ Add(float64) }
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.bytes.Add(float64(n))
	return n, err
}

// Package httpfetch is the platform's one HTTP client for sources: a few short retries inside one attempt
// (Temporal owns every retry beyond that), conditional requests, and downloads that stream to a spool file
// while hashing, never holding a body in memory.
package httpfetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/osservatorio-lombardia/osservatorio/fault"
)

// Credentials are the request headers that carry a secret: never sent to another host than the one they
// were meant for (Go drops Authorization and Cookie on its own; a source's token header it does not know).
var Credentials = []string{"Authorization", "Proxy-Authorization", "Cookie", "X-App-Token", "X-Api-Key", "Api-Key"}

// Redacted returns a copy of h with the value of every credential header replaced, for records (sidecars,
// logs) that must say a header was sent without saying what it held.
func Redacted(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := h.Clone()
	for _, name := range Credentials {
		if out.Get(name) != "" {
			out.Set(name, "[redacted]")
		}
	}
	return out
}

// dropCredentialsAcrossHosts follows up to 10 redirects, without credentials once a redirect leaves the
// host of the first request.
func dropCredentialsAcrossHosts(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if !strings.EqualFold(req.URL.Hostname(), via[0].URL.Hostname()) {
		for _, h := range Credentials {
			req.Header.Del(h)
		}
	}
	return nil
}

// UserAgent identifies the platform to sources.
const UserAgent = "osservatorio/1 (+https://github.com/osservatorio-lombardia/osservatorio)"

// Client fetches from sources.
type Client struct {
	http    *retryablehttp.Client
	timeout time.Duration
	idle    time.Duration
}

// Options configure a Client.
type Options struct {
	// Retries inside one attempt (default 2), waiting between WaitMin and WaitMax, honouring Retry-After.
	Retries int
	WaitMin time.Duration
	WaitMax time.Duration
	Logger  *slog.Logger
	// Transport wraps the HTTP transport, e.g. with a rate limiter that every attempt passes through.
	Transport func(http.RoundTripper) http.RoundTripper
	// Source names the source in the metrics (requests, status, 304s, bytes); "" counts as "other".
	Source string
	// Timeout bounds one request, its body included (0: none; a source's `timeout`).
	Timeout time.Duration
	// Idle bounds the wait for the response headers and then for each next byte of the body (default
	// DefaultIdle): a source that accepts the connection and never answers, or stops mid-body, is a
	// SourceUnavailable fault naming the URL well before the activity's heartbeat timeout.
	Idle time.Duration
}

// DefaultIdle is how long a request waits for headers or for the next byte of its body.
const DefaultIdle = 45 * time.Second

// New returns a Client.
func New(opts Options) *Client {
	c := retryablehttp.NewClient()
	c.RetryMax = 2
	if opts.Retries > 0 {
		c.RetryMax = opts.Retries
	}
	c.RetryWaitMin, c.RetryWaitMax = 500*time.Millisecond, 3*time.Second
	if opts.WaitMin > 0 {
		c.RetryWaitMin = opts.WaitMin
	}
	if opts.WaitMax > 0 {
		c.RetryWaitMax = opts.WaitMax
	}
	c.Logger = nil
	if opts.Logger != nil {
		// A blip retried inside an attempt is not an error of the platform: the attempt's own outcome is
		// logged by the activity. Everything retryablehttp says goes to debug.
		c.Logger = debugLogger{opts.Logger}
	}
	// DefaultBackoff honours Retry-After on 429 and 503.
	c.Backoff = retryablehttp.DefaultBackoff
	idle := opts.Idle
	if idle <= 0 {
		idle = DefaultIdle
	}
	if tr, ok := c.HTTPClient.Transport.(*http.Transport); ok {
		tr.ResponseHeaderTimeout = idle
	}
	source := opts.Source
	if source == "" {
		source = "other"
	}
	c.HTTPClient.Transport = counted{source: source, base: c.HTTPClient.Transport}
	if opts.Transport != nil {
		c.HTTPClient.Transport = opts.Transport(c.HTTPClient.Transport)
	}
	c.HTTPClient.CheckRedirect = dropCredentialsAcrossHosts
	// After the last retry, hand back the response rather than an opaque "giving up" error, so the caller
	// can classify the status.
	c.ErrorHandler = retryablehttp.PassthroughErrorHandler
	c.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if err == nil && resp != nil && slices.Contains(passed(ctx), resp.StatusCode) {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return &Client{http: c, timeout: opts.Timeout, idle: idle}
}

// Request is one request: a GET, or a POST when Body is set.
type Request struct {
	URL    string
	Header http.Header
	// Body, when set, is sent with POST (a query API such as INPS's).
	Body []byte
	// Pass lists statuses that are answers, not failures, for this request: returned as a response,
	// never retried (INAIL's 500 "Dati non trovati" for a month with no data).
	Pass []int
	// ETag and LastModified make the request conditional (If-None-Match / If-Modified-Since).
	ETag         string
	LastModified string
}

// Response is a source's answer. NotModified is true on 304; Body is then nil.
type Response struct {
	Status      int
	Header      http.Header
	Body        io.ReadCloser
	NotModified bool
}

// Get sends req. A network failure or a 5xx/429 after the in-attempt retries is a SourceUnavailable fault; a
// 4xx is returned as a response for the caller to classify.
func (c *Client) Get(ctx context.Context, req Request) (_ *Response, err error) {
	parent := ctx
	var cancel context.CancelFunc
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer func() {
		if err != nil {
			cancel()
		}
	}()
	resp, err := c.get(ctx, req)
	if err != nil {
		if parent.Err() == nil && ctx.Err() != nil {
			return nil, fault.Errorf(fault.SourceUnavailable, "%s: no answer within the source's timeout of %s", req.URL, c.timeout)
		}
		return nil, err
	}
	if resp.Body != nil {
		resp.Body = newWatchedBody(resp.Body, req.URL, c.idle, c.timeout, parent, ctx, cancel)
	} else {
		cancel()
	}
	return resp, nil
}

func (c *Client) get(ctx context.Context, req Request) (*Response, error) {
	method, body := http.MethodGet, interface{}(nil)
	if req.Body != nil {
		method, body = http.MethodPost, req.Body
	}
	r, err := retryablehttp.NewRequestWithContext(ctx, method, req.URL, body)
	if err != nil {
		return nil, fault.Errorf(fault.BadInput, "request %s: %w", req.URL, err)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	r.Header.Set("User-Agent", UserAgent)
	if req.ETag != "" {
		r.Header.Set("If-None-Match", req.ETag)
	}
	if req.LastModified != "" {
		r.Header.Set("If-Modified-Since", req.LastModified)
	}
	if len(req.Pass) > 0 {
		r = r.WithContext(context.WithValue(ctx, passKey{}, req.Pass))
	}
	resp, err := c.http.Do(r)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fault.Errorf(fault.SourceUnavailable, "%s %s: %w", method, req.URL, err)
	}
	if resp.StatusCode == http.StatusNotModified {
		resp.Body.Close()
		return &Response{Status: resp.StatusCode, Header: resp.Header, NotModified: true}, nil
	}
	if (resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests) && !slices.Contains(req.Pass, resp.StatusCode) {
		snippet := readSnippet(resp.Body)
		resp.Body.Close()
		return nil, fault.Errorf(fault.SourceUnavailable, "%s %s: HTTP %d %s", method, req.URL, resp.StatusCode, snippet)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: resp.Body}, nil
}

type passKey struct{}

func passed(ctx context.Context) []int {
	p, _ := ctx.Value(passKey{}).([]int)
	return p
}

// readSnippet returns the start of an error body for a message.
func readSnippet(r io.Reader) string {
	buf := make([]byte, 200)
	n, _ := io.ReadFull(r, buf)
	return strings.Join(strings.Fields(string(buf[:n])), " ") // one line, whatever the body's layout
}

// Spooled is a body written to a local spool file.
type Spooled struct {
	Path   string
	Size   int64
	SHA256 string
	// Head holds the first bytes of the body, for sniffing its format.
	Head []byte
}

// ErrTooLarge is returned by Spool when a body exceeds its limit.
var ErrTooLarge = errors.New("body exceeds the size limit")

// Spool streams body into a new file in dir, hashing as it goes, failing once more than maxBytes arrive.
// progress, when set, is called with the bytes so far at most every 500 ms. When the server announced a
// Content-Length and fewer bytes arrive, the error says the body was truncated. On error the partial file is
// kept and returned, so the caller can store it for inspection.
func Spool(ctx context.Context, body io.Reader, contentLength int64, dir string, maxBytes int64, progress func(int64)) (Spooled, error) {
	f, err := os.CreateTemp(dir, "spool-*")
	if err != nil {
		return Spooled{}, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	w := &countingWriter{w: io.MultiWriter(f, h), head: make([]byte, 0, 4096)}
	limit := maxBytes
	if limit <= 0 {
		limit = 1 << 40
	}
	src := io.LimitReader(&ctxReader{ctx: ctx, r: body}, limit+1)
	last := time.Now()
	buf := make([]byte, 256<<10)
	var copyErr error
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				copyErr = werr
				break
			}
			if progress != nil && time.Since(last) > 500*time.Millisecond {
				progress(w.n)
				last = time.Now()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			copyErr = rerr
			break
		}
	}
	out := Spooled{Path: f.Name(), Size: w.n, SHA256: hex.EncodeToString(h.Sum(nil)), Head: w.head}
	switch {
	case copyErr != nil && ctx.Err() != nil:
		return out, ctx.Err()
	case w.n > limit:
		return out, fault.Errorf(fault.BadInput, "body larger than the limit of %d bytes: %w", limit, ErrTooLarge)
	case copyErr != nil && (errors.Is(copyErr, io.ErrUnexpectedEOF) || contentLength > w.n):
		return out, fault.Errorf(fault.BadInput, "truncated body: got %d of %d bytes: %w", w.n, contentLength, copyErr)
	case copyErr != nil:
		return out, fault.Errorf(fault.SourceUnavailable, "read body after %d bytes: %w", w.n, copyErr)
	case contentLength >= 0 && w.n != contentLength:
		return out, fault.Errorf(fault.BadInput, "truncated body: got %d of %d bytes", w.n, contentLength)
	}
	if progress != nil {
		progress(w.n)
	}
	return out, nil
}

type countingWriter struct {
	w    io.Writer
	n    int64
	head []byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if room := cap(c.head) - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(room, len(p))]...)
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// ContentLength returns the announced length of a response, or -1.
func ContentLength(h http.Header) int64 {
	n, err := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

type debugLogger struct{ l *slog.Logger }

func (d debugLogger) Error(msg string, kv ...interface{}) { d.l.Debug(msg, kv...) }
func (d debugLogger) Info(msg string, kv ...interface{})  { d.l.Debug(msg, kv...) }
func (d debugLogger) Debug(msg string, kv ...interface{}) { d.l.Debug(msg, kv...) }
func (d debugLogger) Warn(msg string, kv ...interface{})  { d.l.Debug(msg, kv...) }

// watchedBody is a response body that fails, naming its URL, when no byte arrives for idle or the request
// outlives its timeout, and that releases the request's connection when closed.
type watchedBody struct {
	rc      io.ReadCloser
	url     string
	idle    time.Duration
	timeout time.Duration
	parent  context.Context
	ctx     context.Context
	cancel  context.CancelFunc
	timer   *time.Timer
	stalled chan struct{}
	once    sync.Once
}

func newWatchedBody(rc io.ReadCloser, url string, idle, timeout time.Duration, parent, ctx context.Context, cancel context.CancelFunc) *watchedBody {
	b := &watchedBody{rc: rc, url: url, idle: idle, timeout: timeout, parent: parent, ctx: ctx, cancel: cancel, stalled: make(chan struct{})}
	b.timer = time.AfterFunc(idle, func() { b.once.Do(func() { close(b.stalled) }); cancel() })
	return b
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.idle)
	}
	if err != nil && err != io.EOF {
		select {
		case <-b.stalled:
			return n, fault.Errorf(fault.SourceUnavailable, "%s: no byte for %s in the middle of the body", b.url, b.idle)
		default:
		}
		if b.parent.Err() == nil && b.ctx.Err() != nil {
			return n, fault.Errorf(fault.SourceUnavailable, "%s: the body did not arrive within the source's timeout of %s", b.url, b.timeout)
		}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	b.timer.Stop()
	err := b.rc.Close()
	b.cancel()
	return err
}

// Package ratelimit caps the requests the whole platform makes to one source, whatever the number of
// workers and processes: a sliding log of the last requests lives in the object store and is updated with
// compare-and-swap writes, so two workers can never both take the last free place in the window.
//
// A place is taken before a request is sent and stamped again when its answer arrives: a source counts a
// request when it reaches it, which may be later than it left (connection setup, a busy machine), and
// never later than its answer. A place is free again a window plus a margin after that stamp.
package ratelimit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// DefaultMargin is how long after a window a place stays taken, by default.
const DefaultMargin = 3 * time.Second

// Store is what the limiter needs of the object store: a small object read with its ETag, and written
// only if unchanged (or only if absent).
type Store interface {
	GetWithETag(ctx context.Context, key string) ([]byte, string, error)
	PutIfMatch(ctx context.Context, key string, data []byte, etag string) error
	Put(ctx context.Context, key string, r io.Reader, size int64, opts objectstore.PutOptions) error
}

// Limiter allows at most N requests in any window of Per (plus Margin).
type Limiter struct {
	store  Store
	key    string
	n      int
	per    time.Duration
	margin time.Duration
	now    func() time.Time
}

// New returns a limiter of n requests per window, keeping its log at key in store; a place stays taken a
// window plus margin after its request was answered.
func New(store Store, key string, n int, per, margin time.Duration) *Limiter {
	return &Limiter{store: store, key: key, n: n, per: per, margin: margin, now: time.Now}
}

type log struct {
	Requests []int64 `json:"requests"` // unix nanoseconds: when each request still inside the window was sent or answered
}

// update applies change to the log under compare-and-swap, reading again when another writer came first.
// change returns whether to write, and how long to wait before trying again when it does not.
func (l *Limiter) update(ctx context.Context, change func(lg *log, now time.Time) (write bool, wait time.Duration)) error {
	for {
		data, etag, err := l.store.GetWithETag(ctx, l.key)
		exists := err == nil
		if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return fmt.Errorf("rate limit %s: %w", l.key, err)
		}
		var lg log
		if exists && json.Unmarshal(data, &lg) != nil {
			lg = log{} // a damaged log only forgets the past window
		}
		write, wait := change(&lg, l.now())
		if !write {
			if wait <= 0 {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			continue
		}
		out, _ := json.Marshal(lg)
		if exists {
			err = l.store.PutIfMatch(ctx, l.key, out, etag)
		} else {
			err = l.store.Put(ctx, l.key, bytes.NewReader(out), int64(len(out)), objectstore.PutOptions{IfAbsent: true, ContentType: "application/json"})
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, objectstore.ErrChanged), errors.Is(err, objectstore.ErrExists):
			continue // another worker wrote first: read again
		default:
			return fmt.Errorf("rate limit %s: %w", l.key, err)
		}
	}
}

// Wait blocks until a request may go out, takes its place and returns the place's stamp.
func (l *Limiter) Wait(ctx context.Context) (int64, error) {
	var stamp int64
	err := l.update(ctx, func(lg *log, now time.Time) (bool, time.Duration) {
		cut := now.Add(-l.per - l.margin).UnixNano()
		lg.Requests = slices.DeleteFunc(lg.Requests, func(t int64) bool { return t <= cut })
		if len(lg.Requests) < l.n {
			stamp = now.UnixNano()
			lg.Requests = append(lg.Requests, stamp)
			return true, 0
		}
		// Full: wait until the oldest place is free (with a little jitter so that waiting workers do not
		// all wake at once).
		oldest := slices.Min(lg.Requests)
		return false, time.Duration(oldest-cut) + time.Duration(rand.Int64N(int64(50*time.Millisecond)))
	})
	return stamp, err
}

// Answered stamps the place taken at stamp with the time the request's answer arrived.
func (l *Limiter) Answered(ctx context.Context, stamp int64) error {
	return l.update(ctx, func(lg *log, now time.Time) (bool, time.Duration) {
		i := slices.Index(lg.Requests, stamp)
		if i < 0 {
			return false, 0 // already out of the window
		}
		lg.Requests[i] = max(now.UnixNano(), stamp)
		return true, 0
	})
}

// Transport wraps an http.RoundTripper so that every request it sends, retries included, waits its turn,
// and its place is stamped again when its answer arrives.
func (l *Limiter) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper{l: l, base: base}
}

type roundTripper struct {
	l    *Limiter
	base http.RoundTripper
}

func (rt roundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	start := time.Now()
	stamp, err := rt.l.Wait(r.Context())
	if err != nil {
		return nil, err
	}
	if waited := time.Since(start); waited > 100*time.Millisecond { // more than the store's round trips
		name := strings.TrimSuffix(strings.TrimPrefix(rt.l.key, "ratelimit/"), ".json")
		metrics.RateLimitWaits.WithLabelValues(name).Inc()
		metrics.RateLimitWaited.WithLabelValues(name).Add(waited.Seconds())
	}
	resp, err := rt.base.RoundTrip(r)
	// Best effort: without the second stamp the first one (earlier) still holds the place.
	actx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	_ = rt.l.Answered(actx, stamp)
	return resp, err
}

// Package ratelimit caps the requests the whole platform makes to one source, whatever the number of
// workers and processes: a sliding log of the last requests lives in the object store and is updated with
// compare-and-swap writes, so two workers can never both take the last free place in the window.
package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Limiter allows at most N requests in any window of Per.
type Limiter struct {
	bucket *objectstore.Bucket
	key    string
	n      int
	per    time.Duration
	now    func() time.Time
}

// New returns a limiter of n requests per window, keeping its log at key in bucket.
func New(bucket *objectstore.Bucket, key string, n int, per time.Duration) *Limiter {
	return &Limiter{bucket: bucket, key: key, n: n, per: per, now: time.Now}
}

type log struct {
	Requests []int64 `json:"requests"` // unix nanoseconds of the requests still inside the window
}

// Wait blocks until a request may go out and records it.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		data, etag, err := l.bucket.GetWithETag(ctx, l.key)
		exists := err == nil
		if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
			return fmt.Errorf("rate limit %s: %w", l.key, err)
		}
		var lg log
		if exists {
			if err := json.Unmarshal(data, &lg); err != nil {
				lg = log{} // a damaged log only forgets the past window
			}
		}
		now := l.now()
		cut := now.Add(-l.per).UnixNano()
		keep := lg.Requests[:0]
		for _, t := range lg.Requests {
			if t > cut {
				keep = append(keep, t)
			}
		}
		if len(keep) < l.n {
			out, _ := json.Marshal(log{Requests: append(keep, now.UnixNano())})
			if exists {
				err = l.bucket.PutIfMatch(ctx, l.key, out, etag)
			} else {
				err = l.bucket.Put(ctx, l.key, bytesReader(out), int64(len(out)), objectstore.PutOptions{IfAbsent: true, ContentType: "application/json"})
			}
			switch {
			case err == nil:
				return nil
			case errors.Is(err, objectstore.ErrChanged), errors.Is(err, objectstore.ErrExists):
				continue // another worker took a place first: read again
			default:
				return fmt.Errorf("rate limit %s: %w", l.key, err)
			}
		}
		// Full: wait until the oldest request leaves the window (with a little jitter so that waiting
		// workers do not all wake at once).
		wait := time.Duration(keep[0]-cut) + time.Duration(rand.Int64N(int64(50*time.Millisecond)))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Transport wraps an http.RoundTripper so that every request it sends, retries included, waits its turn.
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
	if err := rt.l.Wait(r.Context()); err != nil {
		return nil, err
	}
	return rt.base.RoundTrip(r)
}

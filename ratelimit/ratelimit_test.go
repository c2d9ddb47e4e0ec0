package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// mem is an in-memory compare-and-swap store (the integration tests run the limiter on MinIO).
type mem struct {
	mu   sync.Mutex
	data map[string][]byte
}

func etag(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func (m *mem) GetWithETag(_ context.Context, key string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.data[key]
	if !ok {
		return nil, "", objectstore.ErrNotFound
	}
	return b, etag(b), nil
}

func (m *mem) PutIfMatch(_ context.Context, key string, data []byte, tag string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if etag(m.data[key]) != tag {
		return objectstore.ErrChanged
	}
	m.data[key] = data
	return nil
}

func (m *mem) Put(_ context.Context, key string, r io.Reader, _ int64, opts objectstore.PutOptions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[key]; ok && opts.IfAbsent {
		return objectstore.ErrExists
	}
	b, err := io.ReadAll(r)
	m.data[key] = b
	return err
}

// delayed sends each request after a random delay: the source sees it later than it left.
type delayed struct{ base http.RoundTripper }

func (d delayed) RoundTrip(r *http.Request) (*http.Response, error) {
	time.Sleep(time.Duration(rand.Int64N(int64(250 * time.Millisecond))))
	return d.base.RoundTrip(r)
}

// However late the requests reach the source, it never counts more than n in a window.
func TestTheSourceNeverCountsMoreThanNInAWindow(t *testing.T) {
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
	}))
	defer srv.Close()
	const n, per = 2, 400 * time.Millisecond
	store := &mem{data: map[string][]byte{}}
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ { // three workers, each with its own limiter over the one log
		lim := New(store, "ratelimit/x.json", n, per, 150*time.Millisecond)
		client := &http.Client{Transport: lim.Transport(delayed{http.DefaultTransport})}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 4; i++ {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if len(arrivals) != 12 {
		t.Fatalf("%d arrivals", len(arrivals))
	}
	for i, a := range arrivals {
		in := 0
		for _, b := range arrivals[i:] {
			if b.Sub(a) < per {
				in++
			}
		}
		if in > n {
			t.Errorf("the source counted %d requests in the window from arrival %d", in, i)
		}
	}
}

package httpfetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/fault"
)

func TestSpoolHashesAndLimits(t *testing.T) {
	dir := t.TempDir()
	sp, err := Spool(context.Background(), strings.NewReader("hello"), 5, dir, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sp.SHA256 != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" || sp.Size != 5 || string(sp.Head) != "hello" {
		t.Errorf("spooled = %+v", sp)
	}
	if data, _ := os.ReadFile(sp.Path); string(data) != "hello" {
		t.Errorf("spool file holds %q", data)
	}
	_, err = Spool(context.Background(), strings.NewReader(strings.Repeat("x", 101)), -1, dir, 100, nil)
	if !errors.Is(err, ErrTooLarge) || !fault.Is(err, fault.BadInput) {
		t.Errorf("over the limit: %v", err)
	}
	sp, err = Spool(context.Background(), strings.NewReader("hel"), 5, dir, 100, nil)
	if !fault.Is(err, fault.BadInput) || !strings.Contains(err.Error(), "truncated") || sp.Path == "" {
		t.Errorf("short body: %v (partial kept at %q)", err, sp.Path)
	}
}

func TestGetRetriesBlipsAndClassifies(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/flaky":
			if calls.Add(1) == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.Write([]byte("ok"))
		case "/down":
			http.Error(w, "down", http.StatusBadGateway)
		case "/cond":
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"v1"`)
			w.Write([]byte("data"))
		}
	}))
	defer srv.Close()
	c := New(Options{WaitMin: 1, WaitMax: 2})
	ctx := context.Background()
	resp, err := c.Get(ctx, Request{URL: srv.URL + "/flaky"})
	if err != nil || resp.Status != 200 {
		t.Fatalf("flaky: %v", err)
	}
	resp.Body.Close()
	if _, err := c.Get(ctx, Request{URL: srv.URL + "/down"}); !fault.Is(err, fault.SourceUnavailable) {
		t.Errorf("down: %v, want SourceUnavailable", err)
	}
	resp, err = c.Get(ctx, Request{URL: srv.URL + "/cond", ETag: `"v1"`})
	if err != nil || !resp.NotModified {
		t.Errorf("conditional: %+v, %v", resp, err)
	}
}

// A redirect to another host loses every credential header (Socrata's X-App-Token, Authorization,
// cookies); a redirect on the same host keeps them.
func TestCredentialsStayOnTheirHost(t *testing.T) {
	seen := make(chan http.Header, 4)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		w.Write([]byte("ok"))
	}))
	defer other.Close()
	elsewhere := strings.Replace(other.URL, "127.0.0.1", "localhost", 1) // another host name, still loopback
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			seen <- r.Header.Clone()
			w.Write([]byte("ok"))
		default:
			http.Redirect(w, r, elsewhere+"/page", http.StatusFound)
		}
	}))
	defer src.Close()
	c := New(Options{})
	secret := http.Header{"X-App-Token": {"app-secret"}, "Authorization": {"Bearer s3cr3t"}, "Cookie": {"session=1"}}
	for path, keep := range map[string]bool{"/away": false, "/same": true} {
		resp, err := c.Get(context.Background(), Request{URL: src.URL + path, Header: secret.Clone()})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := <-seen
		for _, h := range []string{"X-App-Token", "Authorization", "Cookie"} {
			if has := got.Get(h) != ""; has != keep {
				t.Errorf("%s: %s sent after the redirect: %v, want %v", path, h, has, keep)
			}
		}
	}
}

// A source that accepts the connection and never answers, or stops in the middle of a body, fails within
// the idle time with the URL in the error, as SourceUnavailable; so does one slower than its timeout.
func TestStalledSourcesFailNamingTheURL(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/silent":
			<-release
		case "/midway":
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("first bytes"))
			w.(http.Flusher).Flush()
			<-release
		case "/slow":
			for i := 0; i < 50; i++ {
				w.Write([]byte("x"))
				w.(http.Flusher).Flush()
				time.Sleep(20 * time.Millisecond)
			}
		}
	}))
	defer srv.Close()
	defer close(release) // before Close, which waits for the handlers
	c := New(Options{Idle: 300 * time.Millisecond, Retries: 1, WaitMin: time.Millisecond, WaitMax: time.Millisecond})
	start := time.Now()
	_, err := c.Get(context.Background(), Request{URL: srv.URL + "/silent"})
	if !fault.Is(err, fault.SourceUnavailable) || !strings.Contains(err.Error(), srv.URL+"/silent") || time.Since(start) > 5*time.Second {
		t.Errorf("silent: %v after %s", err, time.Since(start))
	}
	resp, err := c.Get(context.Background(), Request{URL: srv.URL + "/midway"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !fault.Is(err, fault.SourceUnavailable) || !strings.Contains(err.Error(), "/midway") {
		t.Errorf("midway: %v", err)
	}
	slow := New(Options{Timeout: 300 * time.Millisecond})
	resp, err = slow.Get(context.Background(), Request{URL: srv.URL + "/slow"})
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if !fault.Is(err, fault.SourceUnavailable) || !strings.Contains(err.Error(), "timeout of 300ms") {
		t.Errorf("slow: %v", err)
	}
}

func TestRedacted(t *testing.T) {
	h := http.Header{"X-App-Token": {"s3cr3t"}, "Accept": {"text/csv"}}
	r := Redacted(h)
	if r.Get("X-App-Token") != "[redacted]" || r.Get("Accept") != "text/csv" || h.Get("X-App-Token") != "s3cr3t" {
		t.Errorf("redacted %v, original %v", r, h)
	}
}

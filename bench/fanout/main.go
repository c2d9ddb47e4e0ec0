// Command fanout measures how one release reaches many observatories: for each count of subscribers it
// starts a fresh Temporal dev server and MinIO (from bin/), a worker, the recorded-response mirror as the
// sources, and a local webhook receiver that verifies every notice with the Standard Webhooks library;
// refreshes Eurostat (a release follows), and times the fan-out from the release's publication to the
// last verified notice. `make bench-fanout` runs it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"github.com/osservatorio-lombardia/osservatorio/devstack"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
	"github.com/osservatorio-lombardia/osservatorio/platform"
)

func main() {
	counts := flag.String("subscribers", "100,250,500,1000", "subscriber counts to measure, comma-separated")
	bin := flag.String("bin", "bin", "folder with temporal and minio")
	flag.Parse()
	fmt.Printf("%-12s %-12s %-14s %-14s %s\n", "SUBSCRIBERS", "RELEASE", "FAN-OUT", "PER 1,000", "NOTICES VERIFIED")
	for _, s := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "fanout: %q is not a count\n", s)
			os.Exit(2)
		}
		r, err := measure(n, *bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fanout:", err)
			os.Exit(1)
		}
		fmt.Printf("%-12d %-12s %-14s %-14s %d/%d\n", n, r.version, r.fanout.Round(time.Millisecond),
			(r.fanout * 1000 / time.Duration(n)).Round(time.Millisecond), r.verified, n)
	}
}

type result struct {
	version  string
	fanout   time.Duration
	verified int
}

// receiver is every subscriber's webhook endpoint (one path each): it verifies the signature and notes
// when the last expected notice arrived.
type receiver struct {
	hook     *standardwebhooks.Webhook
	want     int
	mu       sync.Mutex
	verified map[string]bool
	last     time.Time
	done     chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if err := rc.hook.Verify(body, r.Header); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.verified[r.URL.Path] {
		rc.verified[r.URL.Path] = true
		rc.last = time.Now()
		if len(rc.verified) == rc.want {
			close(rc.done)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func measure(n int, bin string) (result, error) {
	ctx := context.Background()
	state, err := os.MkdirTemp("", "fanout-*")
	if err != nil {
		return result{}, err
	}
	defer os.RemoveAll(state)
	tAddr, _ := devstack.FreeAddr()
	mAddr, _ := devstack.FreeAddr()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	stack, err := devstack.Start(ctx, devstack.Options{BinDir: bin, StateDir: state, TemporalAddress: tAddr, Headless: true,
		MinioAddress: mAddr, AccessKey: "fanout", SecretKey: "fanout-secret", Logger: logger})
	if err != nil {
		return result{}, err
	}
	defer stack.Close()
	sources := httptest.NewServer(mirror.New(mirror.Recorded()))
	defer sources.Close()
	secret := make([]byte, 24)
	rand.Read(secret)
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(secret)
	hook, _ := standardwebhooks.NewWebhook(whsec)
	rc := &receiver{hook: hook, want: n, verified: map[string]bool{}, done: make(chan struct{})}
	hooks := httptest.NewServer(rc)
	defer hooks.Close()

	cfg, err := config.Parse("default", deploy.DefaultConfig, func(string) string { return "" })
	if err != nil {
		return result{}, err
	}
	cfg.Storage.Endpoint, cfg.Storage.AccessKey, cfg.Storage.SecretKey = mAddr, "fanout", "fanout-secret"
	cfg.Temporal.Address = tAddr
	cfg.Release.SigningKey = filepath.Join(state, "keys", "release-signing.pem")
	eurostat := cfg.Sources["eurostat"]
	eurostat.BaseURL = sources.URL + "/eurostat"
	cfg.Sources = map[string]config.Source{"eurostat": eurostat}
	cfg.Observatories = nil
	for i := range n {
		id := fmt.Sprintf("obs%04d", i)
		cfg.Observatories = append(cfg.Observatories, config.Observatory{ID: id, Name: id, Delivery: "pull", Bucket: "obs-" + id,
			Subscription: config.Subscription{Webhook: &config.Webhook{URL: hooks.URL + "/" + id, Secret: whsec,
				Retry: config.DefaultWebhookRetry, DisableFor: config.Duration(time.Hour)}}})
	}
	p, err := platform.Open(cfg, logger)
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	if err := p.Bucket.Ensure(ctx); err != nil {
		return result{}, err
	}
	w, err := p.NewWorker(ctx, state)
	if err != nil {
		return result{}, err
	}
	if err := w.Start(); err != nil {
		return result{}, err
	}
	defer w.Stop()
	run, err := p.StartRefresh(ctx, "eurostat", platform.RefreshOptions{})
	if err != nil {
		return result{}, err
	}
	res, err := platform.WaitRefresh(ctx, run)
	if err != nil {
		return result{}, err
	}
	if res.Release == nil {
		return result{}, fmt.Errorf("no release")
	}
	m, err := p.Releases.Get(ctx, res.Release.Version)
	if err != nil {
		return result{}, err
	}
	published, err := p.Bucket.Stat(ctx, "releases/"+m.Version+"/datapackage.json")
	if err != nil {
		return result{}, err
	}
	select {
	case <-rc.done:
	case <-time.After(10 * time.Minute):
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return result{version: m.Version, fanout: rc.last.Sub(published.LastModified), verified: len(rc.verified)}, nil
}

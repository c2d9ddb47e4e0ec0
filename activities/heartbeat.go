package activities

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/activity"
)

// aliveEvery is how often long activities heartbeat while they work. With the HeartbeatTimeout of one
// minute the workflows set, a worker that dies mid-activity is noticed within a minute, and the activity
// is retried elsewhere.
const aliveEvery = 10 * time.Second

// keepAlive heartbeats every aliveEvery until the returned stop is called, for long work that reads no
// HTTP body (DuckDB passes, copies and hashes of release files). details, when not nil, says how far the
// work is. Outside an activity (tests, benchmarks) it does nothing.
func keepAlive(ctx context.Context, details func() any) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(aliveEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if details != nil {
					activity.RecordHeartbeat(ctx, details())
				} else {
					activity.RecordHeartbeat(ctx)
				}
			}
		}
	}()
	return func() { close(done) }
}

// leftovers are the names of the work files and folders activities create in WorkDir.
var leftovers = []string{"download-*", "page-*", "harmonize-*", "release-*", "spool-*"}

// StaleAfter is the age past which a work file or an upload can belong to no running activity (the longest runs an hour).
const StaleAfter = 3 * time.Hour

// CleanWorkDir removes the work files a killed worker left in dir: those older than any activity runs
// (other workers may share the folder, so a young file is left alone), and raw-cache entries past their
// TTL. It returns how many it removed.
func CleanWorkDir(dir string) int {
	n := 0
	for _, pattern := range leftovers {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			if info, err := os.Stat(m); err == nil && time.Since(info.ModTime()) > StaleAfter && os.RemoveAll(m) == nil {
				n++
			}
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "raw-cache"))
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > rawCacheTTL && os.Remove(filepath.Join(dir, "raw-cache", e.Name())) == nil {
			n++
		}
	}
	return n
}

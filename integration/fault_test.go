package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.yaml.in/yaml/v3"

	"github.com/osservatorio-lombardia/osservatorio/cli"
	"github.com/osservatorio-lombardia/osservatorio/devstack"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

// killWorkerMidDownload runs a paged download on three worker processes of their own (one dev server, one
// MinIO), with another source's refresh beside it, kills the process that holds the download with SIGKILL
// once two pages are stored, and lets the two others take over: the fetch resumes after the stored pages
// (asked for none of them again), the raw bytes equal the accepted ones, so nothing was lost and nothing
// taken twice, and the activities of both refreshes spread over the workers (counted per worker from the
// histories). Each process serves /readyz and /metrics on an address of its own.
func killWorkerMidDownload(t *testing.T, ctx context.Context) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "osservatorio")
	build := exec.Command("go", "build", "-o", bin, "./cmd/osservatorio")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	data, err := yaml.Marshal(shared.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Pages after the first come slowly, so that the kill lands mid-download.
	var mu sync.Mutex
	var offsets []string
	page := mirror.New(mirror.Recorded())
	shared.sources.override(t, "/lombardia/resource/nwz3-p6vm.csv", func(w http.ResponseWriter, r *http.Request) {
		off := r.URL.Query().Get("$offset")
		mu.Lock()
		offsets = append(offsets, off)
		mu.Unlock()
		if off != "" && off != "0" {
			time.Sleep(1500 * time.Millisecond)
		}
		page.ServeHTTP(w, r)
	})
	shared.worker.Stop() // only the processes below poll now
	procs := startWorkers(t, bin, cfgFile, dir, 3)
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		for _, p := range procs {
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			p.cmd.Wait()
		}
		w, err := shared.p.NewWorker(ctx, shared.state)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		shared.worker = w
	}
	defer restart()

	rctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	run, err := shared.p.StartRefresh(rctx, "lombardia", platform.RefreshOptions{Datasets: []string{"cessati"}, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	beside, err := shared.p.StartRefresh(rctx, "eurostat", platform.RefreshOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	// Two pages (rows 0-1999) stored with their checkpoints: kill the worker that downloads.
	deadline := time.Now().Add(90 * time.Second)
	for storedPages(t, ctx) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the workers stored fewer than 2 pages in 90 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	victim := downloader(t, ctx, run, procs)
	if err := syscall.Kill(-victim.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.cmd.Wait()
	mu.Lock()
	before := len(offsets)
	mu.Unlock()
	res, err := platform.WaitRefresh(rctx, run)
	if err != nil {
		t.Fatalf("refresh after the kill: %v", err)
	}
	if _, err := platform.WaitRefresh(rctx, beside); err != nil {
		t.Fatalf("the refresh beside it: %v", err)
	}
	r := report(t, res, "cessati")
	if !strings.Contains(r.Reason, "same bytes") {
		t.Errorf("report = %+v, want the same bytes as the accepted export (nothing lost, nothing twice)", r)
	}
	mu.Lock()
	after := append([]string(nil), offsets[before:]...)
	mu.Unlock()
	for _, off := range after {
		if off == "0" || off == "1000" {
			t.Errorf("after the kill the pages asked were %v: stored pages asked again", after)
			break
		}
	}
	if len(after) == 0 {
		t.Error("no page was asked after the kill")
	}
	// The history keeps the worker of each activity's last attempt: the killed one's attempt is not there,
	// its successor's is.
	perWorker := activitiesPerWorker(t, ctx, run, beside)
	t.Logf("activities per worker: %v (killed mid-download: %s)", perWorker, victim.identity)
	if len(perWorker) < 2 {
		t.Errorf("activities per worker %v: want the work spread over the workers", perWorker)
	}
	for id := range perWorker {
		if !slices.ContainsFunc(procs, func(p *workerProc) bool { return p.identity == id }) {
			t.Errorf("an activity ran on %s, not one of the worker processes", id)
		}
	}
}

type workerProc struct {
	cmd      *exec.Cmd
	identity string // as Temporal records it: pid@host@
	metrics  string
}

// startWorkers starts n worker processes, each with its own metrics address, and waits until each is
// ready (polling its task queues).
func startWorkers(t *testing.T, bin, cfgFile, dir string, n int) []*workerProc {
	host, _ := os.Hostname()
	var out []*workerProc
	for i := range n {
		addr, err := devstack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		work := filepath.Join(dir, fmt.Sprintf("worker-%d", i))
		os.MkdirAll(work, 0o755)
		cmd := exec.Command(bin, "--config", cfgFile, "worker", "--work-dir", work, "--metrics-address", addr)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out = append(out, &workerProc{cmd: cmd, identity: fmt.Sprintf("%d@%s@", cmd.Process.Pid, host), metrics: addr})
	}
	for _, p := range out {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get("http://" + p.metrics + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("worker %s not ready in 30 s", p.identity)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return out
}

func storedPages(t *testing.T, ctx context.Context) int {
	infos, err := shared.p.Bucket.List(ctx, "work/fetch/lombardia/cessati/", true)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, in := range infos {
		if strings.HasSuffix(in.Key, ".checkpoint.json") {
			stored++
		}
	}
	return stored
}

// downloader is the worker process running the refresh's pending fetch.
func downloader(t *testing.T, ctx context.Context, run client.WorkflowRun, procs []*workerProc) *workerProc {
	c, _ := shared.p.Temporal(ctx)
	d, err := c.DescribeWorkflow(ctx, run.GetID(), run.GetRunID())
	if err != nil {
		t.Fatal(err)
	}
	for _, pa := range d.RawResponse.GetPendingActivities() {
		for _, p := range procs {
			if pa.GetLastWorkerIdentity() == p.identity {
				return p
			}
		}
	}
	t.Fatalf("no worker process holds the download: %+v", d.RawResponse.GetPendingActivities())
	return nil
}

// activitiesPerWorker counts the activity attempts each worker started in the runs' histories.
func activitiesPerWorker(t *testing.T, ctx context.Context, runs ...client.WorkflowRun) map[string]int {
	c, _ := shared.p.Temporal(ctx)
	out := map[string]int{}
	for _, r := range runs {
		it := c.GetWorkflowHistory(ctx, r.GetID(), r.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			if a := ev.GetActivityTaskStartedEventAttributes(); a != nil {
				out[a.GetIdentity()]++
			}
		}
	}
	return out
}

// stalledSource: a source that accepts connections and never answers fails each attempt after its idle
// timeout (3 s here) with an error naming source, dataset and URL, visible on the running refresh while
// Temporal waits to retry; the worker closes the connection; nothing is published in its name.
func stalledSource(t *testing.T, ctx context.Context) {
	held := shared.sources.stall(t, "/mur/")
	id := shared.cfg.Sources["mur"].Datasets[0].ID
	before, err := shared.p.Releases.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	run, err := shared.p.StartRefresh(ctx, "mur", platform.RefreshOptions{Datasets: []string{id}, Force: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := shared.p.Temporal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.TerminateWorkflow(context.WithoutCancel(ctx), run.GetID(), run.GetRunID(), "stalled-source test done")
	var failure string
	for failure == "" {
		if time.Since(started) > time.Minute {
			t.Fatal("no failed attempt reported within a minute of a stalled source")
		}
		time.Sleep(200 * time.Millisecond)
		d, err := c.DescribeWorkflow(ctx, run.GetID(), run.GetRunID())
		if err != nil {
			t.Fatal(err)
		}
		for _, pa := range d.RawResponse.GetPendingActivities() {
			if f := pa.GetLastFailure(); f != nil {
				failure = f.GetMessage()
			}
		}
	}
	t.Logf("first attempt failed after %s: %s", time.Since(started).Round(100*time.Millisecond), failure)
	for _, want := range []string{"mur", id, "/mur/"} {
		if !strings.Contains(failure, want) {
			t.Errorf("failure %q does not name %q", failure, want)
		}
	}
	select {
	case d := <-held:
		if d > 20*time.Second {
			t.Errorf("the worker held the stalled connection %s, want it closed after the 3 s idle timeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Error("the stalled connection was not closed by the worker")
	}
	after, err := shared.p.Releases.Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("releases %d → %d while the source stalled", len(before), len(after))
	}
}

// serversRestartedMidRun kills MinIO, then the Temporal dev server, while a refresh runs, and starts each
// again on its state: the refresh ends without error, finds the bytes it had, and the latest release still
// verifies.
func serversRestartedMidRun(t *testing.T, ctx context.Context) {
	// One dataset answers slowly, so that the restart lands while the refresh runs.
	shared.sources.slowDown(t, "/eurostat/statistics/1.0/data/lfst_r_lfu3rt", 3*time.Second)
	for _, server := range []string{"minio", "temporal"} {
		rctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
		run, err := shared.p.StartRefresh(rctx, "eurostat", platform.RefreshOptions{Force: true})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if err := shared.stack.Restart(ctx, server); err != nil {
			cancel()
			t.Fatalf("restart %s: %v", server, err)
		}
		res, err := platform.WaitRefresh(rctx, run)
		cancel()
		if err != nil {
			t.Fatalf("%s restarted: refresh %v", server, err)
		}
		for _, d := range res.Datasets {
			if d.Changed || d.Error != "" {
				t.Errorf("%s restarted: %+v, want the same bytes as before", server, d)
			}
		}
		vs, err := shared.p.Releases.Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m *release.Manifest
		for _, v := range vs { // the newest 1.x (the 99.x ones are the verify test's broken ones)
			if strings.HasPrefix(v, "1.") {
				if m, err = shared.p.Releases.Get(ctx, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, c := range release.Verify(ctx, shared.p.Bucket, release.Prefix(m.Version), m) {
			if !c.OK {
				t.Errorf("%s restarted: release %s, %s does not verify: %+v", server, m.Version, c.Path, c)
			}
		}
	}
}

// busyAndRunning: a source answering 429 with Retry-After is waited for, not failed; and a refresh asking
// for one dataset while the source's refresh runs is told so, not silently joined to it.
func busyAndRunning(t *testing.T, ctx context.Context) {
	var mu sync.Mutex
	throttled := 0
	base := mirror.New(mirror.Recorded())
	shared.sources.override(t, "/eurostat/statistics/1.0/data/lfst_r_lfe2emprt", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		first := throttled == 0
		throttled++
		mu.Unlock()
		if first {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":[{"status":429,"label":"Too many requests"}]}`, http.StatusTooManyRequests)
			return
		}
		time.Sleep(2 * time.Second) // long enough for the second start below to find this refresh running
		base.ServeHTTP(w, r)
	})
	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	run, err := shared.p.StartRefresh(rctx, "eurostat", platform.RefreshOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := shared.p.StartRefresh(rctx, "eurostat", platform.RefreshOptions{Datasets: []string{"lfst_r_lfu3rt"}}); !errors.Is(err, platform.ErrRefreshRunning) {
		t.Errorf("a dataset refresh while the source's runs: %v, want ErrRefreshRunning", err)
	}
	res, err := platform.WaitRefresh(rctx, run)
	if err != nil {
		t.Fatalf("refresh through a 429: %v", err)
	}
	if r := report(t, res, "lfst_r_lfe2emprt"); r.Error != "" || throttled < 2 {
		t.Errorf("after a 429: %+v (%d requests to the dataset)", r, throttled)
	}
}

// concurrentReleases refreshes two sources at once, each with a dataset to publish again: their releases
// race for versions and inputs, and both refreshes end without error, the newest release holding both.
func concurrentReleases(t *testing.T, ctx context.Context) {
	for _, sd := range [][2]string{{"eurostat", "lfst_r_lfe2emprt"}, {"mur", "iscritti_residenza"}} {
		st, ok, err := shared.p.Lake.State(ctx, sd[0], sd[1])
		if err != nil || !ok {
			t.Fatalf("%s/%s: %v", sd[0], sd[1], err)
		}
		st.SnapshotKey = strings.Replace(st.SnapshotKey, "-h", "-old-h", 1) // as if made by another harmonizer
		if err := shared.p.Lake.SetState(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	results := make([]workflows.RefreshResult, 2)
	for i, source := range []string{"eurostat", "mur"} {
		run, err := shared.p.StartRefresh(rctx, source, platform.RefreshOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = platform.WaitRefresh(rctx, run)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("refresh %d: %v", i, err)
		}
	}
	states, err := shared.p.Lake.States(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The newest release the platform made (the hand-made ones of the verify test have no inputs digest).
	vs, _ := shared.p.Releases.Versions(ctx)
	var newest *release.Manifest
	for _, v := range vs {
		if m, err := shared.p.Releases.Get(ctx, v); err == nil && m.Osservatorio.InputsDigest != "" {
			newest = m
		}
	}
	if newest == nil || newest.Osservatorio.InputsDigest != release.InputsDigest(states) {
		t.Errorf("the newest release does not hold every accepted snapshot")
	}
	for i, r := range results {
		if r.Release == nil {
			t.Errorf("refresh %d made no release: %+v", i, r)
		}
	}
}

// lineWriter keeps the lines written to it, each with when it arrived.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines []timedLine
}

type timedLine struct {
	at   time.Time
	text string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		w.lines = append(w.lines, timedLine{time.Now(), strings.TrimSpace(line)})
	}
}

func (w *lineWriter) find(s string) (timedLine, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range w.lines {
		if strings.Contains(l.text, s) {
			return l, true
		}
	}
	return timedLine{}, false
}

// refreshTalks runs refresh --wait against a source answering 503: within 30 s the command has said
// which attempt failed, why, and when the next one comes, instead of waiting silently.
func refreshTalks(t *testing.T, ctx context.Context) {
	shared.sources.override(t, "/mur/api/3/action/package_show", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "upstream maintenance", http.StatusServiceUnavailable)
	})
	id := shared.cfg.Sources["mur"].Datasets[0].ID
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stdout bytes.Buffer
	stderr := &lineWriter{}
	started := time.Now()
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(cctx, []string{"--config", writeConfig(t), "refresh", "mur", "--wait", "--dataset", id, "--force"}, &stdout, stderr)
	}()
	c, _ := shared.p.Temporal(ctx)
	defer c.TerminateWorkflow(context.WithoutCancel(ctx), "refresh-mur-manual", "", "refresh-talks test done")
	for {
		if l, ok := stderr.find("attempt 1 failed"); ok {
			took := l.at.Sub(started)
			t.Logf("after %s: %s", took.Round(100*time.Millisecond), l.text)
			if took > 30*time.Second || !strings.Contains(l.text, "HTTP 503") || !strings.Contains(l.text, "attempt 2 in") || !strings.Contains(l.text, id) {
				t.Errorf("%q after %s; want, within 30 s, the dataset, the 503 and when attempt 2 comes", l.text, took)
			}
			break
		}
		if time.Since(started) > 45*time.Second {
			t.Fatalf("refresh --wait said nothing of the failing attempt in 45 s: %v", stderr.lines)
		}
		time.Sleep(200 * time.Millisecond)
	}
	cancel()
	<-done
}

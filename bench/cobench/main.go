// Command cobench measures the harmonization of CO exports: the platform (the Harmonize activity, with the
// raw export landed in a real MinIO, downloaded, harmonized by DuckDB into labour_events and the
// labour_flows part, quality-checked, uploaded) side by side with the floor (the same transformation as a
// bare DuckDB SQL script, warehouse.COScript, on the same file read from local disk). Each side runs in its
// own process, so wall time and peak memory (max RSS) are its own. `make bench` runs it.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/bench/benchkit"
	"github.com/osservatorio-lombardia/osservatorio/cogen"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/lombardia"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
	"github.com/osservatorio-lombardia/osservatorio/worker"
)

const (
	accessKey = benchkit.AccessKey
	secretKey = benchkit.SecretKey
	bucket    = "bench"
	sha       = "0000000000000000000000000000000000000000000000000000000000000000"
)

var refDate = time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cobench run|platform|floor …")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "platform":
		err = platform(os.Args[2:], false)
	case "cached":
		err = platform(os.Args[2:], true)
	case "floor":
		err = floor(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cobench:", err)
		os.Exit(1)
	}
}

// result is one side's measurement.
type result struct {
	Side      string           `json:"side"`
	Events    int64            `json:"events"`
	Seconds   float64          `json:"seconds"`
	PerSecond float64          `json:"eventsPerSecond"`
	MaxRSSMiB float64          `json:"maxRssMiB"`
	Steps     map[string]int64 `json:"stepsMs,omitempty"`
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	sizes := fs.String("events", "1000000,25000000", "comma-separated event counts")
	dir := fs.String("dir", "bench/out", "work folder (CSV files are kept for later runs)")
	binDir := fs.String("bin", "bin", "folder with the minio binary")
	fs.Parse(args)
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx := context.Background()
	state, err := os.MkdirTemp(*dir, "minio-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	addr, _, b, stop, err := benchkit.MinIO(ctx, *binDir, state, bucket)
	if err != nil {
		return err
	}
	defer stop()
	var all []result
	fmt.Printf("%-10s %-9s %9s %12s %10s   %s\n", "events", "side", "seconds", "events/s", "max RSS", "steps (ms)")
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		csv := filepath.Join(*dir, fmt.Sprintf("co-attivati-%d.csv", n))
		if _, err := os.Stat(csv); err != nil {
			f, err := os.Create(csv)
			if err != nil {
				return err
			}
			start := time.Now()
			st, err := cogen.Write(f, cogen.Options{Events: n, Seed: 42})
			f.Close()
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "generated %d events (%.2f GB) in %s\n", n, float64(st.Bytes)/1e9, time.Since(start).Round(time.Millisecond))
		}
		// Landed under its content address, as a fetch lands it: a worker that streams it checks its sha256.
		sum, err := fileSHA256(csv)
		if err != nil {
			return err
		}
		key := lake.RawKey("lombardia", "attivati", sum, "csv")
		if ok, _ := b.Exists(ctx, key); !ok {
			if err := b.PutFile(ctx, key, csv, objectstore.PutOptions{}); err != nil {
				return err
			}
		}
		// Both sides start warm: the floor's CSV and MinIO's copy of it are read once before measuring.
		if err := warm(ctx, b, key, csv); err != nil {
			return err
		}
		for _, side := range []string{"floor", "cached", "platform"} {
			// Each side starts on a quiet disk: the writes of the one before (4.6 GB of download at 25M)
			// are flushed first, not left to compete with this one.
			syscall.Sync()
			time.Sleep(2 * time.Second)
			work, err := os.MkdirTemp(*dir, side+"-*")
			if err != nil {
				return err
			}
			cmd := exec.Command(self, side, "-csv", csv, "-key", key, "-sha", sum, "-minio", addr, "-work", work, "-events", strconv.Itoa(n))
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, os.Stderr
			start := time.Now()
			err = cmd.Run()
			elapsed := time.Since(start)
			os.RemoveAll(work)
			if err != nil {
				return fmt.Errorf("%s at %d events: %w", side, n, err)
			}
			var r result
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
				return fmt.Errorf("%s output %q: %w", side, out.String(), err)
			}
			r.Side, r.Seconds = side, elapsed.Seconds()
			r.PerSecond = float64(r.Events) / r.Seconds
			r.MaxRSSMiB = float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
			all = append(all, r)
			fmt.Printf("%-10d %-9s %9.2f %12.0f %7.0f MiB   %v\n", n, side, r.Seconds, r.PerSecond, r.MaxRSSMiB, r.Steps)
		}
		f, c, p := all[len(all)-3], all[len(all)-2], all[len(all)-1]
		fmt.Printf("%-10d ratio     %9.2fx  (platform / floor, same run; cached / floor %.2fx)\n", n, p.Seconds/f.Seconds, c.Seconds/f.Seconds)
	}
	data, _ := json.MarshalIndent(all, "", "  ")
	return os.WriteFile(filepath.Join(*dir, "results.json"), data, 0o644)
}

func warm(ctx context.Context, b *objectstore.Bucket, key, csv string) error {
	r, err := b.Get(ctx, key)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{r}, make([]byte, 8<<20))
	r.Close()
	if err != nil {
		return err
	}
	f, err := os.Open(csv)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, make([]byte, 8<<20))
	return err
}

type sideFlags struct {
	csv, key, sha, minio, work string
	events                     int64
}

// fileSHA256 returns the sha256 of a file, kept beside it (path.sha256) for the next run.
func fileSHA256(path string) (string, error) {
	if b, err := os.ReadFile(path + ".sha256"); err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	return sum, os.WriteFile(path+".sha256", []byte(sum+"\n"), 0o644)
}

func parseSide(name string, args []string) sideFlags {
	var s sideFlags
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	fs.StringVar(&s.csv, "csv", "", "local CSV")
	fs.StringVar(&s.key, "key", "", "raw object key")
	fs.StringVar(&s.sha, "sha", "", "sha256 of the raw object")
	fs.StringVar(&s.minio, "minio", "", "MinIO address")
	fs.StringVar(&s.work, "work", "", "work folder")
	fs.Int64Var(&s.events, "events", 0, "events in the file")
	fs.Parse(args)
	return s
}

// floor runs the transformation as a bare DuckDB script on the local file.
func floor(args []string) error {
	s := parseSide("floor", args)
	ctx := context.Background()
	req := warehouse.CORequest{CSVPath: s.csv, EventType: "attivazione", RawSHA256: sha, RefDate: refDate,
		EventsOut: filepath.Join(s.work, "events.parquet"), FlowsOut: filepath.Join(s.work, "flows.parquet")}
	script, err := warehouse.COScript(req)
	if err != nil {
		return err
	}
	db, err := warehouse.Open(ctx, warehouse.Options{TempDir: s.work, MemoryLimit: worker.DuckDBMemoryLimit})
	if err != nil {
		return err
	}
	defer db.Close()
	start := time.Now()
	if _, err := db.SQL().ExecContext(ctx, script); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(result{Events: s.events, Steps: map[string]int64{"script": time.Since(start).Milliseconds()}})
}

// platform runs the Harmonize activity on the raw object in MinIO; cached, with the export also in the
// worker's raw cache, as when the same worker fetched it.
func platform(args []string, cached bool) error {
	s := parseSide("platform", args)
	store, err := objectstore.New(objectstore.Config{Endpoint: s.minio, AccessKey: accessKey, SecretKey: secretKey})
	if err != nil {
		return err
	}
	b := store.Bucket(bucket)
	acts := &activities.Activities{
		Store: store, Lake: lake.New(b), Releases: release.NewStore(b), WorkDir: s.work,
		DuckDB: warehouse.Options{TempDir: s.work, MemoryLimit: worker.DuckDBMemoryLimit},
		Sources: map[string]activities.Source{"lombardia": {
			Conn:     lombardia.New("http://127.0.0.1:1", nil, lombardia.Options{}),
			Datasets: []connectors.Dataset{{Source: "lombardia", ID: "attivati", Code: "qbau-cyuc"}},
		}},
	}
	// No earlier harmonization is reused: its report (what says one is complete) goes first.
	rawSHA := s.sha
	ds := acts.Sources["lombardia"].Datasets[0]
	if err := b.Remove(context.Background(), lake.ReportKey(lake.SnapshotKey("lombardia", "attivati", "labour_events", rawSHA, ds.Settings()))); err != nil {
		return err
	}
	if cached {
		dir := filepath.Join(s.work, "raw-cache")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.Link(s.csv, filepath.Join(dir, rawSHA)); err != nil {
			return err
		}
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(benchkit.Quiet{})
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	val, err := env.ExecuteActivity(acts.Harmonize, activities.HarmonizeInput{Source: "lombardia", Dataset: "attivati",
		RawKey: s.key, SHA256: rawSHA, FetchedAt: refDate})
	if err != nil {
		return err
	}
	var res activities.HarmonizeResult
	if err := val.Get(&res); err != nil {
		return err
	}
	var rep activities.EventsReport
	if err := b.GetJSON(context.Background(), res.ReportKey, &rep); err != nil {
		return err
	}
	steps := map[string]int64{}
	for k, v := range rep.Timings {
		steps[k] = v.Milliseconds()
	}
	return json.NewEncoder(os.Stdout).Encode(result{Events: res.Rows, Steps: steps})
}

// Package devstack runs the embedded default: a Temporal dev server (SQLite file, web UI) and a MinIO server
// as child processes on loopback, with their state in one folder. It checks ports and binaries first, waits
// until each server answers, and stops them together. The same code starts the servers of the integration
// tests.
package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
)

// Options configure the stack.
type Options struct {
	BinDir   string // where temporal and minio are looked for first; then PATH
	StateDir string // Temporal's SQLite file and MinIO's data live here

	TemporalAddress string // host:port of the frontend
	TemporalUIPort  int    // 0 with Headless
	Headless        bool   // no Temporal web UI (tests)
	NoTemporal      bool   // start MinIO only (benchmarks)
	Namespace       string

	MinioAddress        string // host:port of the S3 API
	MinioConsoleAddress string // host:port of MinIO's console
	AccessKey           string
	SecretKey           string

	// Output receives the servers' own output; nil discards it (the last lines are still kept for errors).
	Output io.Writer
	Logger *slog.Logger
	// StartTimeout bounds the wait for each server (default 90 s).
	StartTimeout time.Duration
}

// Stack is the running servers.
type Stack struct {
	opts  Options
	procs []*proc
}

type proc struct {
	name string
	bin  string
	args []string
	env  []string
	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{}
	err  error
}

// Start checks binaries and ports, starts MinIO and Temporal, and waits until both answer. On error every
// started process is stopped.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 90 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	temporalBin := ""
	var err error
	if !opts.NoTemporal {
		if temporalBin, err = findBinary(opts.BinDir, "temporal"); err != nil {
			return nil, err
		}
	}
	minioBin, err := findBinary(opts.BinDir, "minio")
	if err != nil {
		return nil, err
	}
	addrs := map[string]string{"MinIO": opts.MinioAddress}
	if !opts.NoTemporal {
		addrs["Temporal frontend"] = opts.TemporalAddress
	} else {
		opts.TemporalAddress, opts.Headless = "127.0.0.1:0", true
	}
	if opts.MinioConsoleAddress != "" {
		addrs["MinIO console"] = opts.MinioConsoleAddress
	}
	tHost, tPort, err := net.SplitHostPort(opts.TemporalAddress)
	if err != nil {
		return nil, fmt.Errorf("temporal address %q: %w", opts.TemporalAddress, err)
	}
	if !opts.Headless && !opts.NoTemporal {
		if opts.TemporalUIPort == 0 {
			p, _ := strconv.Atoi(tPort)
			opts.TemporalUIPort = p + 1000
		}
		addrs["Temporal web UI"] = net.JoinHostPort(tHost, strconv.Itoa(opts.TemporalUIPort))
	}
	for what, addr := range addrs {
		if err := checkFree(addr); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
	}
	minioDir := filepath.Join(opts.StateDir, "minio")
	if err := os.MkdirAll(minioDir, 0o755); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	s := &Stack{opts: opts}
	minioArgs := []string{"server", minioDir, "--address", opts.MinioAddress, "--quiet"}
	if opts.MinioConsoleAddress != "" {
		minioArgs = append(minioArgs, "--console-address", opts.MinioConsoleAddress)
	}
	minioEnv := []string{"MINIO_ROOT_USER=" + opts.AccessKey, "MINIO_ROOT_PASSWORD=" + opts.SecretKey,
		"MINIO_UPDATE=off", "MINIO_BROWSER=" + onOff(opts.MinioConsoleAddress != "")}
	if err := s.spawn("minio", minioBin, minioArgs, minioEnv); err != nil {
		s.Close()
		return nil, err
	}
	if opts.NoTemporal {
		if err := s.waitMinio(ctx); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	tArgs := []string{"server", "start-dev", "--ip", tHost, "--port", tPort,
		"--db-filename", filepath.Join(opts.StateDir, "temporal.db"), "--namespace", opts.Namespace, "--log-level", "warn"}
	if opts.Headless {
		tArgs = append(tArgs, "--headless")
	} else {
		tArgs = append(tArgs, "--ui-port", strconv.Itoa(opts.TemporalUIPort))
	}
	if err := s.spawn("temporal", temporalBin, tArgs, nil); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.waitMinio(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.waitTemporal(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// findBinary looks for name in dir, then on PATH.
func findBinary(dir, name string) (string, error) {
	if dir != "" {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in %s or on PATH: run `make tools` to build it into bin/", name, dir)
}

// checkFree fails when something already listens on addr.
func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s is not free (another osservatorio dev, or another server, holds it; change the address in the configuration): %w", addr, err)
	}
	return l.Close()
}

func (s *Stack) spawn(name, bin string, args, env []string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	tail := &tailBuffer{max: 8 << 10}
	var out io.Writer = tail
	if s.opts.Output != nil {
		out = io.MultiWriter(tail, &prefixWriter{prefix: "[" + name + "] ", w: s.opts.Output})
	}
	cmd.Stdout, cmd.Stderr = out, out
	// Own process group, so a terminal's Ctrl-C reaches us first and we stop the servers in order; and
	// killed with us if we die.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, bin: bin, args: args, env: env, cmd: cmd, tail: tail, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	for i, old := range s.procs {
		if old.name == name {
			s.procs[i] = p
			return nil
		}
	}
	s.procs = append(s.procs, p)
	s.opts.Logger.Info("started", "server", name, "pid", cmd.Process.Pid)
	return nil
}

func (s *Stack) proc(name string) *proc {
	for _, p := range s.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// waitFor polls ready until it succeeds, the process exits, or the timeout passes.
func (s *Stack) waitFor(ctx context.Context, name string, ready func(context.Context) error) error {
	p := s.proc(name)
	deadline := time.Now().Add(s.opts.StartTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited while starting (%v); its last output:\n%s", name, p.err, p.tail.String())
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last = ready(cctx)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up in %s (%v); its last output:\n%s", name, s.opts.StartTimeout, last, p.tail.String())
}

func (s *Stack) waitMinio(ctx context.Context) error {
	url := "http://" + s.opts.MinioAddress + "/minio/health/live"
	return s.waitFor(ctx, "minio", func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("health: HTTP %d", resp.StatusCode)
		}
		return nil
	})
}

func (s *Stack) waitTemporal(ctx context.Context) error {
	return s.waitFor(ctx, "temporal", func(ctx context.Context) error {
		c, err := client.DialContext(ctx, client.Options{HostPort: s.opts.TemporalAddress, Namespace: s.opts.Namespace,
			Logger: quietLogger{}})
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
		if err != nil {
			return err
		}
		// The namespace is registered a moment after the frontend answers.
		_, err = c.WorkflowService().DescribeNamespace(ctx, describeNamespace(s.opts.Namespace))
		return err
	})
}

// Close stops every server: SIGTERM to its process group, SIGKILL after 10 s.
func (s *Stack) Close() error {
	var errs []error
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			errs = append(errs, fmt.Errorf("%s did not stop in 10 s: killed", p.name))
		}
		s.opts.Logger.Info("stopped", "server", p.name)
	}
	return errors.Join(errs...)
}

// Restart kills a server (SIGKILL: nothing flushed) and starts it again on its state, then waits until it
// answers: what a crash and a restart by a supervisor do. For the fault tests.
func (s *Stack) Restart(ctx context.Context, name string) error {
	p := s.proc(name)
	if p == nil {
		return fmt.Errorf("no server %s", name)
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
	if err := s.spawn(name, p.bin, p.args, p.env); err != nil {
		return err
	}
	if name == "minio" {
		return s.waitMinio(ctx)
	}
	return s.waitTemporal(ctx)
}

// Exited returns a channel closed when any server exits, and which one.
func (s *Stack) Exited() <-chan string {
	ch := make(chan string, 1)
	for _, p := range s.procs {
		go func(p *proc) {
			<-p.done
			select {
			case ch <- p.name:
			default:
			}
		}(p)
	}
	return ch
}

// Tail returns the last output of a server.
func (s *Stack) Tail(name string) string {
	if p := s.proc(name); p != nil {
		return p.tail.String()
	}
	return ""
}

// FreeAddr returns a loopback address with a free port, for tests.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

type prefixWriter struct {
	mu     sync.Mutex
	prefix string
	w      io.Writer
	line   []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line = append(p.line, b...)
	for {
		i := bytes.IndexByte(p.line, '\n')
		if i < 0 {
			break
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.line[:i]); err != nil {
			return len(b), err
		}
		p.line = p.line[i+1:]
	}
	return len(b), nil
}

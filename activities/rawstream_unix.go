//go:build unix

package activities

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
)

// rawStream feeds a raw object from the object store into a named pipe that DuckDB reads as its CSV file,
// so that a worker that does not hold an export harmonizes it while it downloads rather than after (the
// download alone, written to local disk, cost half as much again as the harmonization). It hashes what
// it passes on: finish says whether every byte came as stored.
type rawStream struct {
	path    string
	done    chan error
	opened  atomic.Bool // a reader opened the pipe: the feeder is past open
	abandon atomic.Bool
}

// streamRaw makes the pipe dir/name and starts feeding the object key (of sha256 sha) into it once a
// reader opens it.
func (a *Activities) streamRaw(ctx context.Context, dir, name, key, sha string) (*rawStream, error) {
	s := &rawStream{path: filepath.Join(dir, name), done: make(chan error, 1)}
	if err := syscall.Mkfifo(s.path, 0o600); err != nil {
		return nil, fmt.Errorf("raw stream: %w", err)
	}
	go func() { s.done <- s.feed(ctx, a, key, sha) }()
	return s, nil
}

func (s *rawStream) feed(ctx context.Context, a *Activities, key, sha string) error {
	w, err := os.OpenFile(s.path, os.O_WRONLY, 0) // until the reader opens the pipe
	if err != nil {
		return err
	}
	s.opened.Store(true)
	growPipe(w)
	defer w.Close() // the reader sees the end of the file: finish says whether it was the whole object
	if s.abandon.Load() {
		return errAbandoned
	}
	r, err := a.Lake.B.Get(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(w, h), bufio.NewReaderSize(r, 1<<20)); errors.Is(err, syscall.EPIPE) {
		return nil // the reader stopped (its own error says why)
	} else if err != nil {
		return fmt.Errorf("stream %s: %w", key, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		return fmt.Errorf("stream %s: sha256 %s, want %s", key, got, sha)
	}
	return nil
}

var errAbandoned = errors.New("raw stream never read")

// finish waits for the feed to end, once the reader is done, and returns its error: an object that came
// short or other than stored makes what the reader made unusable. A feeder whose pipe no reader opened
// is let go; one still writing to a reader gone stops at the broken pipe.
func (s *rawStream) finish() error {
	s.abandon.Store(true)
	if !s.opened.Load() {
		// A reader, held until the feeder has seen it: its open returns, and it stops.
		if f, err := os.OpenFile(s.path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			defer f.Close()
		}
	}
	err := <-s.done
	if errors.Is(err, errAbandoned) {
		return nil
	}
	return err
}

// streamsRaw says whether this platform feeds raw objects through named pipes.
const streamsRaw = true

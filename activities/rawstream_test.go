//go:build unix

package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// A raw object streamed through a named pipe arrives whole; one that is not what was stored is an error
// once read; a pipe nobody opens, or a reader that stops early, lets the feeder go.
func TestRawStream(t *testing.T) {
	ctx := context.Background()
	b := devstacktest.Bucket(t, "raw-stream")
	a := &Activities{Lake: lake.New(b)}
	body := bytes.Repeat([]byte("DATA,GENERE\n01/01/2024,F\n"), 200000) // 5 MB
	if err := b.Put(ctx, "raw/x.csv", bytes.NewReader(body), int64(len(body)), objectstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	sha := hex.EncodeToString(sum[:])
	dir := t.TempDir()
	read := func(name, want string, stopAfter int64) ([]byte, error) {
		s, err := a.streamRaw(ctx, dir, name, "raw/x.csv", want)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(s.path)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		if stopAfter > 0 {
			got, _ = io.ReadAll(io.LimitReader(f, stopAfter))
		} else {
			got, _ = io.ReadAll(f)
		}
		f.Close()
		return got, s.finish()
	}
	if got, err := read("whole", sha, 0); err != nil || !bytes.Equal(got, body) {
		t.Errorf("whole: %d bytes of %d, %v", len(got), len(body), err)
	}
	if _, err := read("other", strings.Repeat("0", 64), 0); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("other bytes than stored: %v", err)
	}
	if _, err := read("early", sha, 1000); err != nil {
		t.Errorf("a reader that stopped: %v", err)
	}
	s, err := a.streamRaw(ctx, dir, "never", "raw/x.csv", sha)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.finish() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("never opened: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("finish waits for a pipe nobody opens")
	}
}

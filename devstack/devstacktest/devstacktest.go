// Package devstacktest starts the dev servers from the repository's bin/ for the fast tests of one
// package: MinIO alone, or with Temporal. A test skips in -short mode and when make tools has not built
// the binaries; the servers stop when the test ends.
package devstacktest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/devstack"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Servers are the addresses and root key of the started servers.
type Servers struct {
	Temporal, MinIO      string // host:port; Temporal "" when not started
	AccessKey, SecretKey string
}

// Start starts MinIO (and Temporal, withTemporal) with the root key name/name-secret.
func Start(t *testing.T, name string, withTemporal bool) Servers {
	t.Helper()
	need := "minio"
	if withTemporal {
		need = "temporal"
	}
	if testing.Short() {
		t.Skip("starts " + need + ": skipped in -short mode")
	}
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(file))), "bin")
	for _, b := range []string{"minio", need} {
		if _, err := os.Stat(filepath.Join(bin, b)); err != nil {
			t.Skipf("bin/%s is not built (make tools)", b)
		}
	}
	s := Servers{AccessKey: name, SecretKey: name + "-secret"}
	s.MinIO, _ = devstack.FreeAddr()
	opts := devstack.Options{BinDir: bin, StateDir: t.TempDir(), Headless: true, NoTemporal: !withTemporal,
		MinioAddress: s.MinIO, AccessKey: s.AccessKey, SecretKey: s.SecretKey}
	if withTemporal {
		s.Temporal, _ = devstack.FreeAddr()
		opts.TemporalAddress = s.Temporal
	}
	stack, err := devstack.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.Close() })
	return s
}

// Bucket starts MinIO and returns a bucket of it named name, created.
func Bucket(t *testing.T, name string) *objectstore.Bucket {
	t.Helper()
	s := Start(t, name, false)
	st, err := objectstore.New(objectstore.Config{Endpoint: s.MinIO, AccessKey: s.AccessKey, SecretKey: s.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	b := st.Bucket(name)
	if err := b.Ensure(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

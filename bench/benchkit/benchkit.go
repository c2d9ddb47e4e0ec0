// Package benchkit holds what the benchmark commands share: a MinIO of their own with one bucket, and a
// logger that keeps Temporal's activity test environment quiet.
package benchkit

import (
	"context"

	"github.com/osservatorio-lombardia/osservatorio/devstack"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Credentials of the benchmarks' MinIO (loopback only).
const (
	AccessKey = "bench"
	SecretKey = "bench-secret-key"
)

// MinIO starts a MinIO server from binDir with its state in stateDir, on a free loopback port, and
// returns its address, a client, the bucket (created) and what stops the server.
func MinIO(ctx context.Context, binDir, stateDir, bucket string) (string, *objectstore.Store, *objectstore.Bucket, func(), error) {
	addr, _ := devstack.FreeAddr()
	stack, err := devstack.Start(ctx, devstack.Options{BinDir: binDir, StateDir: stateDir, NoTemporal: true,
		MinioAddress: addr, AccessKey: AccessKey, SecretKey: SecretKey})
	if err != nil {
		return "", nil, nil, nil, err
	}
	store, err := objectstore.New(objectstore.Config{Endpoint: addr, AccessKey: AccessKey, SecretKey: SecretKey})
	if err != nil {
		stack.Close()
		return "", nil, nil, nil, err
	}
	b := store.Bucket(bucket)
	if err := b.Ensure(ctx); err != nil {
		stack.Close()
		return "", nil, nil, nil, err
	}
	return addr, store, b, func() { stack.Close() }, nil
}

// Quiet is a Temporal logger that says nothing.
type Quiet struct{}

func (Quiet) Debug(string, ...interface{}) {}
func (Quiet) Info(string, ...interface{})  {}
func (Quiet) Warn(string, ...interface{})  {}
func (Quiet) Error(string, ...interface{}) {}

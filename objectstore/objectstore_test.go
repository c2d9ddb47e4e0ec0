package objectstore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// On a real MinIO (from bin/, as make test builds it): create-only writes, compare-and-swap, not-found,
// listing and create-only copies behave as the platform relies on.
func TestBucketOnMinIO(t *testing.T) {
	ctx := context.Background()
	addr := devstacktest.Start(t, "objectstore-test", false).MinIO
	st, err := objectstore.New(objectstore.Config{Endpoint: addr, AccessKey: "objectstore-test", SecretKey: "objectstore-test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	b := st.Bucket("objectstore-test")
	if err := b.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	put := func(key, v string, opts objectstore.PutOptions) error {
		return b.Put(ctx, key, bytes.NewReader([]byte(v)), int64(len(v)), opts)
	}
	if err := put("claims/1.0.0", "a", objectstore.PutOptions{IfAbsent: true}); err != nil {
		t.Fatal(err)
	}
	if err := put("claims/1.0.0", "b", objectstore.PutOptions{IfAbsent: true}); !errors.Is(err, objectstore.ErrExists) {
		t.Errorf("second create-only write: %v, want ErrExists", err)
	}
	data, etag, err := b.GetWithETag(ctx, "claims/1.0.0")
	if err != nil || string(data) != "a" {
		t.Fatalf("%q %v", data, err)
	}
	if err := b.PutIfMatch(ctx, "claims/1.0.0", []byte("c"), etag); err != nil {
		t.Errorf("compare-and-swap with the current ETag: %v", err)
	}
	if err := b.PutIfMatch(ctx, "claims/1.0.0", []byte("d"), etag); !errors.Is(err, objectstore.ErrChanged) {
		t.Errorf("compare-and-swap with a stale ETag: %v, want ErrChanged", err)
	}
	var v map[string]any
	if err := b.GetJSON(ctx, "nope.json", &v); !errors.Is(err, objectstore.ErrNotFound) {
		t.Errorf("missing object: %v, want ErrNotFound", err)
	}
	if err := b.PutJSON(ctx, "state/x.json", map[string]int{"n": 1}, objectstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.CopyToIfAbsent(ctx, "state/x.json", "state/y.json"); err != nil {
		t.Errorf("copy: %v", err)
	}
	if err := b.CopyToIfAbsent(ctx, "state/x.json", "state/y.json"); !errors.Is(err, objectstore.ErrExists) {
		t.Errorf("second create-only copy: %v, want ErrExists", err)
	}
	infos, err := b.List(ctx, "state/", true)
	if err != nil || len(infos) != 2 {
		t.Errorf("list: %+v %v", infos, err)
	}
	for _, in := range infos {
		if time.Since(in.LastModified) > time.Minute || in.Size == 0 { // gc judges age by it
			t.Errorf("list: %s modified %v, %d bytes", in.Key, in.LastModified, in.Size)
		}
	}
	if err := b.Remove(ctx, "state/x.json"); err != nil {
		t.Error(err)
	}
	if ok, _ := b.Exists(ctx, "state/x.json"); ok {
		t.Error("removed object still exists")
	}

	// A worker killed mid-upload leaves its parts: young ones are left alone, stale ones aborted.
	mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4("objectstore-test", "objectstore-test-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	core := minio.Core{Client: mc}
	id, err := core.NewMultipartUpload(ctx, "objectstore-test", "raw/big.csv", minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := core.PutObjectPart(ctx, "objectstore-test", "raw/big.csv", id, 1, bytes.NewReader(make([]byte, 5<<20)), 5<<20, minio.PutObjectPartOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, err := b.AbortStaleUploads(ctx, time.Hour); err != nil || n != 0 {
		t.Errorf("an upload begun now, stale after an hour: %d aborted, %v; want 0", n, err)
	}
	if n, err := b.AbortStaleUploads(ctx, 0); err != nil || n != 1 {
		t.Errorf("stale upload: %d aborted, %v; want 1", n, err)
	}
	if n, err := b.AbortStaleUploads(ctx, 0); err != nil || n != 0 {
		t.Errorf("after the abort: %d still listed, %v", n, err)
	}
}

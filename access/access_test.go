package access_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/osservatorio-lombardia/osservatorio/access"
	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// On a real MinIO: an observatory's key reads releases, keys and its own space, writes only its
// acknowledgements, and reaches nothing else; rotation and revocation refuse the old secret.
func TestObservatoryKeysOnMinIO(t *testing.T) {
	ctx := context.Background()
	addr := devstacktest.Start(t, "access-test", false).MinIO
	root, err := objectstore.New(objectstore.Config{Endpoint: addr, AccessKey: "access-test", SecretKey: "access-test-secret"})
	if err != nil {
		t.Fatal(err)
	}
	central := root.Bucket("osservatorio")
	for _, b := range []string{"osservatorio", "obs-a", "obs-b"} {
		if err := root.Bucket(b).Ensure(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"releases/1.0.0/datapackage.json", "blobs/sha256/ab", "keys/k.json", "raw/x/y/z.csv", "state/x/y.json", "identities/tokens/t.json", "acks/b/1.0.0.json"} {
		if err := central.Put(ctx, k, strings.NewReader("{}"), 2, objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"obs-a", "obs-b"} {
		if err := root.Bucket(b).Put(ctx, "releases/1.0.0/datapackage.json", strings.NewReader("{}"), 2, objectstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := access.New(addr, "access-test", "access-test-secret", false, central)
	if err != nil {
		t.Fatal(err)
	}
	a, err := m.Issue(ctx, "a", "obs-a", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Issue(ctx, "b", "obs-b", false); err != nil {
		t.Fatal(err)
	}
	if a.AccessKey != "obs-a" || a.SecretKey == "" || a.Bucket != "osservatorio" || a.Endpoint != addr {
		t.Errorf("credentials = %+v", a)
	}
	if _, err := m.Issue(ctx, "a", "obs-a", false); !errors.Is(err, access.ErrExists) {
		t.Errorf("issuing again without rotate: %v, want ErrExists", err)
	}
	as := client(t, addr, a)
	allowed := func(what string, err error, want bool) {
		t.Helper()
		if (err == nil) != want {
			t.Errorf("%s: err %v, want allowed=%v", what, err, want)
		}
	}
	get := func(c *minio.Client, bucket, key string) error {
		o, err := c.GetObject(ctx, bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return err
		}
		defer o.Close()
		_, err = o.Stat()
		return err
	}
	list := func(c *minio.Client, bucket, prefix string) error {
		for o := range c.ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				return o.Err
			}
		}
		return nil
	}
	put := func(c *minio.Client, bucket, key string) error {
		_, err := c.PutObject(ctx, bucket, key, strings.NewReader("x"), 1, minio.PutObjectOptions{})
		return err
	}
	allowed("read a release", get(as, "osservatorio", "releases/1.0.0/datapackage.json"), true)
	allowed("list releases", list(as, "osservatorio", "releases/"), true)
	allowed("read the public keys", get(as, "osservatorio", "keys/k.json"), true)
	allowed("read a release file by its hash", get(as, "osservatorio", "blobs/sha256/ab"), true)
	allowed("list the release files", list(as, "osservatorio", "blobs/"), false)
	allowed("read its own space", get(as, "obs-a", "releases/1.0.0/datapackage.json"), true)
	allowed("acknowledge", put(as, "osservatorio", "acks/a/1.0.0.json"), true)
	allowed("read another observatory's space", get(as, "obs-b", "releases/1.0.0/datapackage.json"), false)
	allowed("list another observatory's space", list(as, "obs-b", ""), false)
	allowed("acknowledge for another", put(as, "osservatorio", "acks/b/1.0.0.json"), false)
	allowed("read another's acknowledgement", get(as, "osservatorio", "acks/b/1.0.0.json"), false)
	for _, k := range []string{"raw/x/y/z.csv", "state/x/y.json", "identities/tokens/t.json"} {
		allowed("read "+k, get(as, "osservatorio", k), false)
	}
	allowed("list raw/", list(as, "osservatorio", "raw/"), false)
	for _, k := range []string{"releases/1.0.0/datapackage.json", "releases/9.9.9/x", "raw/x/y/new.csv", "state/x/y.json", "keys/evil.json", "blobs/sha256/cd"} {
		allowed("write "+k, put(as, "osservatorio", k), false)
	}
	allowed("write into its own space", put(as, "obs-a", "x"), false)
	allowed("delete a release file", as.RemoveObject(ctx, "osservatorio", "releases/1.0.0/datapackage.json", minio.RemoveObjectOptions{}), false)
	if ok, _ := central.Exists(ctx, "releases/1.0.0/datapackage.json"); !ok {
		t.Error("the release file is gone")
	}

	rotated, err := m.Issue(ctx, "a", "obs-a", true)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.SecretKey == a.SecretKey {
		t.Error("rotation kept the secret")
	}
	allowed("the old secret after a rotation", eventually(func() error { return notRefused(get(as, "osservatorio", "releases/1.0.0/datapackage.json")) }), true)
	allowed("the new secret", get(client(t, addr, rotated), "osservatorio", "releases/1.0.0/datapackage.json"), true)
	if err := m.Revoke(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	allowed("a revoked key", eventually(func() error {
		return notRefused(get(client(t, addr, rotated), "osservatorio", "releases/1.0.0/datapackage.json"))
	}), true)
	if id, ok, err := m.Get(ctx, "a"); err != nil || !ok || id.Revoked == nil {
		t.Errorf("record after revoke: %+v %v %v", id, ok, err)
	}
	if err := m.Revoke(ctx, "a"); !errors.Is(err, access.ErrNone) {
		t.Errorf("revoking twice: %v, want ErrNone", err)
	}
}

func client(t *testing.T, addr string, c access.Credentials) *minio.Client {
	t.Helper()
	mc, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	return mc
}

// notRefused turns "the key is refused" into success, anything else into an error.
func notRefused(err error) error {
	if err == nil {
		return errors.New("the key still works")
	}
	if code := minio.ToErrorResponse(err).Code; code != "InvalidAccessKeyId" && code != "SignatureDoesNotMatch" && code != "AccessDenied" {
		return err
	}
	return nil
}

// eventually retries f for a few seconds (MinIO applies identity changes at once on one node; this is
// a margin, not a wait).
func eventually(f func() error) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = f(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

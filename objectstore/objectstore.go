// Package objectstore adapts an S3-compatible object store (MinIO locally, any S3 in production) to what the
// platform needs: streaming writes with a known size, create-only-if-absent writes, reads, listings and
// server-side copies. It is the system of record for raw files, snapshots, releases and the delivery ledger.
package objectstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrNotFound is returned when an object or bucket does not exist.
var ErrNotFound = errors.New("object not found")

// ErrNoBucket is returned when the bucket does not exist.
var ErrNoBucket = errors.New("bucket does not exist")

// ErrExists is returned by a create-only write when the object already exists.
var ErrExists = errors.New("object already exists")

// Config is how to reach the store.
type Config struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	UseSSL    bool
	Region    string
}

// Store is a connection to the object store.
type Store struct {
	client *minio.Client
}

// New returns a Store for cfg. It does not contact the server.
func New(cfg Config) (*Store, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure: cfg.UseSSL,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", cfg.Endpoint, err)
	}
	return &Store{client: c}, nil
}

// Bucket returns a handle on one bucket.
func (s *Store) Bucket(name string) *Bucket { return &Bucket{client: s.client, name: name} }

// Bucket is one bucket of the store.
type Bucket struct {
	client *minio.Client
	name   string
}

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Ensure creates the bucket if it does not exist.
func (b *Bucket) Ensure(ctx context.Context) error {
	ok, err := b.client.BucketExists(ctx, b.name)
	if err != nil {
		return fmt.Errorf("bucket %s: %w", b.name, err)
	}
	if ok {
		return nil
	}
	if err := b.client.MakeBucket(ctx, b.name, minio.MakeBucketOptions{}); err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.Code == "BucketAlreadyOwnedByYou" || resp.Code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("create bucket %s: %w", b.name, err)
	}
	return nil
}

// PutOptions are the options of a write.
type PutOptions struct {
	ContentType string
	// IfAbsent makes the write create-only: it fails with ErrExists when the key exists. Atomic on the server.
	IfAbsent bool
	Metadata map[string]string
}

// Put streams r (of exactly size bytes, or -1 when unknown) to key.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) error {
	po := minio.PutObjectOptions{ContentType: opts.ContentType, UserMetadata: opts.Metadata}
	if size < 0 {
		po.PartSize = 16 << 20
	}
	if opts.IfAbsent {
		po.SetMatchETagExcept("*")
	}
	if _, err := b.client.PutObject(ctx, b.name, key, r, size, po); err != nil {
		resp := minio.ToErrorResponse(err)
		if opts.IfAbsent && (resp.Code == "PreconditionFailed" || resp.StatusCode == 412) {
			return fmt.Errorf("put %s/%s: %w", b.name, key, ErrExists)
		}
		return fmt.Errorf("put %s/%s: %w", b.name, key, err)
	}
	return nil
}

// PutFile streams a local file to key.
func (b *Bucket) PutFile(ctx context.Context, key, path string, opts PutOptions) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return b.Put(ctx, key, f, st.Size(), opts)
}

// PutJSON writes v as indented JSON.
func (b *Bucket) PutJSON(ctx context.Context, key string, v any, opts PutOptions) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	data = append(data, '\n')
	opts.ContentType = "application/json"
	return b.Put(ctx, key, bytes.NewReader(data), int64(len(data)), opts)
}

// Get opens key for reading. The caller closes the reader.
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := b.client.GetObject(ctx, b.name, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, b.classify(key, err)
	}
	// GetObject is lazy: Stat surfaces a missing key now rather than at the first Read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, b.classify(key, err)
	}
	return obj, nil
}

// GetHead reads the first n bytes of key (fewer when it is shorter), in one ranged request.
func (b *Bucket) GetHead(ctx context.Context, key string, n int64) ([]byte, error) {
	opts := minio.GetObjectOptions{}
	if err := opts.SetRange(0, n-1); err != nil {
		return nil, err
	}
	obj, err := b.client.GetObject(ctx, b.name, key, opts)
	if err != nil {
		return nil, b.classify(key, err)
	}
	defer obj.Close()
	data, err := io.ReadAll(io.LimitReader(obj, n))
	if err != nil {
		return nil, b.classify(key, err)
	}
	return data, nil
}

// GetJSON decodes the JSON object at key into v.
func (b *Bucket) GetJSON(ctx context.Context, key string, v any) error {
	var err error
	// A record rewritten while it is read (a ledger entry, a state) fails the read's precondition on
	// its ETag: read it again, whole.
	for attempt := 0; attempt < 3; attempt++ {
		if err = b.getJSON(ctx, key, v); !preconditionFailed(err) {
			return err
		}
	}
	return err
}

func preconditionFailed(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && er.Code == "PreconditionFailed"
}

func (b *Bucket) getJSON(ctx context.Context, key string, v any) error {
	r, err := b.Get(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("decode %s/%s: %w", b.name, key, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", b.name, key, err)
	}
	return nil
}

// GetFile downloads key to a local file.
func (b *Bucket) GetFile(ctx context.Context, key, path string) error {
	r, err := b.Get(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	// One 8 MiB buffer (the wrappers stop io.CopyBuffer from falling back to os.File's 32 KiB ReadFrom):
	// raw CO exports run to gigabytes.
	if _, err := io.CopyBuffer(onlyWriter{f}, onlyReader{r}, make([]byte, 8<<20)); err != nil {
		f.Close()
		return fmt.Errorf("download %s/%s: %w", b.name, key, err)
	}
	return f.Close()
}

// Info describes an object.
type Info struct {
	Key          string
	Size         int64
	ETag         string
	Metadata     map[string]string
	ContentType  string
	LastModified time.Time
}

// Stat describes key, or returns ErrNotFound.
func (b *Bucket) Stat(ctx context.Context, key string) (Info, error) {
	st, err := b.client.StatObject(ctx, b.name, key, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, b.classify(key, err)
	}
	return Info{Key: key, Size: st.Size, ETag: st.ETag, Metadata: st.UserMetadata, ContentType: st.ContentType, LastModified: st.LastModified}, nil
}

// Exists reports whether key exists.
func (b *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	_, err := b.Stat(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// List returns the keys under prefix, sorted. With delimiter "/" it returns the immediate "folders"
// (ending in "/") and objects only.
func (b *Bucket) List(ctx context.Context, prefix string, recursive bool) ([]Info, error) {
	var out []Info
	for obj := range b.client.ListObjects(ctx, b.name, minio.ListObjectsOptions{Prefix: prefix, Recursive: recursive}) {
		if obj.Err != nil {
			return nil, b.classify(prefix, obj.Err)
		}
		out = append(out, Info{Key: obj.Key, Size: obj.Size, ETag: strings.Trim(obj.ETag, `"`), LastModified: obj.LastModified})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// CopyTo copies srcKey of this bucket to dstKey of dst: on the server side when both are on the same
// service, else streamed through this process.
func (b *Bucket) CopyTo(ctx context.Context, srcKey string, dst *Bucket, dstKey string) error {
	if dst.client != b.client {
		return b.stream(ctx, srcKey, dst, dstKey)
	}
	_, err := b.client.CopyObject(ctx,
		minio.CopyDestOptions{Bucket: dst.name, Object: dstKey},
		minio.CopySrcOptions{Bucket: b.name, Object: srcKey})
	if err != nil {
		return fmt.Errorf("copy %s/%s to %s/%s: %w", b.name, srcKey, dst.name, dstKey, dst.classifyBucket(err))
	}
	return nil
}

// AbortStaleUploads aborts the multipart uploads begun before olderThan ago and never completed (a worker
// killed while writing a large object leaves its parts behind), and returns how many it aborted. Younger
// uploads may belong to running activities and are left alone. (MinIO rejects the lifecycle rule
// AbortIncompleteMultipartUpload, and its own expiry of stale uploads waits 24 hours.)
func (b *Bucket) AbortStaleUploads(ctx context.Context, olderThan time.Duration) (int, error) {
	core := minio.Core{Client: b.client}
	n := 0
	for u := range b.client.ListIncompleteUploads(ctx, b.name, "", true) {
		if u.Err != nil {
			return n, fmt.Errorf("list incomplete uploads of %s: %w", b.name, b.classifyBucket(u.Err))
		}
		if time.Since(u.Initiated) < olderThan {
			continue
		}
		if err := core.AbortMultipartUpload(ctx, b.name, u.Key, u.UploadID); err != nil {
			return n, fmt.Errorf("abort the upload of %s/%s: %w", b.name, u.Key, err)
		}
		n++
	}
	return n, nil
}

func (b *Bucket) stream(ctx context.Context, srcKey string, dst *Bucket, dstKey string) error {
	info, err := b.Stat(ctx, srcKey)
	if err != nil {
		return err
	}
	r, err := b.Get(ctx, srcKey)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := dst.Put(ctx, dstKey, r, info.Size, PutOptions{ContentType: info.ContentType}); err != nil {
		return fmt.Errorf("copy %s/%s to %s/%s: %w", b.name, srcKey, dst.name, dstKey, err)
	}
	return nil
}

// Remove deletes key; a missing key is not an error.
func (b *Bucket) Remove(ctx context.Context, key string) error {
	if err := b.client.RemoveObject(ctx, b.name, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove %s/%s: %w", b.name, key, err)
	}
	return nil
}

func (b *Bucket) classifyBucket(err error) error {
	if minio.ToErrorResponse(err).Code == "NoSuchBucket" {
		return fmt.Errorf("bucket %s: %w", b.name, ErrNoBucket)
	}
	return err
}

func (b *Bucket) classify(key string, err error) error {
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket":
		return fmt.Errorf("bucket %s: %w", b.name, ErrNoBucket)
	case "NoSuchKey", "NotFound":
		return fmt.Errorf("%s/%s: %w", b.name, key, ErrNotFound)
	}
	return fmt.Errorf("%s/%s: %w", b.name, key, err)
}

// CopyToIfAbsent copies srcKey to dstKey in the same bucket unless dstKey exists (ErrExists). The check and
// the write are one server-side step.
func (b *Bucket) CopyToIfAbsent(ctx context.Context, srcKey, dstKey string) error {
	r, err := b.Get(ctx, srcKey)
	if err != nil {
		return err
	}
	defer r.Close()
	st, err := b.Stat(ctx, srcKey)
	if err != nil {
		return err
	}
	return b.Put(ctx, dstKey, r, st.Size, PutOptions{IfAbsent: true, ContentType: st.ContentType})
}

type onlyReader struct{ io.Reader }

type onlyWriter struct{ io.Writer }

// ErrChanged is returned by a conditional write when the object changed since it was read.
var ErrChanged = errors.New("object changed since it was read")

// GetWithETag reads a small object whole, with the ETag of the bytes read; an object rewritten while it
// is read is read again.
func (b *Bucket) GetWithETag(ctx context.Context, key string) (data []byte, etag string, err error) {
	for attempt := 0; attempt < 5; attempt++ {
		if data, etag, err = b.getWithETag(ctx, key); !preconditionFailed(err) {
			break
		}
	}
	return data, etag, err
}

func (b *Bucket) getWithETag(ctx context.Context, key string) ([]byte, string, error) {
	obj, err := b.client.GetObject(ctx, b.name, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, "", b.classify(key, err)
	}
	defer obj.Close()
	st, err := obj.Stat()
	if err != nil {
		return nil, "", b.classify(key, err)
	}
	data, err := io.ReadAll(io.LimitReader(obj, 1<<20))
	if err != nil {
		return nil, "", b.classify(key, err)
	}
	return data, st.ETag, nil
}

// PutIfMatch replaces key only if its ETag is still etag (ErrChanged otherwise): a compare-and-swap.
func (b *Bucket) PutIfMatch(ctx context.Context, key string, data []byte, etag string) error {
	po := minio.PutObjectOptions{ContentType: "application/json"}
	po.SetMatchETag(etag)
	if _, err := b.client.PutObject(ctx, b.name, key, bytes.NewReader(data), int64(len(data)), po); err != nil {
		resp := minio.ToErrorResponse(err)
		if resp.Code == "PreconditionFailed" || resp.StatusCode == 412 || resp.Code == "NoSuchKey" {
			return fmt.Errorf("put %s/%s: %w", b.name, key, ErrChanged)
		}
		return fmt.Errorf("put %s/%s: %w", b.name, key, err)
	}
	return nil
}

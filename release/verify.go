package release

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/signing"
)

// FileCheck is the result of re-hashing one file of a release.
type FileCheck struct {
	Path      string `json:"path"`
	WantBytes int64  `json:"wantBytes"`
	GotBytes  int64  `json:"gotBytes"`
	WantHash  string `json:"wantHash"`
	GotHash   string `json:"gotHash"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
}

// Opener opens a file of a bundle by its path in the bundle ("datapackage.json", "data/x.parquet").
type Opener func(ctx context.Context, name string) (io.ReadCloser, error)

// BucketOpener opens the files of the bundle under prefix in bucket b: its manifest, signature and quality
// report there, the files its manifest lists in the blob store (or beside the manifest, in a bundle
// delivered as a plain folder).
func BucketOpener(b *objectstore.Bucket, prefix string) Opener {
	var m *Manifest
	return func(ctx context.Context, name string) (io.ReadCloser, error) {
		if name == ManifestName || name == SignatureName {
			return b.Get(ctx, prefix+name)
		}
		if m == nil {
			var read Manifest
			if err := b.GetJSON(ctx, prefix+ManifestName, &read); err != nil {
				return nil, err
			}
			m = &read
		}
		return openFile(ctx, b, prefix, m, name)
	}
}

// manifestOpener opens the files of the bundle under prefix whose manifest is m.
func manifestOpener(b *objectstore.Bucket, prefix string, m *Manifest) Opener {
	return func(ctx context.Context, name string) (io.ReadCloser, error) {
		return openFile(ctx, b, prefix, m, name)
	}
}

// openFile opens a file of a bundle from the blob store, or beside the manifest: where a bundle was
// delivered to an observatory's bucket as a plain folder, or published before blobs.
func openFile(ctx context.Context, b *objectstore.Bucket, prefix string, m *Manifest, name string) (io.ReadCloser, error) {
	rc, err := b.Get(ctx, m.FileKey(prefix, name))
	if errors.Is(err, objectstore.ErrNotFound) && m.FileKey(prefix, name) != prefix+name {
		return b.Get(ctx, prefix+name)
	}
	return rc, err
}

// DirOpener opens the files of a bundle in a local folder.
func DirOpener(dir string) Opener {
	return func(_ context.Context, name string) (io.ReadCloser, error) {
		if !filepath.IsLocal(name) {
			return nil, fmt.Errorf("%q is not a path inside the bundle", name)
		}
		return os.Open(filepath.Join(dir, filepath.FromSlash(name)))
	}
}

// Verify re-hashes every file of the release under prefix in bucket b against manifest m.
func Verify(ctx context.Context, b *objectstore.Bucket, prefix string, m *Manifest) []FileCheck {
	return VerifyFiles(ctx, manifestOpener(b, prefix, m), m)
}

// VerifyFiles re-hashes every file of a bundle against manifest m.
func VerifyFiles(ctx context.Context, open Opener, m *Manifest) []FileCheck {
	var out []FileCheck
	for _, r := range m.Resources {
		for _, f := range r.Files() {
			c := FileCheck{Path: f.Path, WantBytes: f.Bytes, WantHash: f.Hash}
			rc, err := open(ctx, f.Path)
			if err != nil {
				c.Error = err.Error()
				out = append(out, c)
				continue
			}
			h := sha256.New()
			n, err := io.Copy(h, rc)
			rc.Close()
			c.GotBytes, c.GotHash = n, "sha256:"+hex.EncodeToString(h.Sum(nil))
			if err != nil {
				c.Error = err.Error()
			}
			c.OK = err == nil && c.GotBytes == c.WantBytes && c.GotHash == c.WantHash
			out = append(out, c)
		}
	}
	return out
}

// Verification is the check of a whole bundle: its signature first, then every file's size and hash.
type Verification struct {
	Version        string             `json:"version"`
	OK             bool               `json:"ok"`
	Signature      *signing.Signature `json:"signature,omitempty"`
	SignatureError string             `json:"signatureError,omitempty"`
	Files          []FileCheck        `json:"files"`
}

// Problems lists what differs, one line each.
func (v *Verification) Problems() []string {
	var out []string
	if v.SignatureError != "" {
		out = append(out, "signature: "+v.SignatureError)
	}
	for _, f := range v.Files {
		switch {
		case f.Error != "":
			out = append(out, f.Path+": "+f.Error)
		case !f.OK:
			out = append(out, fmt.Sprintf("%s: %d bytes %s, the manifest says %d bytes %s", f.Path, f.GotBytes, f.GotHash, f.WantBytes, f.WantHash))
		}
	}
	return out
}

// Check verifies a bundle: the manifest's signature against keys, then every file against the manifest.
// It fails only when the manifest cannot be read; every difference is in the Verification.
func Check(ctx context.Context, open Opener, keys map[string]signing.PublicKey) (*Verification, *Manifest, error) {
	read := func(name string, limit int64) ([]byte, error) {
		rc, err := open(ctx, name)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, limit))
	}
	data, err := read(ManifestName, 64<<20)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	// The signature is checked on the bytes, before they are parsed.
	sig, err := read(SignatureName, 64<<10)
	if err != nil && !errors.Is(err, objectstore.ErrNotFound) && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("read %s: %w", SignatureName, err)
	}
	sg, sigErr := CheckSignature(data, sig, keys)
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		if sigErr != nil {
			return nil, nil, fmt.Errorf("%s is not valid JSON, and its signature: %w", ManifestName, sigErr)
		}
		return nil, nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	v := &Verification{Version: m.Version}
	if sigErr != nil {
		v.SignatureError = sigErr.Error()
	} else {
		v.Signature = &sg
	}
	v.Files = VerifyFiles(ctx, open, &m)
	v.OK = v.SignatureError == ""
	for _, f := range v.Files {
		v.OK = v.OK && f.OK
	}
	return v, &m, nil
}

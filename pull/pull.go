// Package pull is the observatory's side of a release: with the observatory's own storage key (never the
// platform's), it copies the releases it subscribes to into a local folder, taking only the files it
// lacks, checks the signature and every hash before a release appears, and acknowledges it.
//
//	DIR/keys/<key id>.json    the public keys it trusts (kept from the first pull; a key id never changes meaning)
//	DIR/<version>/            a verified bundle: datapackage.json, datapackage.json.sig, data/…
//	DIR/latest -> <version>   the newest verified bundle
//	DIR/.partial-<version>/   a bundle being fetched: a pull that stops resumes from what is there
package pull

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
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/signing"
)

// Options say what to pull where.
type Options struct {
	Bucket      *objectstore.Bucket // the platform's bucket, read with the observatory's key
	Observatory string              // whose slices and acknowledgements
	Dir         string
	// Version pulls that release only; empty pulls every release newer than the newest here (the
	// latest one only, on a first pull), or with All every release.
	Version string
	All     bool
	// OnFile, when set, is called after each file is in place (progress; tests interrupt here).
	OnFile func(version, path string, reused bool)
}

// Result is what one pulled release took.
type Result struct {
	Version    string `json:"version"`
	Bundle     string `json:"bundle"` // where it came from: releases/<v>/ or slices/<id>/<v>/
	Dir        string `json:"dir"`
	Files      int    `json:"files"`
	Downloaded int    `json:"downloaded"`
	Reused     int    `json:"reused"` // found here already: in a partial bundle or, by hash, in another release
	Bytes      int64  `json:"bytes"`  // downloaded
	KeyID      string `json:"key_id"`
}

// Ack is an observatory's acknowledgement of a release, written with its own key.
type Ack struct {
	Observatory string    `json:"observatory"`
	Version     string    `json:"version"`
	Status      string    `json:"status"` // pulled, acknowledged (pulled and verified) or failed
	Time        time.Time `json:"time"`
	Bundle      string    `json:"bundle"`
	Files       int       `json:"files"`
	KeyID       string    `json:"key_id"`
	Error       string    `json:"error,omitempty"`
}

// Pull fetches the due releases, each verified before it appears, and acknowledges each.
func Pull(ctx context.Context, o Options) ([]Result, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	keys, err := trustKeys(ctx, o.Bucket, filepath.Join(o.Dir, "keys"))
	if err != nil {
		return nil, err
	}
	due, err := dueVersions(ctx, o)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, v := range due {
		r, err := pullOne(ctx, o, v, keys)
		if err != nil {
			return out, fmt.Errorf("release %s: %w", v, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Local lists the verified releases in dir, oldest first.
func Local(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var vs []*semver.Version
	for _, e := range entries {
		if v, err := semver.StrictNewVersion(e.Name()); err == nil && e.IsDir() {
			vs = append(vs, v)
		}
	}
	sort.Sort(semver.Collection(vs))
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.String()
	}
	return out
}

func dueVersions(ctx context.Context, o Options) ([]string, error) {
	if o.Version != "" {
		if _, err := semver.StrictNewVersion(o.Version); err != nil {
			return nil, fmt.Errorf("%q is not a release version", o.Version)
		}
		if _, err := os.Stat(filepath.Join(o.Dir, o.Version)); err == nil {
			return nil, nil
		}
		return []string{o.Version}, nil
	}
	published, err := release.NewStore(o.Bucket).Versions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	local := Local(o.Dir)
	if len(published) == 0 {
		return nil, nil
	}
	if len(local) == 0 && !o.All {
		return published[len(published)-1:], nil
	}
	have := map[string]bool{}
	for _, v := range local {
		have[v] = true
	}
	var newest *semver.Version
	if len(local) > 0 {
		newest = semver.MustParse(local[len(local)-1])
	}
	var out []string
	for _, v := range published {
		if have[v] || (!o.All && newest != nil && !semver.MustParse(v).GreaterThan(newest)) {
			continue
		}
		out = append(out, v)
	}
	return out, nil
}

// bundlePrefix is the observatory's slice of the release when the platform made one, else the release.
func bundlePrefix(ctx context.Context, o Options, version string) (string, error) {
	if o.Observatory != "" {
		slice := lake.SlicePrefix(o.Observatory, version)
		ok, err := o.Bucket.Exists(ctx, slice+release.ManifestName)
		if err != nil {
			return "", err
		}
		if ok {
			return slice, nil
		}
	}
	return release.Prefix(version), nil
}

func pullOne(ctx context.Context, o Options, version string, keys map[string]signing.PublicKey) (Result, error) {
	prefix, err := bundlePrefix(ctx, o, version)
	if err != nil {
		return Result{}, err
	}
	partial := filepath.Join(o.Dir, ".partial-"+version)
	if err := os.MkdirAll(partial, 0o755); err != nil {
		return Result{}, err
	}
	res := Result{Version: version, Bundle: prefix, Dir: filepath.Join(o.Dir, version)}
	// The manifest and its signature first: a bundle whose signature fails is not downloaded at all.
	for _, name := range []string{release.ManifestName, release.SignatureName} {
		if err := download(ctx, o.Bucket, prefix+name, filepath.Join(partial, name)); err != nil {
			return res, err
		}
	}
	manifest, _ := os.ReadFile(filepath.Join(partial, release.ManifestName))
	sig, _ := os.ReadFile(filepath.Join(partial, release.SignatureName))
	sg, err := release.CheckSignature(manifest, sig, keys)
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	res.KeyID = sg.KeyID
	var m release.Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return res, err
	}
	if m.Version != version { // a signed manifest of another release, served under this version
		err := fmt.Errorf("%w: %s under %s is release %q", ErrNotVerified, release.ManifestName, prefix, m.Version)
		return res, errors.Join(err, acknowledge(ctx, o, res, release.Failed, err.Error()))
	}
	known := localFiles(o.Dir)
	for _, r := range m.Resources {
		for _, f := range r.Files() {
			reused, err := fetchFile(ctx, o, m.FileKey(prefix, f.Path), partial, f, known)
			if err != nil {
				return res, err
			}
			res.Files++
			if reused {
				res.Reused++
			} else {
				res.Downloaded++
				res.Bytes += f.Bytes
			}
			if o.OnFile != nil {
				o.OnFile(version, f.Path, reused)
			}
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
	}
	if err := acknowledge(ctx, o, res, release.Pulled, ""); err != nil {
		return res, err
	}
	v, _, err := release.Check(ctx, release.DirOpener(partial), keys)
	if err == nil && !v.OK {
		err = fmt.Errorf("%w: %s", ErrNotVerified, strings.Join(v.Problems(), "; "))
	}
	if err != nil {
		return res, errors.Join(err, acknowledge(ctx, o, res, release.Failed, err.Error()))
	}
	if err := os.Rename(partial, res.Dir); err != nil {
		return res, err
	}
	if err := pointLatest(o.Dir); err != nil {
		return res, err
	}
	return res, acknowledge(ctx, o, res, release.Acknowledged, "")
}

// acknowledge tells the platform's ledger how the pull of a release went: pulled (every file here, not
// yet checked), acknowledged (verified and in place) or failed (it did not verify: why).
func acknowledge(ctx context.Context, o Options, res Result, status, reason string) error {
	if o.Observatory == "" {
		return nil
	}
	ack := Ack{Observatory: o.Observatory, Version: res.Version, Status: status, Time: time.Now().UTC().Truncate(time.Second),
		Bundle: res.Bundle, Files: res.Files, KeyID: res.KeyID, Error: reason}
	if err := o.Bucket.PutJSON(ctx, lake.AckKey(o.Observatory, res.Version), ack, objectstore.PutOptions{}); err != nil {
		return fmt.Errorf("acknowledge: %w", err)
	}
	return nil
}

// fetchFile puts one file of the manifest in the partial bundle: kept if already there whole, linked from
// another local release holding the same bytes, else downloaded from key. It says whether nothing was
// downloaded.
func fetchFile(ctx context.Context, o Options, key, partial string, f release.Part, known map[string]string) (bool, error) {
	dst := filepath.Join(partial, filepath.FromSlash(f.Path))
	if !filepath.IsLocal(f.Path) {
		return false, fmt.Errorf("the manifest names %q, not a path inside the bundle", f.Path)
	}
	if sum, err := hashFile(dst); err == nil && sum == f.Hash {
		return true, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, err
	}
	if src, ok := known[f.Hash]; ok {
		os.Remove(dst)
		if err := os.Link(src, dst); err == nil {
			return true, nil
		}
	}
	return false, download(ctx, o.Bucket, key, dst)
}

// download writes key to path through a temporary file, so that path is whole or absent.
func download(ctx context.Context, b *objectstore.Bucket, key, path string) error {
	tmp := path + ".download"
	if err := b.GetFile(ctx, key, tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// localFiles maps the hash of every file of the verified local releases to its path.
func localFiles(dir string) map[string]string {
	out := map[string]string{}
	for _, v := range Local(dir) {
		data, err := os.ReadFile(filepath.Join(dir, v, release.ManifestName))
		if err != nil {
			continue
		}
		var m release.Manifest
		if json.Unmarshal(data, &m) != nil {
			continue
		}
		for _, r := range m.Resources {
			for _, f := range r.Files() {
				if filepath.IsLocal(f.Path) {
					out[f.Hash] = filepath.Join(dir, v, filepath.FromSlash(f.Path))
				}
			}
		}
	}
	return out
}

// pointLatest makes DIR/latest point at the newest verified release, replacing the link atomically.
func pointLatest(dir string) error {
	local := Local(dir)
	if len(local) == 0 {
		return nil
	}
	tmp := filepath.Join(dir, ".latest.tmp")
	os.Remove(tmp)
	if err := os.Symlink(local[len(local)-1], tmp); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "latest"))
}

// ErrNotVerified says a bundle's signature or files do not match: it is not put in place.
var ErrNotVerified = errors.New("the release does not verify")

// ErrKeyChanged says the platform publishes, under a key id this folder already trusts, another key.
var ErrKeyChanged = errors.New("a trusted key id now names another key")

// trustKeys adds the keys published in the bucket to the trusted keys kept in dir and returns them all. A
// key id already trusted keeps its public key (a bucket that offers another one is refused); its validity
// may close (a rotation).
func trustKeys(ctx context.Context, b *objectstore.Bucket, dir string) (map[string]signing.PublicKey, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	trusted, err := signing.ReadKeys(dir)
	if err != nil {
		return nil, err
	}
	published, err := release.Keys(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("read the public keys: %w", err)
	}
	for id, pk := range published {
		if old, ok := trusted[id]; ok && old.PublicKey != pk.PublicKey {
			return nil, fmt.Errorf("key %s: %w: %w", id, ErrNotVerified, ErrKeyChanged)
		}
		if raw, err := pk.Raw(); err != nil || signing.KeyID(raw) != id {
			continue // a published key whose id does not match its bytes is ignored
		}
		data, err := signing.Encode(pk)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, id+".json"), data, 0o644); err != nil {
			return nil, err
		}
		trusted[id] = pk
	}
	return trusted, nil
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

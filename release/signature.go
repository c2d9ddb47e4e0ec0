package release

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/signing"
)

// SignatureName is the detached signature of the manifest, beside it.
const SignatureName = ManifestName + ".sig"

// sign writes the signature of the staged manifest data.
func (s *Store) sign(ctx context.Context, key *signing.Key, stage string, data []byte) error {
	sig, err := signing.Encode(key.Sign(ManifestName, data, time.Now()))
	if err != nil {
		return err
	}
	return s.B.Put(ctx, stage+SignatureName, bytes.NewReader(sig), int64(len(sig)), objectstore.PutOptions{ContentType: "application/json"})
}

// PublishKey publishes a public key under keys/, once: a key already published is left as it is (its
// validity may have been closed by a rotation).
func (s *Store) PublishKey(ctx context.Context, pk signing.PublicKey) error {
	err := s.B.PutJSON(ctx, lake.PublicKeyKey(pk.KeyID), pk, objectstore.PutOptions{IfAbsent: true})
	if errors.Is(err, objectstore.ErrExists) {
		return nil
	}
	return err
}

// RetireKey closes a published key's validity at until: what it signed before still verifies.
func (s *Store) RetireKey(ctx context.Context, id string, until time.Time) error {
	var pk signing.PublicKey
	if err := s.B.GetJSON(ctx, lake.PublicKeyKey(id), &pk); err != nil {
		return fmt.Errorf("key %s: %w", id, err)
	}
	until = until.UTC().Truncate(time.Second)
	pk.ValidUntil = &until
	return s.B.PutJSON(ctx, lake.PublicKeyKey(id), pk, objectstore.PutOptions{})
}

// Keys returns the published public keys by id.
func (s *Store) Keys(ctx context.Context) (map[string]signing.PublicKey, error) {
	return Keys(ctx, s.B)
}

// Keys reads the public keys published in bucket b (the platform's, or an observatory's copy).
func Keys(ctx context.Context, b *objectstore.Bucket) (map[string]signing.PublicKey, error) {
	infos, err := b.List(ctx, lake.KeysPrefix, true)
	if err != nil {
		return nil, err
	}
	out := map[string]signing.PublicKey{}
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".json") {
			continue
		}
		var pk signing.PublicKey
		if err := b.GetJSON(ctx, in.Key, &pk); err != nil {
			return nil, err
		}
		out[pk.KeyID] = pk
	}
	return out, nil
}

// CheckSignature checks the signature file sig over the manifest bytes against the keys; it returns the
// signature read.
func CheckSignature(manifest, sig []byte, keys map[string]signing.PublicKey) (signing.Signature, error) {
	var sg signing.Signature
	if len(sig) == 0 {
		return sg, errors.New(SignatureName + " is missing: the release is not signed")
	}
	if err := json.Unmarshal(sig, &sg); err != nil {
		return sg, fmt.Errorf("%s: %w", SignatureName, err)
	}
	if sg.Signed != ManifestName {
		return sg, fmt.Errorf("%s signs %q, not %s", SignatureName, sg.Signed, ManifestName)
	}
	if err := signing.Verify(manifest, sg, keys); err != nil {
		return sg, fmt.Errorf("%s: %w", ManifestName, err)
	}
	return sg, nil
}

// VerifySignature checks the signature of the release under prefix in bucket b against the keys
// published there.
func VerifySignature(ctx context.Context, b *objectstore.Bucket, prefix string) (signing.Signature, error) {
	read := func(key string) ([]byte, error) {
		rc, err := b.Get(ctx, key)
		if errors.Is(err, objectstore.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, 16<<20))
	}
	manifest, err := read(prefix + ManifestName)
	if err != nil {
		return signing.Signature{}, err
	}
	sig, err := read(prefix + SignatureName)
	if err != nil {
		return signing.Signature{}, err
	}
	keys, err := Keys(ctx, b)
	if err != nil {
		return signing.Signature{}, err
	}
	return CheckSignature(manifest, sig, keys)
}

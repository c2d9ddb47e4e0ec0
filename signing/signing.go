// Package signing signs and verifies release manifests with ed25519 (crypto/ed25519, nothing else).
//
// The format, so that an observatory can check a release with any tool:
//
//   - datapackage.json.sig is JSON: {"signed": "datapackage.json", "algorithm": "ed25519", "keyId": ID,
//     "signedAt": RFC 3339, "signature": BASE64}, where signature is the standard-base64 ed25519
//     signature of the exact bytes of datapackage.json.
//   - keys/<ID>.json is the public key: {"keyId": ID, "algorithm": "ed25519", "publicKey": BASE64 (the 32
//     raw bytes), "publicKeyPem": "-----BEGIN PUBLIC KEY-----…" (SubjectPublicKeyInfo, as openssl reads
//     it), "validFrom": RFC 3339, "validUntil": RFC 3339 or absent}.
//   - ID is "ed25519-" and the first 16 hex digits of the sha256 of the 32 raw public-key bytes.
//   - A release verifies when its signature verifies under its key and signedAt lies in the key's
//     validity; a rotated key gets a validUntil, so the releases it signed before still verify. (signedAt
//     itself is not signed: a key that leaked is withdrawn from keys/, which fails everything it signed.)
//
// With openssl: take the base64 signature into sig.bin (base64 -d), the PEM into key.pem, then
// `openssl pkeyutl -verify -pubin -inkey key.pem -rawin -in datapackage.json -sigfile sig.bin`.
package signing

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Algorithm is the only algorithm used.
const Algorithm = "ed25519"

// Key is a private signing key and its id.
type Key struct {
	ID      string
	private ed25519.PrivateKey
}

// PublicKey is a published verification key with its validity.
type PublicKey struct {
	KeyID      string     `json:"keyId"`
	Algorithm  string     `json:"algorithm"`
	PublicKey  string     `json:"publicKey"`
	PEM        string     `json:"publicKeyPem"`
	ValidFrom  time.Time  `json:"validFrom"`
	ValidUntil *time.Time `json:"validUntil,omitempty"`
}

// Signature is a detached signature of one file.
type Signature struct {
	Signed    string    `json:"signed"`
	Algorithm string    `json:"algorithm"`
	KeyID     string    `json:"keyId"`
	SignedAt  time.Time `json:"signedAt"`
	Signature string    `json:"signature"`
}

// KeyID names a public key: "ed25519-" and 16 hex digits of its sha256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519-" + hex.EncodeToString(sum[:8])
}

// Generate makes a new key.
func Generate() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &Key{ID: KeyID(priv.Public().(ed25519.PublicKey)), private: priv}, nil
}

// Load reads a PKCS#8 PEM private key ("PRIVATE KEY", as openssl genpkey -algorithm ed25519 writes it).
func Load(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM \"PRIVATE KEY\"", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an ed25519 key", path)
	}
	return &Key{ID: KeyID(priv.Public().(ed25519.PublicKey)), private: priv}, nil
}

// Save writes the key as PKCS#8 PEM, readable by its owner only, creating the folder.
func (k *Key) Save(path string) error {
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadOrCreate reads the key at path, or makes one there when there is none; created says which.
func LoadOrCreate(path string) (k *Key, created bool, err error) {
	k, err = Load(path)
	if !errors.Is(err, os.ErrNotExist) {
		return k, false, err
	}
	if k, err = Generate(); err != nil {
		return nil, false, err
	}
	return k, true, k.Save(path)
}

// Public returns the key's public half, valid from the given time.
func (k *Key) Public(validFrom time.Time) PublicKey {
	pub := k.private.Public().(ed25519.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(pub) // cannot fail for an ed25519 key
	return PublicKey{KeyID: k.ID, Algorithm: Algorithm, PublicKey: base64.StdEncoding.EncodeToString(pub),
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), ValidFrom: validFrom.UTC().Truncate(time.Second)}
}

// Raw returns the 32 bytes of the public key.
func (pk PublicKey) Raw() (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(pk.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("key %s: not a base64 ed25519 public key", pk.KeyID)
	}
	return raw, nil
}

// Sign signs data, the bytes of the file called name, at the given time.
func (k *Key) Sign(name string, data []byte, at time.Time) Signature {
	return Signature{Signed: name, Algorithm: Algorithm, KeyID: k.ID, SignedAt: at.UTC().Truncate(time.Second),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(k.private, data))}
}

// Errors of Verify.
var (
	ErrUnknownKey = errors.New("signed by a key that is not published")
	ErrBadSig     = errors.New("the signature does not match the bytes")
	ErrNotValid   = errors.New("signed outside the key's validity")
)

// Verify checks sig over data against the published keys.
func Verify(data []byte, sig Signature, keys map[string]PublicKey) error {
	created := sig.SignedAt
	if sig.Algorithm != Algorithm {
		return fmt.Errorf("algorithm %q: only %s is used", sig.Algorithm, Algorithm)
	}
	pk, ok := keys[sig.KeyID]
	if !ok {
		return fmt.Errorf("key %s: %w", sig.KeyID, ErrUnknownKey)
	}
	raw, err := pk.Raw()
	if err != nil || KeyID(raw) != pk.KeyID {
		return fmt.Errorf("key %s: the published key is malformed or not the one its id names", sig.KeyID)
	}
	s, err := base64.StdEncoding.DecodeString(sig.Signature)
	if err != nil || !ed25519.Verify(raw, data, s) {
		return fmt.Errorf("key %s: %w", sig.KeyID, ErrBadSig)
	}
	if created.Before(pk.ValidFrom) || (pk.ValidUntil != nil && !created.Before(*pk.ValidUntil)) {
		until := "now"
		if pk.ValidUntil != nil {
			until = pk.ValidUntil.Format(time.RFC3339)
		}
		return fmt.Errorf("key %s, valid %s to %s, signed %s: %w", sig.KeyID, pk.ValidFrom.Format(time.RFC3339), until,
			created.Format(time.RFC3339), ErrNotValid)
	}
	return nil
}

// Encode writes v as indented JSON with a final newline.
func Encode(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	return append(b, '\n'), err
}

// ReadKeys reads the public keys (<key id>.json) in a folder, as pull keeps them.
func ReadKeys(dir string) (map[string]PublicKey, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[string]PublicKey{}
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var pk PublicKey
		if err := json.Unmarshal(data, &pk); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		out[pk.KeyID] = pk
	}
	return out, nil
}

package signing

import (
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSignVerifyRotate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "release.key")
	k, created, err := LoadOrCreate(path)
	if err != nil || !created {
		t.Fatalf("first load: %v, created %v", err, created)
	}
	again, created, err := LoadOrCreate(path)
	if err != nil || created || again.ID != k.ID {
		t.Fatalf("second load: %v, created %v, id %s want %s", err, created, again.ID, k.ID)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := map[string]PublicKey{k.ID: k.Public(t0)}
	doc := []byte(`{"name":"osservatorio-lombardia","version":"1.0.0"}`)
	sig := k.Sign("datapackage.json", doc, t0.Add(time.Hour))
	if err := Verify(doc, sig, keys); err != nil {
		t.Fatalf("verify: %v", err)
	}
	tampered := append([]byte(nil), doc...)
	tampered[10] ^= 1
	if err := Verify(tampered, sig, keys); !errors.Is(err, ErrBadSig) {
		t.Errorf("a changed byte: %v, want ErrBadSig", err)
	}
	if err := Verify(doc, sig, map[string]PublicKey{}); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("no published key: %v, want ErrUnknownKey", err)
	}
	// Rotation: the old key is valid until now; what it signed before still verifies, what it signs after
	// does not; the new key signs from now on.
	rotated := t0.Add(48 * time.Hour)
	old := keys[k.ID]
	old.ValidUntil = &rotated
	keys[k.ID] = old
	k2, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	keys[k2.ID] = k2.Public(rotated)
	if err := Verify(doc, sig, keys); err != nil {
		t.Errorf("old release after the rotation: %v", err)
	}
	if err := Verify(doc, k.Sign("datapackage.json", doc, rotated.Add(time.Minute)), keys); !errors.Is(err, ErrNotValid) {
		t.Errorf("retired key signing after its validity: %v, want ErrNotValid", err)
	}
	if err := Verify(doc, k2.Sign("datapackage.json", doc, rotated.Add(time.Minute)), keys); err != nil {
		t.Errorf("new key: %v", err)
	}
}

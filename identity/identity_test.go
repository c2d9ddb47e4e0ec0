package identity

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// mem is an in-memory bucket for this package's tests (the API's tests run it on real MinIO).
type mem struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func (m *mem) GetJSON(_ context.Context, key string, v any) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return objectstore.ErrNotFound
	}
	return json.Unmarshal(b, v)
}

func (m *mem) PutJSON(_ context.Context, key string, v any, opts objectstore.PutOptions) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; ok && opts.IfAbsent {
		return objectstore.ErrExists
	}
	b, err := json.Marshal(v)
	m.objs[key] = b
	return err
}

func (m *mem) List(_ context.Context, prefix string, _ bool) ([]objectstore.Info, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []objectstore.Info
	for k := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, objectstore.Info{Key: k})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	ctx := context.Background()
	b := &mem{objs: map[string][]byte{}}
	s := NewStore(b)
	tok, secret, err := s.Create(ctx, "observatory:milano", "Milano CI")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "osv_"+tok.ID+"_") || len(secret) != 4+12+1+43 {
		t.Fatalf("token %q", secret)
	}
	for key, raw := range b.objs {
		if strings.Contains(string(raw), secret[len("osv_"+tok.ID+"_"):]) {
			t.Errorf("%s holds the secret in clear", key)
		}
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.Role != "observatory:milano" || got.Role.Kind() != Observatory || got.Role.Observatory() != "milano" {
		t.Fatalf("authenticate: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "Bearer " + secret, secret[:len(secret)-1] + "A", "osv_" + tok.ID + "_" + strings.Repeat("A", 43), "osv_000000000000_" + strings.Repeat("A", 43)} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrNoToken) {
			t.Errorf("%q: %v, want ErrNoToken", bad, err)
		}
	}
	s.Now = func() time.Time { return time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC) }
	if r, err := s.Revoke(ctx, tok.ID); err != nil || r.Revoked == nil {
		t.Fatalf("revoke: %+v %v", r, err)
	}
	if _, err := s.Authenticate(ctx, secret); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked token: %v", err)
	}
	if _, err := s.Revoke(ctx, "../../state/x"); err == nil {
		t.Error("a path as token id was accepted")
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].Active() || list[0].SecretSHA256 != "" {
		t.Errorf("list: %+v %v (revoked, without the digest of its secret)", list, err)
	}
}

func TestParseRole(t *testing.T) {
	known := func(id string) bool { return id == "milano" }
	for _, ok := range []string{"engineer", "auditor", "admin", "observatory:milano"} {
		if _, err := ParseRole(ok, known); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "root", "observatory:", "observatory:bergamo", "observatory:../x", "Engineer"} {
		if _, err := ParseRole(bad, known); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// Package identity holds who may use the platform: API tokens bound to a role, stored hashed in the
// platform's bucket. A token is shown once, at creation; the store keeps only its sha256.
//
// Roles:
//
//	engineer          sources, schedules, refreshes, dataset status, releases
//	observatory:<id>  the releases and its own deliveries
//	auditor           read-only over releases, deliveries, datasets and checks
//	admin             everything, tokens included
//
// Tokens look like osv_<id>_<secret>: the id (public, 12 hex digits) names the record, the secret (32
// random bytes, base64url) proves possession. A secret of 256 random bits needs no slow hash: sha256 of it
// is stored and compared in constant time.
package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Role kinds.
const (
	Engineer    = "engineer"
	Observatory = "observatory"
	Auditor     = "auditor"
	Admin       = "admin"
)

// Role is a token's role: engineer, auditor, admin, or observatory:<id>.
type Role string

// Kind is the role without its observatory id.
func (r Role) Kind() string { k, _, _ := strings.Cut(string(r), ":"); return k }

// Observatory is the observatory id of an observatory role, "" otherwise.
func (r Role) Observatory() string {
	if k, id, ok := strings.Cut(string(r), ":"); ok && k == Observatory {
		return id
	}
	return ""
}

var idRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ParseRole reads a role; known says whether an observatory id is configured (nil accepts any valid id).
func ParseRole(s string, known func(observatory string) bool) (Role, error) {
	switch s {
	case Engineer, Auditor, Admin:
		return Role(s), nil
	}
	if id, ok := strings.CutPrefix(s, Observatory+":"); ok {
		if !idRE.MatchString(id) {
			return "", fmt.Errorf("role %q: %q is not an observatory id", s, id)
		}
		if known != nil && !known(id) {
			return "", fmt.Errorf("role %q: no observatory %q is configured", s, id)
		}
		return Role(s), nil
	}
	return "", fmt.Errorf("role %q: want engineer, auditor, admin or observatory:<id>", s)
}

// Token is a stored token, without its secret.
type Token struct {
	ID      string     `json:"id"`
	Role    Role       `json:"role"`
	Name    string     `json:"name,omitempty"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
	// SecretSHA256 is the hex sha256 of the secret part: stored, and read only by Authenticate (List and
	// Revoke leave it out).
	SecretSHA256 string `json:"secretSha256,omitempty"`
}

// public is the token as shown to people: without the digest of its secret.
func (t Token) public() Token {
	t.SecretSHA256 = ""
	return t
}

// Active says whether the token may still be used.
func (t Token) Active() bool { return t.Revoked == nil }

// Objects is what the store needs of the bucket.
type Objects interface {
	GetJSON(ctx context.Context, key string, v any) error
	PutJSON(ctx context.Context, key string, v any, opts objectstore.PutOptions) error
	List(ctx context.Context, prefix string, recursive bool) ([]objectstore.Info, error)
}

// Store keeps tokens in the platform's bucket (lake.TokenKey).
type Store struct {
	B   Objects
	Now func() time.Time
}

// NewStore returns a store over b.
func NewStore(b Objects) *Store { return &Store{B: b, Now: time.Now} }

// Errors of Authenticate: a request without a usable token, and one whose token was revoked.
var (
	ErrNoToken = errors.New("no valid token")
	ErrRevoked = errors.New("token revoked")
	// ErrUnknown is Revoke's answer for an id no token has.
	ErrUnknown = errors.New("no such token")
)

const prefix = "osv_"

var (
	tokenRE   = regexp.MustCompile(`^osv_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$`)
	tokenIDRE = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

// Create makes a token for role and returns it with its secret (the whole token string, shown once).
func (s *Store) Create(ctx context.Context, role Role, name string) (Token, string, error) {
	idb, sec := make([]byte, 6), make([]byte, 32)
	if _, err := rand.Read(idb); err != nil {
		return Token{}, "", err
	}
	if _, err := rand.Read(sec); err != nil {
		return Token{}, "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(sec)
	t := Token{ID: hex.EncodeToString(idb), Role: role, Name: name, Created: s.Now().UTC().Truncate(time.Second), SecretSHA256: digest(secret)}
	if err := s.B.PutJSON(ctx, lake.TokenKey(t.ID), t, objectstore.PutOptions{IfAbsent: true}); err != nil {
		return Token{}, "", fmt.Errorf("store token: %w", err)
	}
	return t, prefix + t.ID + "_" + secret, nil
}

// List returns every token, newest first, without the digests of their secrets.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	infos, err := s.B.List(ctx, lake.TokensPrefix, true)
	if err != nil {
		return nil, err
	}
	out := []Token{}
	for _, in := range infos {
		var t Token
		if err := s.B.GetJSON(ctx, in.Key, &t); err != nil {
			return nil, err
		}
		out = append(out, t.public())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Revoke marks a token revoked and returns it (without its digest); revoking it again is a no-op.
func (s *Store) Revoke(ctx context.Context, id string) (Token, error) {
	if !tokenIDRE.MatchString(id) {
		return Token{}, fmt.Errorf("%w: %q is not a token id (12 hex digits, as `token list` shows)", ErrUnknown, id)
	}
	var t Token
	if err := s.B.GetJSON(ctx, lake.TokenKey(id), &t); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return Token{}, fmt.Errorf("%w: %s", ErrUnknown, id)
		}
		return Token{}, err
	}
	if t.Revoked != nil {
		return t.public(), nil
	}
	now := s.Now().UTC().Truncate(time.Second)
	t.Revoked = &now
	return t.public(), s.B.PutJSON(ctx, lake.TokenKey(id), t, objectstore.PutOptions{})
}

// Authenticate returns the active token a bearer string proves, ErrNoToken when it proves none, or
// ErrRevoked.
func (s *Store) Authenticate(ctx context.Context, bearer string) (Token, error) {
	m := tokenRE.FindStringSubmatch(strings.TrimSpace(bearer))
	if m == nil {
		return Token{}, ErrNoToken
	}
	var t Token
	if err := s.B.GetJSON(ctx, lake.TokenKey(m[1]), &t); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return Token{}, ErrNoToken
		}
		return Token{}, err
	}
	if subtle.ConstantTimeCompare([]byte(digest(m[2])), []byte(t.SecretSHA256)) != 1 {
		return Token{}, ErrNoToken
	}
	if !t.Active() {
		return Token{}, ErrRevoked
	}
	return t, nil
}

func digest(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

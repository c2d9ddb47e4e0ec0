// Package access gives each observatory its own storage identity on MinIO, made and rotated through
// MinIO's admin API (madmin-go): a user whose access key is obs-<id>, and a policy that lets it read the
// published releases, the public keys that verify them and its own delivery space, and write only its
// acknowledgements. The platform's root key is never handed out; secrets are shown once, never stored.
package access

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/minio/madmin-go/v3"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Identity is an observatory's storage identity as the platform records it (never the secret).
type Identity struct {
	Observatory string     `json:"observatory"`
	AccessKey   string     `json:"access_key"`
	Policy      string     `json:"policy"`
	Created     time.Time  `json:"created"`
	Rotated     time.Time  `json:"rotated,omitempty"`
	Revoked     *time.Time `json:"revoked,omitempty"`
}

// Credentials are what an observatory needs to pull: shown once, when made or rotated.
type Credentials struct {
	Endpoint  string `json:"endpoint"`
	Bucket    string `json:"bucket"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	UseSSL    bool   `json:"use_ssl"`
	// Space is the observatory's own delivery bucket (push mode), also readable with these keys.
	Space string `json:"space,omitempty"`
}

// Manager makes, rotates and revokes observatory identities.
type Manager struct {
	admin    *madmin.AdminClient
	central  *objectstore.Bucket
	endpoint string
	useSSL   bool
}

// New connects to MinIO's admin API with the platform's root key.
func New(endpoint, accessKey, secretKey string, useSSL bool, central *objectstore.Bucket) (*Manager, error) {
	adm, err := madmin.NewWithOptions(endpoint, &madmin.Options{Creds: credentials.NewStaticV4(accessKey, secretKey, ""), Secure: useSSL})
	if err != nil {
		return nil, fmt.Errorf("MinIO admin API at %s: %w", endpoint, err)
	}
	return &Manager{admin: adm, central: central, endpoint: endpoint, useSSL: useSSL}, nil
}

// AccessKey is the access key of an observatory's identity.
func AccessKey(observatory string) string { return "obs-" + observatory }

// PolicyName is the name of an observatory's policy.
func PolicyName(observatory string) string { return "osservatorio-obs-" + observatory }

// ErrExists says an identity exists: its secret was shown when it was made; rotate for a new one.
var ErrExists = errors.New("the observatory has credentials already")

// ErrNone says an observatory has no identity.
var ErrNone = errors.New("the observatory has no credentials")

// Issue makes the observatory's identity, or with rotate gives it a new secret (the old one stops
// working at once). space is its own delivery bucket. Without rotate, an existing identity is ErrExists.
func (m *Manager) Issue(ctx context.Context, observatory, space string, rotate bool) (Credentials, error) {
	var id Identity
	err := m.central.GetJSON(ctx, lake.ObservatoryIdentityKey(observatory), &id)
	exists := err == nil && id.Revoked == nil
	if err != nil && !errors.Is(err, objectstore.ErrNotFound) {
		return Credentials{}, err
	}
	if exists && !rotate {
		return Credentials{}, fmt.Errorf("%s (made %s): %w", observatory, id.Created.Format(time.RFC3339), ErrExists)
	}
	if err := m.admin.AddCannedPolicy(ctx, PolicyName(observatory), Policy(m.central.Name(), observatory, space)); err != nil {
		return Credentials{}, fmt.Errorf("policy of %s: %w", observatory, err)
	}
	secret, err := newSecret()
	if err != nil {
		return Credentials{}, err
	}
	key := AccessKey(observatory)
	// AddUser sets the secret of an existing user too: a rotation.
	if err := m.admin.AddUser(ctx, key, secret); err != nil {
		return Credentials{}, fmt.Errorf("user %s: %w", key, err)
	}
	if err := m.admin.SetUserStatus(ctx, key, madmin.AccountEnabled); err != nil {
		return Credentials{}, fmt.Errorf("enable %s: %w", key, err)
	}
	if err := m.attach(ctx, observatory); err != nil {
		return Credentials{}, err
	}
	now := time.Now().UTC().Truncate(time.Second)
	if exists {
		id.Rotated = now
	} else {
		id = Identity{Observatory: observatory, AccessKey: key, Policy: PolicyName(observatory), Created: now}
	}
	if err := m.central.PutJSON(ctx, lake.ObservatoryIdentityKey(observatory), id, objectstore.PutOptions{}); err != nil {
		return Credentials{}, err
	}
	return Credentials{Endpoint: m.endpoint, Bucket: m.central.Name(), AccessKey: key, SecretKey: secret, UseSSL: m.useSSL, Space: space}, nil
}

// attach gives the user its policy, once.
func (m *Manager) attach(ctx context.Context, observatory string) error {
	info, err := m.admin.GetUserInfo(ctx, AccessKey(observatory))
	if err != nil {
		return fmt.Errorf("user %s: %w", AccessKey(observatory), err)
	}
	for _, p := range strings.Split(info.PolicyName, ",") {
		if p == PolicyName(observatory) {
			return nil
		}
	}
	_, err = m.admin.AttachPolicy(ctx, madmin.PolicyAssociationReq{Policies: []string{PolicyName(observatory)}, User: AccessKey(observatory)})
	if err != nil {
		return fmt.Errorf("attach %s to %s: %w", PolicyName(observatory), AccessKey(observatory), err)
	}
	return nil
}

// Revoke removes the observatory's user: its key is refused from then on. The record stays, marked.
func (m *Manager) Revoke(ctx context.Context, observatory string) error {
	var id Identity
	if err := m.central.GetJSON(ctx, lake.ObservatoryIdentityKey(observatory), &id); errors.Is(err, objectstore.ErrNotFound) || (err == nil && id.Revoked != nil) {
		return fmt.Errorf("%s: %w", observatory, ErrNone)
	} else if err != nil {
		return err
	}
	if err := m.admin.RemoveUser(ctx, AccessKey(observatory)); err != nil {
		return fmt.Errorf("remove user %s: %w", AccessKey(observatory), err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	id.Revoked = &now
	return m.central.PutJSON(ctx, lake.ObservatoryIdentityKey(observatory), id, objectstore.PutOptions{})
}

// Get returns the recorded identity of an observatory, if any.
func (m *Manager) Get(ctx context.Context, observatory string) (Identity, bool, error) {
	var id Identity
	err := m.central.GetJSON(ctx, lake.ObservatoryIdentityKey(observatory), &id)
	if errors.Is(err, objectstore.ErrNotFound) {
		return id, false, nil
	}
	return id, err == nil, err
}

// Policy is the IAM policy of an observatory: read (and list) releases/, keys/ and slices/<id>/ of the
// central bucket, read (not list) the release files in blobs/ by the hashes its manifests name, and
// everything in its own space; write only under acks/<id>/. Nothing else: no other observatory's space,
// no raw data, no state, no delete.
func Policy(central, observatory, space string) []byte {
	arn := func(bucket, key string) string { return "arn:aws:s3:::" + bucket + key }
	readable := []string{"releases/", lake.KeysPrefix, "slices/" + observatory + "/"}
	var objects, prefixes []string
	for _, p := range readable {
		objects = append(objects, arn(central, "/"+p+"*"))
		prefixes = append(prefixes, p, p+"*")
	}
	prefixes = append(prefixes, "") // listing the top level shows the folder names only
	objects = append(objects, arn(central, "/"+lake.BlobsPrefix+"*"))
	stmts := []map[string]any{
		{"Effect": "Allow", "Action": []string{"s3:GetObject"}, "Resource": objects},
		{"Effect": "Allow", "Action": []string{"s3:ListBucket"}, "Resource": []string{arn(central, "")},
			"Condition": map[string]any{"StringLike": map[string]any{"s3:prefix": prefixes}}},
		{"Effect": "Allow", "Action": []string{"s3:PutObject"}, "Resource": []string{arn(central, "/"+lake.AcksPrefix(observatory)+"*")}},
		{"Effect": "Allow", "Action": []string{"s3:GetBucketLocation"}, "Resource": []string{arn(central, "")}},
	}
	if space != "" && space != central {
		stmts = append(stmts,
			map[string]any{"Effect": "Allow", "Action": []string{"s3:GetObject"}, "Resource": []string{arn(space, "/*")}},
			map[string]any{"Effect": "Allow", "Action": []string{"s3:ListBucket", "s3:GetBucketLocation"}, "Resource": []string{arn(space, "")}})
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	return b
}

// newSecret is 30 random bytes, base64url: 40 characters (MinIO takes 8 to 40).
func newSecret() (string, error) {
	b := make([]byte, 30)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

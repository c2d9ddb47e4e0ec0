package release

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Delivery statuses.
const (
	Delivered = "delivered"
	Failed    = "failed"
)

// Delivery is one entry of the delivery ledger: a release copied (or not) to one observatory.
type Delivery struct {
	Release     string    `json:"release"`
	Observatory string    `json:"observatory"`
	Status      string    `json:"status"`
	Attempts    int32     `json:"attempts"`
	Time        time.Time `json:"time"`
	Target      string    `json:"target"` // bucket/prefix
	Files       int       `json:"files,omitempty"`
	Error       string    `json:"error,omitempty"`
}

func deliveryKey(version, observatory string) string {
	return fmt.Sprintf("deliveries/%s/%s.json", version, observatory)
}

// RecordDelivery writes a ledger entry, replacing an earlier one for the same release and observatory.
func (s *Store) RecordDelivery(ctx context.Context, d Delivery) error {
	return s.B.PutJSON(ctx, deliveryKey(d.Release, d.Observatory), d, objectstore.PutOptions{})
}

// Deliveries returns the ledger entries of a release, by observatory.
func (s *Store) Deliveries(ctx context.Context, version string) ([]Delivery, error) {
	infos, err := s.B.List(ctx, "deliveries/"+version+"/", true)
	if err != nil {
		return nil, err
	}
	var out []Delivery
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".json") {
			continue
		}
		var d Delivery
		if err := s.B.GetJSON(ctx, in.Key, &d); err != nil {
			if errors.Is(err, objectstore.ErrNotFound) {
				continue
			}
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Observatory < out[j].Observatory })
	return out, nil
}

// Deliver copies every file of a published release to dst under prefix and checks each copy's size. It
// returns the number of files copied.
func (s *Store) Deliver(ctx context.Context, version string, dst *objectstore.Bucket, prefix string) (int, error) {
	src := Prefix(version)
	files, err := s.B.List(ctx, src, true)
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("release %s: %w", version, ErrNoRelease)
	}
	// The manifest goes last, so a subscriber that sees it sees a whole release.
	sort.SliceStable(files, func(i, j int) bool {
		return !strings.HasSuffix(files[i].Key, ManifestName) && strings.HasSuffix(files[j].Key, ManifestName)
	})
	for _, f := range files {
		dstKey := prefix + "releases/" + version + "/" + strings.TrimPrefix(f.Key, src)
		if err := s.B.CopyTo(ctx, f.Key, dst, dstKey); err != nil {
			return 0, err
		}
		st, err := dst.Stat(ctx, dstKey)
		if err != nil {
			return 0, err
		}
		if st.Size != f.Size {
			return 0, fmt.Errorf("copy of %s has %d bytes, want %d", f.Key, st.Size, f.Size)
		}
	}
	return len(files), nil
}

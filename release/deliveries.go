package release

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Delivery statuses: pending (the bundle is ready to pull) → delivered (copied into the observatory's
// space, push mode) → notified (its webhook accepted the notice) → pulled (the observatory has every file)
// → acknowledged (it verified the release, with its own key) | failed.
const (
	Pending      = "pending"
	Delivered    = "delivered"
	Notified     = "notified"
	Pulled       = "pulled"
	Acknowledged = "acknowledged"
	Failed       = "failed"
)

// Delivery is one entry of the delivery ledger: a release and one observatory.
type Delivery struct {
	Release     string    `json:"release"`
	Observatory string    `json:"observatory"`
	Status      string    `json:"status"`
	Mode        string    `json:"mode,omitempty"`   // push or pull
	Bundle      string    `json:"bundle,omitempty"` // what it receives: releases/<v>/ or its slice
	Attempts    int32     `json:"attempts"`
	Time        time.Time `json:"time"`
	Target      string    `json:"target"` // bucket/prefix (push)
	Files       int       `json:"files,omitempty"`
	Error       string    `json:"error,omitempty"`
	// NotifyAttempts and Notified say how its webhook was told.
	NotifyAttempts int        `json:"notify_attempts,omitempty"`
	Notified       *time.Time `json:"notified,omitempty"`
	// Acknowledged is when the observatory acknowledged the release (read from acks/).
	Acknowledged *time.Time `json:"acknowledged,omitempty"`
}

func deliveryKey(version, observatory string) string {
	return fmt.Sprintf("deliveries/%s/%s.json", version, observatory)
}

// RecordDelivery writes a ledger entry, replacing an earlier one for the same release and observatory.
func (s *Store) RecordDelivery(ctx context.Context, d Delivery) error {
	if err := s.B.PutJSON(ctx, deliveryKey(d.Release, d.Observatory), d, objectstore.PutOptions{}); err != nil {
		return err
	}
	metrics.Deliveries.WithLabelValues(d.Status).Inc()
	return nil
}

// ErrNoDelivery says the ledger has no entry for a release and an observatory.
var ErrNoDelivery = errors.New("no delivery recorded")

// Delivery returns the ledger entry of a release and an observatory, as recorded (acknowledgements not
// read).
func (s *Store) Delivery(ctx context.Context, version, observatory string) (Delivery, error) {
	var d Delivery
	err := s.B.GetJSON(ctx, deliveryKey(version, observatory), &d)
	if errors.Is(err, objectstore.ErrNotFound) {
		return d, fmt.Errorf("%s to %s: %w", version, observatory, ErrNoDelivery)
	}
	return d, err
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
		if err := s.readAck(ctx, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Observatory < out[j].Observatory })
	return out, nil
}

// readAck takes the status of d from its observatory's acknowledgement, when there is one: pulled,
// acknowledged, or failed (what it pulled did not verify).
func (s *Store) readAck(ctx context.Context, d *Delivery) error {
	var ack struct {
		Status string    `json:"status"`
		Time   time.Time `json:"time"`
		Error  string    `json:"error"`
	}
	err := s.B.GetJSON(ctx, lake.AckKey(d.Observatory, d.Release), &ack)
	if errors.Is(err, objectstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	switch ack.Status {
	case Pulled:
		d.Status = Pulled
	case Failed:
		d.Status, d.Error = Failed, "the observatory's pull: "+ack.Error
	default:
		d.Status, d.Acknowledged = Acknowledged, &ack.Time
	}
	return nil
}

// Endpoint is the state of an observatory's webhook: disabled after a notice failed every attempt.
type Endpoint struct {
	Observatory   string    `json:"observatory"`
	DisabledUntil time.Time `json:"disabled_until"`
	Reason        string    `json:"reason"`
}

// EndpointState returns the observatory's webhook state (zero when it never failed).
func (s *Store) EndpointState(ctx context.Context, observatory string) (Endpoint, error) {
	var e Endpoint
	err := s.B.GetJSON(ctx, lake.EndpointKey(observatory), &e)
	if errors.Is(err, objectstore.ErrNotFound) {
		return Endpoint{Observatory: observatory}, nil
	}
	return e, err
}

// SetEndpointState records the observatory's webhook state; a zero DisabledUntil enables it.
func (s *Store) SetEndpointState(ctx context.Context, e Endpoint) error {
	return s.B.PutJSON(ctx, lake.EndpointKey(e.Observatory), e, objectstore.PutOptions{})
}

// Deliver copies a published bundle (a release, or an observatory's slice of it, under src) to dst under
// prefix as a plain Data Package folder, releases/<version>/, and checks each copy's size: the files its
// manifest lists (from the blob store), then the signature and quality report, the manifest last. A file
// already there whole (an earlier attempt) is not copied again. It returns the number of files in place.
// dst may be on another S3 service: the bytes then stream through the worker.
func (s *Store) Deliver(ctx context.Context, version, src string, dst *objectstore.Bucket, prefix string) (int, error) {
	var m Manifest
	if err := s.B.GetJSON(ctx, src+ManifestName, &m); err != nil {
		if errors.Is(err, objectstore.ErrNotFound) {
			return 0, fmt.Errorf("release %s: %w", version, ErrNoRelease)
		}
		return 0, err
	}
	type file struct {
		key, path string
		size      int64
	}
	var files []file
	for _, r := range m.Resources {
		for _, f := range r.Files() {
			files = append(files, file{m.FileKey(src, f.Path), f.Path, f.Bytes})
		}
	}
	beside, err := s.B.List(ctx, src, true)
	if err != nil {
		return 0, err
	}
	for _, in := range beside {
		if rel := strings.TrimPrefix(in.Key, src); rel != ManifestName {
			if _, listed := m.Path(rel); !listed {
				files = append(files, file{in.Key, rel, in.Size})
			}
		}
	}
	files = append(files, file{src + ManifestName, ManifestName, -1}) // last: a subscriber that sees it sees a whole release
	for _, f := range files {
		dstKey := prefix + "releases/" + version + "/" + f.path
		if st, err := dst.Stat(ctx, dstKey); err == nil && f.size >= 0 && st.Size == f.size {
			continue
		}
		if err := s.B.CopyTo(ctx, f.key, dst, dstKey); err != nil {
			return 0, err
		}
		st, err := dst.Stat(ctx, dstKey)
		if err != nil {
			return 0, err
		}
		if f.size >= 0 && st.Size != f.size {
			return 0, fmt.Errorf("copy of %s has %d bytes, want %d", f.key, st.Size, f.size)
		}
	}
	return len(files), nil
}

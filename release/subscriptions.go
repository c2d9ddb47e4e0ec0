package release

import (
	"context"
	"errors"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Subscription is an observatory's choice of what it receives, set with the CLI or the API; it replaces
// the configuration's tables, sources and province_only (its webhook stays in the configuration).
type Subscription struct {
	Observatory  string    `json:"observatory"`
	Tables       []string  `json:"tables"`
	Sources      []string  `json:"sources"`
	ProvinceOnly bool      `json:"province_only"`
	Updated      time.Time `json:"updated"`
	By           string    `json:"by"` // the token or command that set it
}

// Subscription returns the observatory's stored subscription, if any.
func (s *Store) Subscription(ctx context.Context, observatory string) (Subscription, bool, error) {
	var sub Subscription
	err := s.B.GetJSON(ctx, lake.SubscriptionKey(observatory), &sub)
	if errors.Is(err, objectstore.ErrNotFound) {
		return sub, false, nil
	}
	return sub, err == nil, err
}

// SetSubscription stores the observatory's subscription: the next releases follow it.
func (s *Store) SetSubscription(ctx context.Context, sub Subscription) error {
	sub.Updated = time.Now().UTC().Truncate(time.Second)
	if sub.Tables == nil {
		sub.Tables = []string{}
	}
	if sub.Sources == nil {
		sub.Sources = []string{}
	}
	return s.B.PutJSON(ctx, lake.SubscriptionKey(sub.Observatory), sub, objectstore.PutOptions{})
}

package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/webhook"
)

// fanOut is how many observatories one activity serves at once.
const fanOut = 32

// PreparedDelivery is the plan of one observatory's delivery of a release.
type PreparedDelivery struct {
	Observatory string
	DeliveryPlan
}

// PrepareDeliveries prepares the delivery of a release to every observatory at once (see
// PrepareDelivery): one activity for all, however many they are.
func (a *Activities) PrepareDeliveries(ctx context.Context, version string) ([]PreparedDelivery, error) {
	defer keepAlive(ctx, nil)()
	out := make([]PreparedDelivery, len(a.Observatories))
	err := a.forEach(ctx, len(a.Observatories), func(i int) error {
		o := a.Observatories[i]
		plan, err := a.PrepareDelivery(ctx, DeliverInput{Version: version, Observatory: Observatory{ID: o.ID}})
		out[i] = PreparedDelivery{Observatory: o.ID, DeliveryPlan: plan}
		return err
	})
	return out, err
}

// NotifyBatchInput is one attempt to notify some observatories of a release.
type NotifyBatchInput struct {
	Version       string
	Observatories []string
	Attempt       int
}

// NotifyBatchResult says which notices failed and why; an observatory not named was notified (and its
// ledger entry says so). Both lists are sorted by observatory.
type NotifyBatchResult struct {
	Failed []Failure // to try again
	Final  []Failure // not to try again (endpoint disabled, not configured)
}

// Failure is a notice that failed, and why.
type Failure struct {
	Observatory string
	Error       string
}

func sortFailures(fs []Failure) {
	sort.Slice(fs, func(i, j int) bool { return fs[i].Observatory < fs[j].Observatory })
}

// NotifyBatch posts the release notice to each observatory's webhook, many at once, and records each
// outcome in its ledger entry: notified, or the attempt's error. One attempt each: the workflow owns the
// retry schedule.
func (a *Activities) NotifyBatch(ctx context.Context, in NotifyBatchInput) (NotifyBatchResult, error) {
	defer keepAlive(ctx, nil)()
	if err := checkVersion(in.Version); err != nil {
		return NotifyBatchResult{}, err
	}
	var res NotifyBatchResult
	var mu sync.Mutex
	sender := webhook.NewSender(15 * time.Second)
	err := a.forEach(ctx, len(in.Observatories), func(i int) error {
		id := in.Observatories[i]
		err := a.notify(ctx, sender, in.Version, id)
		d, lerr := a.ledgerEntry(ctx, in.Version, id)
		if lerr != nil {
			return lerr
		}
		d.NotifyAttempts = in.Attempt
		if err == nil {
			now := time.Now().UTC()
			d.Status, d.Notified, d.Error, d.Time = release.Notified, &now, "", now
		} else {
			d.Error = fmt.Sprintf("notify attempt %d: %s", in.Attempt, errorText(err))
		}
		if lerr := a.Releases.RecordDelivery(ctx, d); lerr != nil {
			return lerr
		}
		mu.Lock()
		defer mu.Unlock()
		var ae *temporal.ApplicationError
		switch {
		case err == nil:
		case errors.As(err, &ae) && ae.NonRetryable():
			res.Final = append(res.Final, Failure{id, errorText(err)})
		default:
			res.Failed = append(res.Failed, Failure{id, errorText(err)})
		}
		return nil
	})
	sortFailures(res.Failed)
	sortFailures(res.Final)
	return res, err
}

// FailNotices records the notices that failed for good and disables those endpoints for disableFor (0:
// leaves them as they are).
func (a *Activities) FailNotices(ctx context.Context, version string, failed []Failure, disableFor time.Duration) error {
	return a.forEach(ctx, len(failed), func(i int) error {
		f := failed[i]
		d, err := a.ledgerEntry(ctx, version, f.Observatory)
		if err != nil {
			return err
		}
		d.Status, d.Error, d.Time = release.Failed, "notify: "+f.Error, time.Now().UTC()
		if err := a.Releases.RecordDelivery(ctx, d); err != nil || disableFor <= 0 {
			return err
		}
		return a.DisableEndpoint(ctx, f.Observatory, disableFor, fmt.Sprintf("%d attempts failed for release %s: %s", d.NotifyAttempts, version, f.Error))
	})
}

// ledgerEntry is the observatory's ledger entry of the release (a new pending one if there is none).
func (a *Activities) ledgerEntry(ctx context.Context, version, id string) (release.Delivery, error) {
	o, err := a.observatory(id)
	if err != nil {
		return release.Delivery{}, err
	}
	ds, err := a.Releases.Delivery(ctx, version, id)
	if errors.Is(err, release.ErrNoDelivery) {
		return release.Delivery{Release: version, Observatory: id, Status: release.Pending, Mode: mode(o.subscriber()), Time: time.Now().UTC()}, nil
	}
	return ds, err
}

// forEach runs f(0) … f(n-1), fanOut at a time, and returns the first error.
func (a *Activities) forEach(ctx context.Context, n int, f func(i int) error) error {
	sem := make(chan struct{}, fanOut)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := f(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func errorText(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return err.Error()
}

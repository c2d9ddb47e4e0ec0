package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/openlineage"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/signing"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
	"github.com/osservatorio-lombardia/osservatorio/webhook"
)

// DeliverInput is one release for one observatory. Only the observatory's ID is read: what it receives
// and where comes from the configuration, never from a workflow's input (anyone who can start a workflow
// could otherwise make the platform write anywhere with its own key). The other fields are kept for the
// histories of earlier versions.
type DeliverInput struct {
	Version     string
	Observatory Observatory
}

// DeliveryPlan is how one release reaches one observatory.
type DeliveryPlan struct {
	Bundle     string // releases/<v>/ or its slice
	Push       bool
	Webhook    bool
	Retry      []time.Duration // the wait before each notification attempt
	DisableFor time.Duration
}

// PrepareDelivery makes the observatory's bundle of the release (its signed slice when it subscribes to
// part of it), records the delivery as pending, and says how the release reaches it.
func (a *Activities) PrepareDelivery(ctx context.Context, in DeliverInput) (DeliveryPlan, error) {
	defer keepAlive(ctx, nil)()
	o, err := a.observatory(in.Observatory.ID)
	if err != nil {
		return DeliveryPlan{}, err
	}
	if err := checkVersion(in.Version); err != nil {
		return DeliveryPlan{}, err
	}
	bundle, err := a.bundle(ctx, o, in.Version)
	if err != nil {
		return DeliveryPlan{}, classify(err)
	}
	sub := o.subscriber()
	plan := DeliveryPlan{Bundle: bundle, Push: sub.Push}
	if w := sub.Webhook; w != nil {
		plan.Webhook, plan.Retry, plan.DisableFor = true, w.Retry, w.DisableFor
	}
	d := release.Delivery{Release: in.Version, Observatory: o.ID, Status: release.Pending, Mode: mode(sub),
		Bundle: bundle, Time: time.Now().UTC(), Target: target(o, in.Version)}
	return plan, a.Releases.RecordDelivery(ctx, d)
}

// bundle returns the prefix of what the observatory receives of the release, making its slice if needed.
func (a *Activities) bundle(ctx context.Context, o Observatory, version string) (string, error) {
	sel, err := a.selection(ctx, o)
	if err != nil {
		return "", err
	}
	if sel.Full() {
		return release.Prefix(version), nil
	}
	slicing <- struct{}{}
	defer func() { <-slicing }()
	db, err := warehouse.Open(ctx, a.DuckDB)
	if err != nil {
		return "", err
	}
	defer db.Close()
	signer, err := a.signer(ctx)
	if err != nil {
		return "", err
	}
	_, err = a.Releases.Slice(ctx, release.SliceOptions{Version: version, Observatory: o.ID, Selection: sel, DB: db,
		WorkDir: a.WorkDir, Signer: signer})
	return lake.SlicePrefix(o.ID, version), err
}

// slicing bounds the slices a worker builds at once (each opens a DuckDB).
var slicing = make(chan struct{}, 2)

// selection is what the observatory subscribes to: as set with the CLI or the API, else as configured.
func (a *Activities) selection(ctx context.Context, o Observatory) (release.Selection, error) {
	sub, ok, err := a.Releases.Subscription(ctx, o.ID)
	if err != nil || !ok {
		return o.subscriber().Selection, err
	}
	sel := release.Selection{Tables: sub.Tables, Sources: sub.Sources}
	if sub.ProvinceOnly {
		sel.Province = o.subscriber().Province
	}
	return sel, nil
}

// Deliver copies the observatory's bundle of a published release into its configured bucket and prefix
// (push mode) and records it in the delivery ledger with the attempt that succeeded.
func (a *Activities) Deliver(ctx context.Context, in DeliverInput) (release.Delivery, error) {
	defer keepAlive(ctx, nil)()
	o, err := a.observatory(in.Observatory.ID)
	if err != nil {
		return release.Delivery{}, err
	}
	if err := checkVersion(in.Version); err != nil {
		return release.Delivery{}, err
	}
	bundle, err := a.bundle(ctx, o, in.Version)
	if err != nil {
		return release.Delivery{}, classify(err)
	}
	store := a.Store
	if s := o.subscriber().Store; s != nil {
		store = s
	}
	run := a.trace(ctx, "deliver."+o.ID, "", time.Time{}, a.object(bundle+release.ManifestName, "", nil))
	n, err := a.Releases.Deliver(ctx, in.Version, bundle, store.Bucket(o.Bucket), o.Prefix)
	if err != nil {
		err = fmt.Errorf("deliver %s to %s: %w", in.Version, o.ID, err)
		run.End(ctx, nil, err)
		return release.Delivery{}, err
	}
	run.End(ctx, []openlineage.Dataset{{Namespace: "s3://" + o.Bucket, Name: o.Prefix + "releases/" + in.Version + "/" + release.ManifestName}}, nil)
	d := release.Delivery{
		Release: in.Version, Observatory: o.ID, Status: release.Delivered, Mode: "push", Bundle: bundle,
		Attempts: activity.GetInfo(ctx).Attempt, Time: time.Now().UTC(), Files: n, Target: target(o, in.Version),
	}
	return d, a.Releases.RecordDelivery(ctx, d)
}

// NotifyInput is one attempt to notify an observatory of a release.
type NotifyInput struct {
	Version     string
	Observatory string
}

// ReleaseNotice is the data of a release notification.
type ReleaseNotice struct {
	Version     string             `json:"version"`
	Previous    string             `json:"previous,omitempty"`
	Bump        string             `json:"bump"`
	BumpReason  string             `json:"bump_reason"`
	Changes     release.Changes    `json:"changes"`
	Observatory string             `json:"observatory"`
	Bucket      string             `json:"bucket"`
	Manifest    string             `json:"manifest"`  // object key of the bundle's datapackage.json
	Signature   *signing.Signature `json:"signature"` // of that manifest
}

// ErrEndpointDisabled is the fault type of a notice to an endpoint disabled after repeated failure.
const ErrEndpointDisabled = "EndpointDisabled"

// Notify posts the release notice to the observatory's webhook, signed per Standard Webhooks. One attempt:
// the workflow owns the retry schedule. An endpoint disabled after repeated failure is not called.
func (a *Activities) Notify(ctx context.Context, in NotifyInput) error {
	if err := checkVersion(in.Version); err != nil {
		return err
	}
	return a.notify(ctx, webhook.NewSender(15*time.Second), in.Version, in.Observatory)
}

func (a *Activities) notify(ctx context.Context, sender *webhook.Sender, version, id string) error {
	o, err := a.observatory(id)
	if err != nil {
		return err
	}
	w := o.subscriber().Webhook
	if w == nil {
		return classify(fault.Errorf(fault.BadInput, "observatory %s has no webhook", o.ID))
	}
	st, err := a.Releases.EndpointState(ctx, o.ID)
	if err != nil {
		return err
	}
	if time.Now().Before(st.DisabledUntil) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("the webhook of %s is disabled until %s (%s); osservatorio observatory enable %s",
			o.ID, st.DisabledUntil.Format(time.RFC3339), st.Reason, o.ID), ErrEndpointDisabled, nil)
	}
	body, err := a.notice(ctx, o, version)
	if err != nil {
		return err
	}
	msgID := "msg_" + strings.ReplaceAll(version, ".", "-") + "_" + o.ID
	return sender.Send(ctx, w.URL, w.Secret, msgID, body, time.Now())
}

func (a *Activities) notice(ctx context.Context, o Observatory, version string) ([]byte, error) {
	bundle, err := a.bundle(ctx, o, version)
	if err != nil {
		return nil, err
	}
	var m release.Manifest
	if err := a.Releases.B.GetJSON(ctx, bundle+release.ManifestName, &m); err != nil {
		return nil, err
	}
	n := ReleaseNotice{Version: version, Previous: m.Osservatorio.Previous, Bump: m.Osservatorio.Bump,
		BumpReason: release.BumpReason(m.Osservatorio.Bump, m.Osservatorio.Changes), Changes: m.Osservatorio.Changes,
		Observatory: o.ID, Bucket: a.Releases.B.Name(), Manifest: bundle + release.ManifestName}
	var sig signing.Signature
	if err := a.Releases.B.GetJSON(ctx, bundle+release.SignatureName, &sig); err == nil {
		n.Signature = &sig
	}
	return json.Marshal(webhook.Message{Type: webhook.EventRelease, Timestamp: time.Now().UTC().Truncate(time.Second), Data: n})
}

// DisableEndpoint disables an observatory's webhook for a while after a notice failed every attempt.
func (a *Activities) DisableEndpoint(ctx context.Context, observatory string, d time.Duration, reason string) error {
	if _, err := a.observatory(observatory); err != nil {
		return err
	}
	return a.Releases.SetEndpointState(ctx, release.Endpoint{Observatory: observatory,
		DisabledUntil: time.Now().Add(d).UTC().Truncate(time.Second), Reason: reason})
}

// RecordDelivery writes a ledger entry; the workflow uses it for deliveries that failed for good. The
// observatory must be configured, and the target is its configured one.
func (a *Activities) RecordDelivery(ctx context.Context, d release.Delivery) error {
	o, err := a.observatory(d.Observatory)
	if err != nil {
		return err
	}
	if err := checkVersion(d.Release); err != nil {
		return err
	}
	d.Target = target(o, d.Release)
	return a.Releases.RecordDelivery(ctx, d)
}

// observatory returns the configured observatory id, or a BadInput fault.
func (a *Activities) observatory(id string) (Observatory, error) {
	for _, o := range a.Observatories {
		if o.ID == id {
			return o, nil
		}
	}
	return Observatory{}, classify(fault.Errorf(fault.BadInput, "observatory %q is not configured", id))
}

func (o Observatory) subscriber() Subscriber {
	if o.Subscriber == nil {
		return Subscriber{Push: true}
	}
	return *o.Subscriber
}

func mode(s Subscriber) string {
	if s.Push {
		return "push"
	}
	return "pull"
}

func checkVersion(v string) error {
	if _, err := semver.StrictNewVersion(v); err != nil {
		return classify(fault.Errorf(fault.BadInput, "%q is not a release version", v))
	}
	return nil
}

func target(o Observatory, version string) string {
	if !o.subscriber().Push {
		return ""
	}
	return o.Bucket + "/" + o.Prefix + "releases/" + version + "/"
}

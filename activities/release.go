package activities

import (
	"context"
	"fmt"
	"time"

	"github.com/Masterminds/semver/v3"
	"go.temporal.io/sdk/activity"

	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/signing"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// PlanRelease compares the accepted snapshots with the latest release and says whether a release is due
// and under which version.
func (a *Activities) PlanRelease(ctx context.Context) (release.Plan, error) {
	states, err := a.Lake.States(ctx)
	if err != nil {
		return release.Plan{}, err
	}
	p, err := a.Releases.PlanNext(ctx, states)
	return p, classify(err)
}

// BuildInput is a planned release to build under staging.
type BuildInput struct {
	ReleaseID string
	Plan      release.Plan
}

// BuildResult summarises a staged release.
type BuildResult struct {
	Version   string
	Resources map[string]int64 // table → rows
	Sources   int
}

// BuildRelease assembles the release tables from the accepted snapshots under the staging prefix. It fails
// when the accepted snapshots moved since the plan (the workflow then plans again).
func (a *Activities) BuildRelease(ctx context.Context, in BuildInput) (BuildResult, error) {
	defer keepAlive(ctx, nil)()
	states, err := a.Lake.States(ctx)
	if err != nil {
		return BuildResult{}, err
	}
	if d := release.InputsDigest(states); d != in.Plan.InputsDigest {
		// A concurrent refresh accepted a dataset meanwhile: the plan is stale, and the workflow plans again.
		return BuildResult{}, classify(fault.Errorf(fault.Conflict, "accepted snapshots changed since the plan (%s, now %s)",
			short(in.Plan.InputsDigest), short(d)))
	}
	db, err := warehouse.Open(ctx, a.DuckDB)
	if err != nil {
		return BuildResult{}, err
	}
	defer db.Close()
	credits := map[string]release.Credit{}
	for name, s := range a.Sources {
		credits[name] = s.Credit
	}
	signer, err := a.signer(ctx)
	if err != nil {
		return BuildResult{}, err
	}
	m, err := a.Releases.Build(ctx, states, release.BuildOptions{
		Name: a.ReleaseName, ReleaseID: in.ReleaseID, Plan: in.Plan, WorkDir: a.WorkDir, DB: db, Credits: credits, Signer: signer,
	})
	if err != nil {
		_ = a.Releases.Discard(ctx, in.ReleaseID)
		return BuildResult{}, classify(err)
	}
	out := BuildResult{Version: m.Version, Resources: map[string]int64{}, Sources: len(m.Sources)}
	for _, r := range m.Resources {
		out.Resources[r.Name] = r.Rows
	}
	return out, nil
}

// signer reads the signing key from its file at every build (a rotation reaches every worker sharing the
// file at once), making it at the first run, and publishes its public key under keys/ if it is new.
func (a *Activities) signer(ctx context.Context) (*signing.Key, error) {
	if a.SigningKey == "" {
		return nil, nil
	}
	key, created, err := signing.LoadOrCreate(a.SigningKey)
	if err != nil {
		return nil, fmt.Errorf("release signing key: %w", err)
	}
	if created {
		activity.GetLogger(ctx).Info("made the release signing key", "key", key.ID, "file", a.SigningKey)
	}
	if err := a.Releases.PublishKey(ctx, key.Public(time.Now())); err != nil {
		return nil, fmt.Errorf("publish the public key %s: %w", key.ID, err)
	}
	return key, nil
}

// PublishInput is a staged release to publish.
type PublishInput struct {
	ReleaseID string
	Version   string
}

// PublishRelease claims the version and makes the staged release visible in one step. A Conflict error
// means another release took the version first.
func (a *Activities) PublishRelease(ctx context.Context, in PublishInput) error {
	defer keepAlive(ctx, nil)()
	if err := a.Releases.Publish(ctx, in.ReleaseID, in.Version); err != nil {
		return classify(err)
	}
	return classify(a.Releases.Discard(ctx, in.ReleaseID))
}

// DiscardRelease removes a staged build that will not be published.
func (a *Activities) DiscardRelease(ctx context.Context, releaseID string) error {
	return a.Releases.Discard(ctx, releaseID)
}

// DeliverInput is one release for one observatory. Only the observatory's ID is read: where it receives
// releases comes from the configuration, never from a workflow's input (anyone who can start a workflow
// could otherwise make the platform write anywhere with its own key). The other fields are kept for the
// histories of earlier versions.
type DeliverInput struct {
	Version     string
	Observatory Observatory
}

// Deliver copies a published release into the observatory's configured bucket and prefix and records it
// in the delivery ledger with the attempt that succeeded.
func (a *Activities) Deliver(ctx context.Context, in DeliverInput) (release.Delivery, error) {
	defer keepAlive(ctx, nil)()
	o, err := a.observatory(in.Observatory.ID)
	if err != nil {
		return release.Delivery{}, err
	}
	if _, err := semver.StrictNewVersion(in.Version); err != nil {
		return release.Delivery{}, classify(fault.Errorf(fault.BadInput, "deliver: %q is not a release version", in.Version))
	}
	n, err := a.Releases.Deliver(ctx, in.Version, a.Store.Bucket(o.Bucket), o.Prefix)
	if err != nil {
		return release.Delivery{}, fmt.Errorf("deliver %s to %s: %w", in.Version, o.ID, err)
	}
	d := release.Delivery{
		Release: in.Version, Observatory: o.ID, Status: release.Delivered,
		Attempts: activity.GetInfo(ctx).Attempt, Time: time.Now().UTC(), Files: n, Target: target(o, in.Version),
	}
	return d, a.Releases.RecordDelivery(ctx, d)
}

// RecordDelivery writes a ledger entry; the workflow uses it for deliveries that failed for good. The
// observatory must be configured, and the target is its configured one.
func (a *Activities) RecordDelivery(ctx context.Context, d release.Delivery) error {
	o, err := a.observatory(d.Observatory)
	if err != nil {
		return err
	}
	if _, err := semver.StrictNewVersion(d.Release); err != nil {
		return classify(fault.Errorf(fault.BadInput, "delivery ledger: %q is not a release version", d.Release))
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

func target(o Observatory, version string) string {
	return o.Bucket + "/" + o.Prefix + "releases/" + version + "/"
}

func short(digest string) string { return digest[:min(12, len(digest))] }

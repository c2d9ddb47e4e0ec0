package activities

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osservatorio-lombardia/osservatorio/audit"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
	"github.com/osservatorio-lombardia/osservatorio/openlineage"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/report"
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
	// PublishAt is the embargo of the release: the latest publish_at of the sources it changes (zero: none).
	PublishAt time.Time
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
	var inputs []openlineage.Dataset
	for _, st := range states {
		inputs = append(inputs, a.object(st.SnapshotKey, "", nil))
	}
	sqls := warehouse.SQL()
	run := a.trace(ctx, "release.build", sqls["sql/labour_flows.sql"]+"\n"+sqls["sql/labour_balances.sql"], time.Time{}, inputs...)
	m, err := a.Releases.Build(ctx, states, release.BuildOptions{
		Name: a.ReleaseName, ReleaseID: in.ReleaseID, Plan: in.Plan, WorkDir: a.WorkDir, DB: db, Credits: credits, Signer: signer,
		Reports: report.Bundle,
	})
	if rep, cerr := a.Releases.Checks(ctx, ""); cerr == nil && (err == nil || fault.Is(err, fault.QualityGateFailed)) {
		countFailed(rep.Results)
	}
	if err != nil {
		run.End(ctx, nil, err)
		_ = a.Releases.Discard(ctx, in.ReleaseID)
		return BuildResult{}, classify(err)
	}
	if run != nil {
		var outputs []openlineage.Dataset
		for _, r := range m.Resources {
			for _, f := range r.Files() {
				outputs = append(outputs, a.object(release.StagingPrefix(in.ReleaseID)+f.Path, strings.TrimPrefix(f.Hash, "sha256:"), tableFields(r)))
			}
		}
		run.End(ctx, outputs, nil)
	}
	out := BuildResult{Version: m.Version, Resources: map[string]int64{}, Sources: len(m.Sources), PublishAt: a.embargo(m, time.Now())}
	for _, r := range m.Resources {
		if r.Format == "parquet" { // the tables, not the change log or the inputs record
			out.Resources[r.Name] = r.Rows
		}
	}
	return out, nil
}

// embargo is the latest publish time the sources changed by the release ask for.
func (a *Activities) embargo(m *release.Manifest, built time.Time) time.Time {
	var until time.Time
	ch := m.Osservatorio.Changes
	for _, id := range append(append([]string{}, ch.AddedDatasets...), ch.UpdatedDatasets...) {
		source, _, _ := strings.Cut(id, "/")
		if src, ok := a.Sources[source]; ok && src.Embargo != nil {
			if t := src.Embargo(built); t.After(until) {
				until = t
			}
		}
	}
	return until
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
	run := a.trace(ctx, "release.publish", "", time.Time{}, a.object(release.StagingPrefix(in.ReleaseID)+release.ManifestName, "", nil))
	moved, err := a.Releases.Publish(ctx, in.ReleaseID, in.Version)
	if err != nil {
		run.End(ctx, nil, err)
		return classify(err)
	}
	metrics.Releases.Inc()
	metrics.ReleaseBytes.WithLabelValues("copied").Add(float64(moved.CopiedBytes))
	metrics.ReleaseBytes.WithLabelValues("kept").Add(float64(moved.KeptBytes))
	activity.GetLogger(ctx).Info("release published", "version", in.Version, "files", moved.Files, "copied", moved.Copied,
		"copied_bytes", moved.CopiedBytes, "kept", moved.Kept, "kept_bytes", moved.KeptBytes)
	run.End(ctx, []openlineage.Dataset{a.object(release.Prefix(in.Version)+release.ManifestName, "", nil)}, nil)
	wf, runID := execution(ctx)
	host, _ := os.Hostname()
	if err := (&audit.Log{B: a.Lake.B}).Record(ctx, audit.Entry{Actor: "workflow:" + wf, Action: "release.publish", Target: in.Version,
		From: host, Details: map[string]string{"run": runID, "staged": in.ReleaseID, "files_copied": fmt.Sprint(moved.Copied),
			"bytes_copied": fmt.Sprint(moved.CopiedBytes), "files_kept": fmt.Sprint(moved.Kept)}}); err != nil {
		activity.GetLogger(ctx).Warn("audit log: entry not written", "action", "release.publish", "error", err)
	}
	return classify(a.Releases.Discard(ctx, in.ReleaseID))
}

// DiscardRelease removes a staged build that will not be published.
func (a *Activities) DiscardRelease(ctx context.Context, releaseID string) error {
	return a.Releases.Discard(ctx, releaseID)
}

func short(digest string) string { return digest[:min(12, len(digest))] }

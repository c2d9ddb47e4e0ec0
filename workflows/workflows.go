// Package workflows holds the platform's durable workflows: RefreshSource (change check, fetch, harmonize,
// accept, then a release when anything changed), Release (plan, build, publish under a unique version,
// deliver) and Deliver (one observatory, retried on its own). Workflows only decide; every piece of I/O is
// an activity. Only deterministic code lives here.
package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/health"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// a is the activities receiver used to name activity methods; it is never dereferenced here.
var a *activities.Activities

// Activity options, named once.
var (
	quickOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2,
			MaximumInterval: 30 * time.Second, MaximumAttempts: 5, NonRetryableErrorTypes: fault.NonRetryable},
	}
	fetchOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 10 * time.Minute, MaximumAttempts: 6, NonRetryableErrorTypes: fault.NonRetryable},
	}
	harmonizeOptions = workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour,
		HeartbeatTimeout:    time.Minute, // the activity heartbeats every 10 s: a dead worker shows within a minute
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 3, NonRetryableErrorTypes: fault.NonRetryable},
	}
	releaseOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: 5 * time.Minute, MaximumAttempts: 5,
			NonRetryableErrorTypes: append([]string{string(fault.Conflict)}, fault.NonRetryable...)},
	}
)

// pinnedScheduleToStart is how long a harmonization waits for the worker that fetched its export before
// any worker takes it.
const pinnedScheduleToStart = 2 * time.Minute

var errNotPinned = errors.New("not pinned to a worker")

// RefreshInput names a source to refresh.
type RefreshInput struct {
	Source string
	// Datasets limits the refresh to these datasets; empty means every configured dataset.
	Datasets []string
	// Force re-fetches even when the change signal says nothing changed.
	Force bool
	// PublishAt embargoes the release the refresh makes until then (zero: the sources' publish_at only).
	PublishAt time.Time `json:",omitempty"`
}

// DatasetReport is what happened to one dataset.
type DatasetReport struct {
	Dataset string
	Changed bool
	Reason  string
	URL     string
	Bytes   int64
	Rows    int64
	// Harmonized counts the rows harmonized by this refresh when fewer than Rows: a CO dataset's new
	// segment, its earlier ones in place.
	Harmonized  int64 `json:",omitempty"`
	RawKey      string
	SnapshotKey string
	Requests    int
	Error       string `json:",omitempty"`
	ErrorKind   string `json:",omitempty"`
}

// RefreshResult is the outcome of a refresh.
type RefreshResult struct {
	Source   string
	Datasets []DatasetReport
	Release  *ReleaseResult `json:",omitempty"`
}

// Failed returns the reports of the datasets that failed.
func (r RefreshResult) Failed() []DatasetReport {
	var out []DatasetReport
	for _, d := range r.Datasets {
		if d.Error != "" {
			out = append(out, d)
		}
	}
	return out
}

// RefreshIncomplete is the error type of a refresh in which some datasets failed; its details hold the
// RefreshResult.
const RefreshIncomplete = "RefreshIncomplete"

// RefreshSource checks every dataset of a source, fetches and harmonizes those that changed, accepts their
// snapshots, and runs a Release when anything changed. One failing dataset does not stop the others; the
// previous snapshot of a failed dataset stays the accepted one.
func RefreshSource(ctx workflow.Context, in RefreshInput) (RefreshResult, error) {
	log := workflow.GetLogger(ctx)
	res := RefreshResult{Source: in.Source}
	datasets := in.Datasets
	if len(datasets) == 0 {
		qctx := workflow.WithActivityOptions(ctx, quickOptions)
		if err := workflow.ExecuteActivity(qctx, a.SourceDatasets, in.Source).Get(ctx, &datasets); err != nil {
			return res, err
		}
	}
	changed := 0
	// A source that is down for one dataset after every retry is down for the others: they are reported
	// with it at once, not each after its own retry budget.
	skipWhenDown := workflow.GetVersion(ctx, "skip-datasets-when-source-down", workflow.DefaultVersion, 1) == 1
	down := ""
	for _, id := range datasets {
		if skipWhenDown && down != "" {
			res.Datasets = append(res.Datasets, DatasetReport{Dataset: id, Error: "not tried: " + down, ErrorKind: string(fault.SourceUnavailable)})
			continue
		}
		rep := refreshDataset(ctx, in, id)
		if rep.ErrorKind == string(fault.SourceUnavailable) {
			down = fmt.Sprintf("%s was unavailable for %s after every retry (%s)", in.Source, id, rep.Error)
		}
		if rep.Changed && rep.Error == "" {
			changed++
		}
		res.Datasets = append(res.Datasets, rep)
	}
	recordChecks(ctx, in.Source, res.Datasets)
	if changed > 0 {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID + "-release",
		})
		var rel ReleaseResult
		if err := workflow.ExecuteChildWorkflow(cctx, Release, ReleaseInput{Reason: fmt.Sprintf("%s: %d dataset(s) changed", in.Source, changed), PublishAt: in.PublishAt}).Get(ctx, &rel); err != nil {
			return res, fmt.Errorf("release after refresh of %s: %w", in.Source, err)
		}
		res.Release = &rel
	}
	if failed := res.Failed(); len(failed) > 0 {
		msgs := make([]string, len(failed))
		for i, f := range failed {
			msgs[i] = f.Dataset + ": " + f.Error
		}
		log.Error("refresh incomplete", "source", in.Source, "failed", len(failed))
		return res, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("refresh %s: %d of %d dataset(s) failed; previous data stays published: %s",
				in.Source, len(failed), len(res.Datasets), strings.Join(msgs, "; ")),
			RefreshIncomplete, nil, res)
	}
	return res, nil
}

// recordChecks updates the datasets' health records (osservatorio status, alerts). It never fails the
// refresh: a record not written is logged.
func recordChecks(ctx workflow.Context, source string, reps []DatasetReport) {
	if workflow.GetVersion(ctx, "record-checks", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	checks := make([]health.Check, len(reps))
	for i, r := range reps {
		checks[i] = health.Check{Dataset: r.Dataset, Changed: r.Changed, Error: r.Error, ErrorKind: r.ErrorKind}
	}
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	if err := workflow.ExecuteActivity(qctx, a.RecordChecks, activities.ChecksInput{Source: source, Checks: checks}).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("health records not written", "source", source, "error", err)
	}
}

func refreshDataset(ctx workflow.Context, in RefreshInput, id string) DatasetReport {
	rep := DatasetReport{Dataset: id}
	fail := func(err error) DatasetReport {
		rep.Error, rep.ErrorKind = errorMessage(err), errorKind(err)
		return rep
	}
	var f activities.FetchResult
	fctx := workflow.WithActivityOptions(ctx, fetchOptions)
	nominal, _ := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStart) // set by a Schedule
	err := workflow.ExecuteActivity(fctx, a.Fetch, activities.FetchInput{Source: in.Source, Dataset: id, Force: in.Force, Nominal: nominal}).Get(ctx, &f)
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.HasDetails() {
		_ = ae.Details(&f) // what was fetched before the failure, e.g. the raw object kept for inspection
	}
	rep.Reason, rep.URL, rep.Bytes, rep.RawKey, rep.Requests = f.Reason, f.URL, f.Bytes, f.RawKey, f.Requests
	if err != nil {
		return fail(err)
	}
	if !f.Changed {
		return rep
	}
	rep.Changed = true
	hin := activities.HarmonizeInput{Source: in.Source, Dataset: id, RawKey: f.RawKey, SHA256: f.SHA256, FetchedAt: f.FetchedAt, Structure: f.Structure, Earlier: f.Earlier}
	h, err := harmonize(ctx, f.WorkerQueue, hin)
	if err != nil {
		return fail(err)
	}
	rep.Rows, rep.SnapshotKey = h.Rows, h.SnapshotKey
	if h.Segments != nil && h.Harmonized < h.Rows {
		rep.Harmonized = h.Harmonized
	}
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	if err := workflow.ExecuteActivity(qctx, a.Accept, activities.AcceptInput{
		Source: in.Source, Dataset: id, Fetch: f, Harmonize: h}).Get(ctx, nil); err != nil {
		return fail(err)
	}
	return rep
}

// harmonize runs the harmonization on the worker that fetched the export, which keeps it in its raw cache.
// If that worker does not take the task in time (it stopped), or dies or fails while harmonizing, any
// worker does it again, reading the raw object from the store; bad input is not tried again.
func harmonize(ctx workflow.Context, pinnedQueue string, hin activities.HarmonizeInput) (activities.HarmonizeResult, error) {
	var h activities.HarmonizeResult
	err := errNotPinned
	if pinnedQueue != "" && workflow.GetVersion(ctx, "harmonize-on-fetching-worker", workflow.DefaultVersion, 1) == 1 {
		opts := harmonizeOptions
		opts.TaskQueue, opts.ScheduleToStartTimeout = pinnedQueue, pinnedScheduleToStart
		// One attempt there: a retry would wait on the queue of a worker that may be dead.
		fallback := workflow.GetVersion(ctx, "harmonize-fallback-on-any-failure", workflow.DefaultVersion, 1) == 1
		if fallback {
			rp := *opts.RetryPolicy
			rp.MaximumAttempts = 1
			opts.RetryPolicy = &rp
		}
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, opts), a.Harmonize, hin).Get(ctx, &h)
		if err != nil && !fallback && !isScheduleToStart(err) {
			return h, err
		}
	}
	if err == nil || !worthAnotherWorker(err) {
		return h, err
	}
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, harmonizeOptions), a.Harmonize, hin).Get(ctx, &h)
	return h, err
}

func isScheduleToStart(err error) bool {
	var te *temporal.TimeoutError
	return errors.As(err, &te) && te.TimeoutType() == enumspb.TIMEOUT_TYPE_SCHEDULE_TO_START
}

// worthAnotherWorker says whether a failed pinned harmonization should run again on any worker: it was
// not pinned, timed out (its worker stopped or died), or failed for a reason that is not the input's.
func worthAnotherWorker(err error) bool {
	if errors.Is(err, errNotPinned) {
		return true
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return true
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return !ae.NonRetryable() && !slices.Contains(fault.NonRetryable, ae.Type())
	}
	return false
}

// scheduledStart is the search attribute a Temporal Schedule sets on the runs it starts: when it was due.
var scheduledStart = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// errorMessage returns the innermost application error's message: the classified reason, without the
// activity-task wrapping.
func errorMessage(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Message()
	}
	return err.Error()
}

func errorKind(err error) string {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae.Type()
	}
	var te *temporal.TimeoutError
	if errors.As(err, &te) {
		return "Timeout"
	}
	return ""
}

// ReleaseInput starts a release.
type ReleaseInput struct {
	Reason string
	// PublishAt embargoes the release until then, on top of the publish_at of the sources it changes.
	PublishAt time.Time `json:",omitempty"`
}

// ReleaseResult is a release's outcome: its version (or that none was due) and its deliveries.
type ReleaseResult struct {
	Skipped    bool
	Version    string
	Embargoed  time.Time `json:",omitempty"` // when it was published, if it waited for an embargo
	Rows       map[string]int64
	Deliveries []release.Delivery
}

// maxPublishTries bounds how often a release re-plans after losing its version to a concurrent release.
const maxPublishTries = 5

// Release builds a release from the accepted snapshots when they differ from the latest release, publishes
// it under a version no other release can take, and delivers it to every observatory.
func Release(ctx workflow.Context, in ReleaseInput) (ReleaseResult, error) {
	log := workflow.GetLogger(ctx)
	rctx := workflow.WithActivityOptions(ctx, releaseOptions)
	var res ReleaseResult
	var embargo time.Time
	published := false
	for try := 1; try <= maxPublishTries && !published; try++ {
		var plan release.Plan
		if err := workflow.ExecuteActivity(rctx, a.PlanRelease).Get(ctx, &plan); err != nil {
			return res, err
		}
		if plan.Skip {
			log.Info("no release due: accepted snapshots equal the latest release", "version", plan.Version)
			return ReleaseResult{Skipped: true, Version: plan.Version}, nil
		}
		releaseID := fmt.Sprintf("%s-%d", workflow.GetInfo(ctx).WorkflowExecution.RunID, try)
		var built activities.BuildResult
		err := workflow.ExecuteActivity(rctx, a.BuildRelease, activities.BuildInput{ReleaseID: releaseID, Plan: plan}).Get(ctx, &built)
		if errorKind(err) == string(fault.Conflict) {
			log.Warn("accepted snapshots changed while building; planning again", "version", plan.Version)
			continue
		}
		if err != nil {
			return res, err
		}
		if embargo.IsZero() { // fixed by the first build: a re-plan does not push it to the next day
			embargo = in.PublishAt
			if built.PublishAt.After(embargo) {
				embargo = built.PublishAt
			}
		}
		if err := waitEmbargo(ctx, embargo, plan.Version); err != nil {
			_ = workflow.ExecuteActivity(rctx, a.DiscardRelease, releaseID).Get(ctx, nil)
			return res, err
		}
		err = workflow.ExecuteActivity(rctx, a.PublishRelease, activities.PublishInput{ReleaseID: releaseID, Version: plan.Version}).Get(ctx, nil)
		if errorKind(err) == string(fault.Conflict) {
			log.Warn("version taken by a concurrent release; planning again", "version", plan.Version)
			_ = workflow.ExecuteActivity(rctx, a.DiscardRelease, releaseID).Get(ctx, nil)
			continue
		}
		if err != nil {
			return res, err
		}
		res.Version, res.Rows, published = plan.Version, built.Resources, true
		if embargo.After(time.Time{}) {
			res.Embargoed = embargo
		}
	}
	if !published {
		return res, temporal.NewApplicationError(fmt.Sprintf("no version could be claimed in %d tries", maxPublishTries), string(fault.Conflict))
	}
	var targets activities.DeliveryTargets
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	if err := workflow.ExecuteActivity(qctx, a.ListObservatories).Get(ctx, &targets); err != nil {
		return res, err
	}
	if workflow.GetVersion(ctx, "deliver-batch", workflow.DefaultVersion, 1) == 1 {
		var err error
		res.Deliveries, err = deliverAll(ctx, res.Version, targets)
		return res, err
	}
	futures := make([]workflow.ChildWorkflowFuture, len(targets.Observatories))
	for i, o := range targets.Observatories {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("deliver-%s-%s", res.Version, o.ID),
		})
		futures[i] = workflow.ExecuteChildWorkflow(cctx, Deliver, DeliverInput{
			Version: res.Version, Observatory: o, MaxAttempts: targets.Attempts})
	}
	for i, f := range futures {
		var d release.Delivery
		if err := f.Get(ctx, &d); err != nil {
			d = release.Delivery{Release: res.Version, Observatory: targets.Observatories[i].ID, Status: release.Failed, Error: err.Error()}
		}
		res.Deliveries = append(res.Deliveries, d)
	}
	return res, nil
}

// deliverAll brings a release to every observatory at a cost that does not grow with their number in
// Temporal tasks: one activity prepares every bundle and ledger entry; the observatories that pull and
// have a webhook are notified together by one Notify workflow per retry schedule (it outlives this one);
// each observatory that takes a push gets a Deliver workflow of its own, retried on its own.
func deliverAll(ctx workflow.Context, version string, targets activities.DeliveryTargets) ([]release.Delivery, error) {
	var plans []activities.PreparedDelivery
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, releaseOptions), a.PrepareDeliveries, version).Get(ctx, &plans); err != nil {
		return nil, err
	}
	out := make([]release.Delivery, len(plans))
	var pushes []int
	groups := map[string]*NotifyInput{}
	var order []string
	for i, p := range plans {
		out[i] = release.Delivery{Release: version, Observatory: p.Observatory, Status: release.Pending, Mode: "pull", Bundle: p.Bundle}
		switch {
		case p.Push:
			pushes = append(pushes, i)
		case p.Webhook:
			key := fmt.Sprint(p.Retry, p.DisableFor)
			if groups[key] == nil {
				groups[key] = &NotifyInput{Retry: p.Retry, DisableFor: p.DisableFor}
				order = append(order, key)
			}
			groups[key].Deliveries = append(groups[key].Deliveries, out[i])
		}
	}
	for n, key := range order {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:        fmt.Sprintf("notify-%s-%d-%s", version, n, workflow.GetInfo(ctx).WorkflowExecution.RunID),
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		if err := workflow.ExecuteChildWorkflow(cctx, Notify, *groups[key]).GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return out, err
		}
	}
	futures := make([]workflow.ChildWorkflowFuture, len(pushes))
	for j, i := range pushes {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: fmt.Sprintf("deliver-%s-%s", version, plans[i].Observatory)})
		futures[j] = workflow.ExecuteChildWorkflow(cctx, Deliver, DeliverInput{Version: version,
			Observatory: activities.Observatory{ID: plans[i].Observatory}, MaxAttempts: targets.Attempts})
	}
	for j, f := range futures {
		i := pushes[j]
		if err := f.Get(ctx, &out[i]); err != nil {
			out[i] = release.Delivery{Release: version, Observatory: plans[i].Observatory, Status: release.Failed, Error: err.Error()}
		}
	}
	return out, nil
}

// waitEmbargo holds a built release until its embargo: a durable timer, so a worker or server restart
// does not publish it early or forget it. Before then it sits under staging/, which no observatory key
// can read.
func waitEmbargo(ctx workflow.Context, until time.Time, version string) error {
	now := workflow.Now(ctx)
	if !until.After(now) || workflow.GetVersion(ctx, "embargo", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return nil
	}
	workflow.GetLogger(ctx).Info("release embargoed", "version", version, "until", until)
	return workflow.Sleep(ctx, until.Sub(now))
}

// DeliverInput is one release for one observatory.
type DeliverInput struct {
	Version     string
	Observatory activities.Observatory
	MaxAttempts int32
}

// Deliver brings a release to one observatory as it subscribes: its bundle (the release, or its signed
// slice) made ready to pull, copied into its space in push mode (retried on its own schedule), and its
// webhook notified by a Notify workflow of its own, which outlives this one. A delivery that fails for good
// is recorded as failed in the ledger and does not fail the release.
func Deliver(ctx workflow.Context, in DeliverInput) (release.Delivery, error) {
	if workflow.GetVersion(ctx, "deliver-subscriptions", workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return deliverCopy(ctx, in)
	}
	act := activities.DeliverInput{Version: in.Version, Observatory: activities.Observatory{ID: in.Observatory.ID}}
	var plan activities.DeliveryPlan
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, releaseOptions), a.PrepareDelivery, act).Get(ctx, &plan); err != nil {
		return recordFailure(ctx, release.Delivery{Release: in.Version, Observatory: in.Observatory.ID, Attempts: 1}, err)
	}
	d := release.Delivery{Release: in.Version, Observatory: in.Observatory.ID, Status: release.Pending, Mode: "pull", Bundle: plan.Bundle}
	if plan.Push {
		d.Mode = "push"
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, deliverOptions(in.MaxAttempts)), a.Deliver, act).Get(ctx, &d); err != nil {
			d.Attempts = deliverOptions(in.MaxAttempts).RetryPolicy.MaximumAttempts
			return recordFailure(ctx, d, err)
		}
	}
	if plan.Webhook {
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:        fmt.Sprintf("notify-%s-%s-%s", in.Version, in.Observatory.ID, workflow.GetInfo(ctx).WorkflowExecution.RunID),
			ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
		})
		child := workflow.ExecuteChildWorkflow(cctx, Notify, NotifyInput{Deliveries: []release.Delivery{d}, Retry: plan.Retry, DisableFor: plan.DisableFor})
		if err := child.GetChildWorkflowExecution().Get(ctx, nil); err != nil {
			return recordFailure(ctx, d, err)
		}
	}
	return d, nil
}

func deliverOptions(maxAttempts int32) workflow.ActivityOptions {
	if maxAttempts <= 0 {
		maxAttempts = 5
	}
	return workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: maxAttempts},
	}
}

// recordFailure records d as failed with err in the ledger.
func recordFailure(ctx workflow.Context, d release.Delivery, err error) (release.Delivery, error) {
	workflow.GetLogger(ctx).Error("delivery failed", "release", d.Release, "observatory", d.Observatory, "error", err)
	d.Status, d.Error, d.Time = release.Failed, errorMessage(err), workflow.Now(ctx).UTC()
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	return d, workflow.ExecuteActivity(qctx, a.RecordDelivery, d).Get(ctx, nil)
}

// NotifyInput is one release notice to some observatories' webhooks, on one retry schedule.
type NotifyInput struct {
	Deliveries []release.Delivery // the ledger entries the notices complete (one release)
	Retry      []time.Duration    // the wait before each attempt
	DisableFor time.Duration
}

// Notify posts a release notice to the webhooks of some observatories on their retry schedule (Svix's by
// default: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h): each attempt is one activity for all those
// not yet notified, which records each outcome in the ledger. The endpoints that failed every attempt
// are recorded as failed and disabled for DisableFor; a disabled endpoint is not called.
func Notify(ctx workflow.Context, in NotifyInput) ([]release.Delivery, error) {
	if len(in.Deliveries) == 0 {
		return nil, nil
	}
	version := in.Deliveries[0].Release
	pending := make([]string, len(in.Deliveries))
	for i, d := range in.Deliveries {
		pending[i] = d.Observatory
	}
	nctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var failed, final []activities.Failure
	for i, wait := range in.Retry {
		if len(pending) == 0 {
			break
		}
		if wait > 0 {
			if err := workflow.Sleep(ctx, wait); err != nil {
				return in.Deliveries, err
			}
		}
		var res activities.NotifyBatchResult
		err := workflow.ExecuteActivity(nctx, a.NotifyBatch, activities.NotifyBatchInput{Version: version, Observatories: pending, Attempt: i + 1}).Get(ctx, &res)
		if err != nil { // the attempt as a whole failed (a worker died): every pending one is tried again
			failed = failed[:0]
			for _, id := range pending {
				failed = append(failed, activities.Failure{Observatory: id, Error: errorMessage(err)})
			}
			continue
		}
		final = append(final, res.Final...)
		failed, pending = res.Failed, nil
		for _, f := range res.Failed {
			pending = append(pending, f.Observatory)
		}
	}
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	for _, f := range []struct {
		failed     []activities.Failure
		disableFor time.Duration
	}{{failed, in.DisableFor}, {final, 0}} { // an endpoint already disabled is not disabled again
		if len(f.failed) == 0 {
			continue
		}
		if err := workflow.ExecuteActivity(qctx, a.FailNotices, version, f.failed, f.disableFor).Get(ctx, nil); err != nil {
			return in.Deliveries, err
		}
	}
	return in.Deliveries, nil
}

// deliverCopy is Deliver as it was before subscriptions: the whole release copied into the observatory's
// space. Kept for the histories of deliveries begun then.
func deliverCopy(ctx workflow.Context, in DeliverInput) (release.Delivery, error) {
	attempts := in.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	dctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2,
			MaximumInterval: time.Minute, MaximumAttempts: attempts},
	})
	var d release.Delivery
	err := workflow.ExecuteActivity(dctx, a.Deliver, activities.DeliverInput{Version: in.Version, Observatory: in.Observatory}).Get(ctx, &d)
	if err == nil {
		return d, nil
	}
	workflow.GetLogger(ctx).Error("delivery failed", "release", in.Version, "observatory", in.Observatory.ID, "error", err)
	d = release.Delivery{
		Release: in.Version, Observatory: in.Observatory.ID, Status: release.Failed, Attempts: attempts,
		Time: workflow.Now(ctx).UTC(), Error: errorMessage(err),
		Target: in.Observatory.Bucket + "/" + in.Observatory.Prefix + "releases/" + in.Version + "/",
	}
	qctx := workflow.WithActivityOptions(ctx, quickOptions)
	if err := workflow.ExecuteActivity(qctx, a.RecordDelivery, d).Get(ctx, nil); err != nil {
		return d, err
	}
	return d, nil
}

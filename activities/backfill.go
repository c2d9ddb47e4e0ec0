package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/lake"
)

// BackfillInput asks for a source's history by period range (osservatorio backfill).
type BackfillInput struct {
	Source string
	// Datasets limits the backfill to these datasets; empty means every configured dataset.
	Datasets []string `json:",omitempty"`
	From, To string   // periods as YYYY, YYYY-Qn or YYYY-MM
	// Chunk is the size of each range fetched: year (the default), quarter or month.
	Chunk string `json:",omitempty"`
	// Force fetches again ranges the dataset's history holds already.
	Force bool `json:",omitempty"`
}

// BackfillPlan is what a backfill fetches: per dataset, the ranges still missing.
type BackfillPlan struct {
	Datasets []DatasetPlan
}

// DatasetPlan is one dataset's share of a backfill.
type DatasetPlan struct {
	Dataset string
	Chunks  []Period // to fetch, in order
	Held    []Period // in the history already, with the same settings: not fetched again
	// Events says the dataset is CO events: each range is taken again into the dataset itself (the rows
	// of those dates replaced, a new base), not kept beside it as history; no range is ever held.
	Events bool `json:",omitempty"`
}

// Period is a range of periods, both ends included, as a source is asked for them.
type Period struct {
	From, To string
}

func (p Period) String() string {
	if p.From == p.To {
		return p.From
	}
	return p.From + "–" + p.To
}

// PlanBackfill checks that every dataset asked for can be backfilled (its source fetches by period, and
// it has an accepted state to add history to) and splits the range into chunks, leaving out those the
// dataset's history holds already (unless forced). Nothing is fetched: a backfill that cannot run fails
// here, before its first request.
func (a *Activities) PlanBackfill(ctx context.Context, in BackfillInput) (BackfillPlan, error) {
	plan, err := a.planBackfill(ctx, in)
	return plan, classify(err)
}

func (a *Activities) planBackfill(ctx context.Context, in BackfillInput) (BackfillPlan, error) {
	src, err := a.source(in.Source)
	if err != nil {
		return BackfillPlan{}, err
	}
	ranges, err := SplitPeriods(in.From, in.To, in.Chunk)
	if err != nil {
		return BackfillPlan{}, fault.Wrap(fault.BadInput, "backfill "+in.Source, err)
	}
	bf, ok := src.Conn.(connectors.Backfiller)
	if !ok {
		return BackfillPlan{}, fault.Errorf(fault.BadInput, "backfill %s: the source publishes its history whole, not by period: `osservatorio refresh %s --force` fetches it all", in.Source, in.Source)
	}
	ids := in.Datasets
	if len(ids) == 0 {
		for _, d := range src.Datasets {
			ids = append(ids, d.ID)
		}
	}
	var plan BackfillPlan
	for _, id := range ids {
		_, ds, err := a.dataset(in.Source, id)
		if err != nil {
			return plan, err
		}
		if !bf.Backfills(ds) {
			return plan, fault.Errorf(fault.BadInput, "backfill %s/%s: its format cannot be fetched by period", in.Source, id)
		}
		st, ok, err := a.Lake.State(ctx, in.Source, id)
		if err != nil {
			return plan, err
		}
		if !ok {
			return plan, fault.Errorf(fault.BadInput, "backfill %s/%s: no accepted data to add history to: refresh it once first", in.Source, id)
		}
		_, events := src.Conn.(connectors.EventSource)
		dp := DatasetPlan{Dataset: id, Events: events}
		for _, r := range ranges {
			if !in.Force && !events && st.Covers(r.From, r.To, chunkOf(ds, r).Settings()) {
				dp.Held = append(dp.Held, r)
				continue
			}
			dp.Chunks = append(dp.Chunks, r)
		}
		plan.Datasets = append(plan.Datasets, dp)
	}
	return plan, nil
}

// chunkOf is the dataset restricted to a range of its history.
func chunkOf(ds connectors.Dataset, r Period) connectors.Dataset {
	ds.Since, ds.Until = r.From, r.To
	return ds
}

// ChunkInput names one range of a dataset's history to fetch.
type ChunkInput struct {
	Source, Dataset string
	Period          Period
	// Events: a CO dataset's range, taken again into the dataset (see DatasetPlan.Events).
	Events bool `json:",omitempty"`
}

// FetchChunk fetches one range of a dataset's history (no change check, no conditional request) into a
// content-addressed raw object with its sidecar, which records the range. A body that is not data is kept
// for inspection and reported as BadInput, as by Fetch. A CO dataset's range is downloaded on top of its
// accepted rows less those dates, a new base of the dataset, accepted by Accept as a refresh's would be.
func (a *Activities) FetchChunk(ctx context.Context, in ChunkInput) (FetchResult, error) {
	res, err := a.fetchChunk(ctx, in)
	return res, classify(fault.In(err, in.Source, in.Dataset), res)
}

func (a *Activities) fetchChunk(ctx context.Context, in ChunkInput) (FetchResult, error) {
	src, ds, err := a.dataset(in.Source, in.Dataset)
	if err != nil {
		return FetchResult{}, err
	}
	ds = chunkOf(ds, in.Period)
	prev, hasPrev, err := a.Lake.State(ctx, in.Source, in.Dataset)
	if err != nil {
		return FetchResult{}, err
	}
	var res FetchResult
	if dl, ok := src.Conn.(connectors.Downloader); ok && dl.Downloads(ds) {
		// The range's rows taken again on top of the accepted ones: the dataset's new base, from its cursor.
		return a.download(ctx, FetchInput{Source: in.Source, Dataset: in.Dataset}, src, ds, dl, prev, hasPrev, res)
	}
	// The structure kept with the state builds the request (Istat's key order); read it only when missing.
	ds.Structure = prev.Structure
	if ds.Structure == nil {
		stop := keepAlive(ctx, nil)
		sig, err := src.Conn.Check(ctx, ds)
		stop()
		if sig.URL != "" {
			res.Requests += max(sig.Requests, 1)
		}
		if err != nil && fault.Is(err, fault.SourceUnavailable) {
			return res, err
		}
		ds.Structure = sig.Structure
	}
	res.Structure = ds.Structure
	res, err = a.getRaw(ctx, FetchInput{Source: in.Source, Dataset: in.Dataset, Force: true}, src, ds, lake.State{}, false, res)
	if err == nil {
		activity.GetLogger(ctx).Info("fetched a range of history", "source", in.Source, "dataset", in.Dataset,
			"period", in.Period.String(), "key", res.RawKey, "bytes", res.Bytes)
	}
	return res, err
}

// AcceptChunkInput is a fetched and harmonized range of a dataset's history.
type AcceptChunkInput struct {
	Source, Dataset string
	Period          Period
	Fetch           FetchResult
	Harmonize       HarmonizeResult
}

// AcceptChunk adds a harmonized range to the dataset's history (replacing the same range fetched before)
// and says whether the history changed: a range fetched again with the same bytes does not change it.
func (a *Activities) AcceptChunk(ctx context.Context, in AcceptChunkInput) (bool, error) {
	_, ds, err := a.dataset(in.Source, in.Dataset)
	if err != nil {
		return false, classify(err)
	}
	c := lake.Chunk{From: in.Period.From, To: in.Period.To, Settings: chunkOf(ds, in.Period).Settings(),
		RawKey: in.Fetch.RawKey, RawSHA256: in.Fetch.SHA256, RawBytes: in.Fetch.Bytes, URL: in.Fetch.URL, FetchedAt: in.Fetch.FetchedAt,
		SnapshotKey: in.Harmonize.SnapshotKey, ReportKey: in.Harmonize.ReportKey, Rows: in.Harmonize.Rows,
		FirstPeriod: in.Harmonize.FirstPeriod, LastPeriod: in.Harmonize.LastPeriod, AcceptedAt: time.Now().UTC()}
	c.Workflow, c.Run = execution(ctx)
	changed := false
	err = a.Lake.UpdateState(ctx, in.Source, in.Dataset, func(st *lake.State, ok bool) error {
		if !ok {
			return fault.Errorf(fault.BadInput, "backfill %s/%s: the dataset has no accepted state", in.Source, in.Dataset)
		}
		changed = st.AddHistory(c) > 0
		return nil
	})
	if err != nil {
		return false, classify(fmt.Errorf("accept %s/%s %s: %w", in.Source, in.Dataset, in.Period, err))
	}
	return changed, nil
}

// SplitPeriods splits the range from–to (YYYY, YYYY-Qn or YYYY-MM; from's first month to to's last) into
// chunks of a calendar year, quarter or month ("" is year). A chunk that is a whole year or quarter is
// named as one (2017, 2017-Q2), so a source with yearly data is asked for years; a partial one by months.
func SplitPeriods(from, to, chunk string) ([]Period, error) {
	size := map[string]int{"": 12, "year": 12, "quarter": 3, "month": 1}[chunk]
	if size == 0 {
		return nil, fmt.Errorf("chunk %q: year, quarter or month", chunk)
	}
	first, _, err := connectors.PeriodMonths(from)
	if err != nil {
		return nil, err
	}
	_, last, err := connectors.PeriodMonths(to)
	if err != nil {
		return nil, err
	}
	if first > last {
		return nil, fmt.Errorf("from %s is after to %s", from, to)
	}
	if last-first >= 100*12 {
		return nil, fmt.Errorf("%s–%s: more than a hundred years", from, to)
	}
	var out []Period
	for m := first; m <= last; {
		end := min(last, m-m%size+size-1) // the end of the calendar block m is in
		out = append(out, Period{From: periodName(m, end, true), To: periodName(m, end, false)})
		m = end + 1
	}
	return out, nil
}

// periodName names the start (or the end) of the months first–last: a year when they are one, a quarter
// when they are one, else a month.
func periodName(first, last int, start bool) string {
	y, m := first/12, first%12
	switch {
	case m == 0 && last == first+11:
		return fmt.Sprint(y)
	case m%3 == 0 && last == first+2:
		return fmt.Sprintf("%d-Q%d", y, m/3+1)
	case start:
		return fmt.Sprintf("%d-%02d", y, m+1)
	}
	return fmt.Sprintf("%d-%02d", last/12, last%12+1)
}

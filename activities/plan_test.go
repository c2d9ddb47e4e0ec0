package activities_test

import (
	"context"
	"strings"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/inps"
	"github.com/osservatorio-lombardia/osservatorio/connectors/istat"
	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/lake"
)

// A backfill is refused before any request when its source publishes its history whole or its dataset was
// never accepted; otherwise it is split into years, those the history holds left out.
func TestPlanBackfill(t *testing.T) {
	ctx := context.Background()
	l := lake.New(devstacktest.Bucket(t, "plan-backfill"))
	ds := connectors.Dataset{Source: "istat", ID: "x", Code: "151_914", Since: "2021"}
	acts := &activities.Activities{Lake: l, Sources: map[string]activities.Source{
		"istat": {Conn: istat.New("http://127.0.0.1:1", nil), Datasets: []connectors.Dataset{ds}},
		"inps":  {Conn: inps.New("http://127.0.0.1:1", nil), Datasets: []connectors.Dataset{{Source: "inps", ID: "y"}}},
	}}
	in := activities.BackfillInput{Source: "istat", From: "2017", To: "2019"}
	if _, err := acts.PlanBackfill(ctx, in); err == nil || !strings.Contains(err.Error(), "refresh it once first") {
		t.Errorf("never accepted: %v", err)
	}
	if _, err := acts.PlanBackfill(ctx, activities.BackfillInput{Source: "inps", From: "2017", To: "2019"}); err == nil || !strings.Contains(err.Error(), "publishes its history whole") {
		t.Errorf("inps: %v", err)
	}
	held := ds
	held.Since, held.Until = "2018", "2018"
	sha := strings.Repeat("a", 64)
	st := lake.State{Source: "istat", Dataset: "x", RawKey: "raw/istat/x/b.xml", SnapshotKey: "harmonized/b.parquet",
		History: []lake.Chunk{{From: "2018", To: "2018", Settings: held.Settings(), RawSHA256: sha,
			SnapshotKey: lake.SnapshotKey("istat", "x", "observations", sha, held.Settings())}}}
	if err := l.SetState(ctx, st); err != nil {
		t.Fatal(err)
	}
	plan, err := acts.PlanBackfill(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if d := plan.Datasets; len(d) != 1 || len(d[0].Chunks) != 2 || d[0].Chunks[0].From != "2017" || d[0].Chunks[1].From != "2019" || len(d[0].Held) != 1 {
		t.Errorf("plan = %+v", plan)
	}
	in.Force = true
	if plan, err := acts.PlanBackfill(ctx, in); err != nil || len(plan.Datasets[0].Chunks) != 3 {
		t.Errorf("forced plan = %+v, %v", plan, err)
	}
	if _, err := acts.PlanBackfill(ctx, activities.BackfillInput{Source: "istat", From: "2019", To: "2017"}); err == nil || !strings.Contains(err.Error(), "from 2019 is after to 2017") {
		t.Errorf("backwards: %v", err)
	}
}

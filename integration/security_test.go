package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/workflows"
)

// deliverIgnoresInputTargets starts Deliver workflows as anyone who reaches the Temporal server could,
// with a target of their choosing: the release lands only where the configuration says, and an
// observatory that is not configured gets nothing.
func deliverIgnoresInputTargets(t *testing.T, ctx context.Context) {
	c, err := shared.p.Temporal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run := func(id string, in workflows.DeliverInput) (release.Delivery, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		r, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: shared.cfg.Temporal.TaskQueue}, workflows.Deliver, in)
		if err != nil {
			t.Fatal(err)
		}
		var d release.Delivery
		err = r.Get(ctx, &d)
		return d, err
	}
	before := countKeys(t, "state/")
	d, err := run("evil-deliver", workflows.DeliverInput{Version: "1.0.0", MaxAttempts: 1,
		Observatory: activities.Observatory{ID: "milano", Bucket: shared.cfg.Storage.Bucket, Prefix: "../../state/"}})
	if err != nil || d.Status != release.Delivered || !strings.HasPrefix(d.Target, "obs-milano/releases/1.0.0/") {
		t.Errorf("delivery = %+v, %v; want the configured obs-milano", d, err)
	}
	if after := countKeys(t, "state/"); after != before {
		t.Errorf("state/ went from %d to %d objects", before, after)
	}
	for _, key := range []string{"../../state/releases/1.0.0/datapackage.json", "state/releases/1.0.0/datapackage.json"} {
		if ok, _ := shared.p.Bucket.Exists(ctx, key); ok {
			t.Errorf("%s was written in the platform's bucket", key)
		}
	}
	d, err = run("evil-deliver-unknown", workflows.DeliverInput{Version: "1.0.0", MaxAttempts: 1,
		Observatory: activities.Observatory{ID: "nobody", Bucket: shared.cfg.Storage.Bucket}})
	if err == nil || d.Status == release.Delivered {
		t.Errorf("an unconfigured observatory: %+v, %v; want a failure", d, err)
	}
	if ds, _ := shared.p.Releases.Deliveries(ctx, "1.0.0"); len(ds) > 0 {
		for _, x := range ds {
			if x.Observatory == "nobody" {
				t.Errorf("the ledger records a delivery to an unconfigured observatory: %+v", x)
			}
		}
	}
}

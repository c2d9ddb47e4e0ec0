package integration

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
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

// signingKeyBody is the base64 body of the release signing key (its PEM without the armour lines).
func signingKeyBody(t *testing.T) string {
	data, err := os.ReadFile(shared.cfg.Release.SigningKey)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[1:len(lines)-1], "")
}

// noSecretsStored greps every log line of the run and every object the platform wrote (sidecars, states,
// reports, manifests, ledgers) for the run's secrets: the Socrata app token, the storage secret, Sondrio's
// webhook secret and the release signing key.
func noSecretsStored(t *testing.T, ctx context.Context) {
	secrets := []string{appToken, shared.cfg.Storage.SecretKey, hookSecret, strings.TrimPrefix(hookSecret, "whsec_"), signingKeyBody(t)}
	logs := allLogs.String()
	if len(logs) == 0 {
		t.Fatal("no log line was kept")
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("a log line holds the secret %q", s)
		}
	}
	infos, err := shared.p.Bucket.List(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	read := 0
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".json") {
			continue
		}
		var v json.RawMessage
		if err := shared.p.Bucket.GetJSON(ctx, in.Key, &v); err != nil {
			continue
		}
		read++
		for _, s := range secrets {
			if strings.Contains(string(v), s) {
				t.Errorf("%s holds the secret %q", in.Key, s)
			}
		}
	}
	if read < 50 {
		t.Errorf("only %d JSON objects read", read)
	}
	// And every workflow history of the run: inputs, results and heartbeat details are Temporal payloads.
	c, err := shared.p.Temporal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	list, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: shared.cfg.Temporal.Namespace, PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	events, control := 0, 0
	for _, e := range list.Executions {
		it := c.GetWorkflowHistory(ctx, e.Execution.WorkflowId, e.Execution.RunId, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			events++
			text := ev.String() // payload bytes printed as they are
			if strings.Contains(text, "lfst_r_lfu3rt") {
				control++ // a dataset id the payloads do carry: the grep sees inside them
			}
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("workflow %s holds the secret %q in event %d (%s)", e.Execution.WorkflowId, s, ev.EventId, ev.EventType)
				}
			}
		}
	}
	if events < 100 || control == 0 {
		t.Errorf("%d history events read, %d with a dataset id in their payloads: the grep sees nothing", events, control)
	}
}

package metrics_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/metrics"
)

func echo(ctx context.Context, s string) (string, error) { return s, nil }

func wf(ctx workflow.Context) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	var out string
	err := workflow.ExecuteActivity(ctx, echo, "x").Get(ctx, &out)
	return out, err
}

// The Temporal SDK reports into the registry: after one workflow with one activity, /metrics has its
// temporal_ series, under the names the Grafana dashboard queries.
func TestTemporalSDKMetrics(t *testing.T) {
	s := devstacktest.Start(t, "metrics-test", true)
	c, err := client.Dial(client.Options{HostPort: s.Temporal, MetricsHandler: metrics.Temporal()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, "metrics-test", worker.Options{})
	w.RegisterWorkflow(wf)
	w.RegisterActivity(echo)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: "metrics-test"}, wf)
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, name := range dashboardSeries(t, "temporal_") {
		if !strings.Contains(body, "\n"+name) {
			t.Errorf("the dashboard queries %s, which the SDK does not report", name)
		}
	}
	known := map[string]bool{}
	for _, n := range metrics.Names() {
		known[n] = true
	}
	for _, name := range dashboardSeries(t, "osservatorio_") {
		if !known[name] {
			t.Errorf("the dashboard queries %s, which package metrics does not define", name)
		}
	}
	if testing.Verbose() {
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(l, "# TYPE temporal_") {
				t.Log(l)
			}
		}
	}
}

// dashboardSeries returns the series with prefix that deploy/grafana/osservatorio.json queries.
func dashboardSeries(t *testing.T, prefix string) []string {
	data, err := os.ReadFile("../deploy/grafana/osservatorio.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(prefix + `[a-z_]+`)
	var out []string
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out = append(out, re.FindAllString(tg.Expr, -1)...)
		}
	}
	if len(out) == 0 {
		t.Fatalf("the dashboard queries no %s series", prefix)
	}
	return out
}

package activities_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/osservatorio-lombardia/osservatorio/activities"
	"github.com/osservatorio-lombardia/osservatorio/cogen"
	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/connectors/lombardia"
	"github.com/osservatorio-lombardia/osservatorio/devstack/devstacktest"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/release"
)

// A worker that does not hold an export streams it from the store into DuckDB: a label known under
// another spelling makes a second pass, which streams it again; an object that is not what its sha256
// says fails the harmonization as a retryable error, not as bad input.
func TestHarmonizeStreamsTheExport(t *testing.T) {
	ctx := context.Background()
	acts, b, env := coActivities(t, "stream-test")

	var buf bytes.Buffer
	if _, err := cogen.Write(&buf, cogen.Options{Events: 2000, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	csv := strings.Replace(buf.String(), ",LAVORO A TEMPO DETERMINATO,", ",lavoro a tempo determinato,", 1)
	if csv == buf.String() {
		t.Fatal("no fixed-term contract to respell")
	}
	sum := sha256.Sum256([]byte(csv))
	sha := hex.EncodeToString(sum[:])
	key := lake.RawKey("lombardia", "attivati", sha, "csv")
	if err := b.Put(ctx, key, strings.NewReader(csv), int64(len(csv)), objectstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	val, err := env.ExecuteActivity(acts.Harmonize, activities.HarmonizeInput{Source: "lombardia", Dataset: "attivati", RawKey: key, SHA256: sha, FetchedAt: fetched})
	if err != nil {
		t.Fatal(err)
	}
	var res activities.HarmonizeResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	var rep activities.EventsReport
	if err := b.GetJSON(ctx, res.ReportKey, &rep); err != nil {
		t.Fatal(err)
	}
	if res.Rows != 2000 || rep.Renormalised != 1 || rep.Timings["stream"] == 0 {
		t.Errorf("%d rows, %d labels respelled, timings %v; want 2000 rows, a second pass, read as a stream", res.Rows, rep.Renormalised, rep.Timings)
	}
	for _, u := range rep.Unmapped {
		if u.Column == "contratto" {
			t.Errorf("unmapped after the second pass: %+v", u)
		}
	}

	// The same bytes under a sha256 they do not have: an object other than the one accepted.
	other := strings.Repeat("e", 64)
	_, err = env.ExecuteActivity(acts.Harmonize, activities.HarmonizeInput{Source: "lombardia", Dataset: "attivati", RawKey: key, SHA256: other, FetchedAt: fetched})
	var ae *temporal.ApplicationError
	if err == nil || !strings.Contains(err.Error(), "sha256") || (errors.As(err, &ae) && ae.NonRetryable()) {
		t.Errorf("a stream other than stored: %v", err)
	}
}

// coActivities returns activities for the CO dataset lombardia/attivati over a fresh MinIO bucket, with
// a Temporal activity environment that runs them.
func coActivities(t *testing.T, bucket string) (*activities.Activities, *objectstore.Bucket, *testsuite.TestActivityEnvironment) {
	t.Helper()
	b := devstacktest.Bucket(t, bucket)
	acts := &activities.Activities{Lake: lake.New(b), Releases: release.NewStore(b), WorkDir: t.TempDir(),
		Sources: map[string]activities.Source{"lombardia": {
			Conn:     lombardia.New("http://127.0.0.1:1", nil, lombardia.Options{}),
			Datasets: []connectors.Dataset{{Source: "lombardia", ID: "attivati", Code: "qbau-cyuc"}},
		}}}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := suite.NewTestActivityEnvironment()
	env.RegisterActivity(acts)
	return acts, b, env
}

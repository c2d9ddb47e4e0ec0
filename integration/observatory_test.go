package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/osservatorio-lombardia/osservatorio/access"
	"github.com/osservatorio-lombardia/osservatorio/audit"
	"github.com/osservatorio-lombardia/osservatorio/cli"
	"github.com/osservatorio-lombardia/osservatorio/lake"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
	"github.com/osservatorio-lombardia/osservatorio/platform"
	"github.com/osservatorio-lombardia/osservatorio/pull"
	"github.com/osservatorio-lombardia/osservatorio/release"
	"github.com/osservatorio-lombardia/osservatorio/warehouse"
)

// osv runs the osservatorio command on the run's configuration and returns its exit code and output.
func osv(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(ctx, append([]string{"--config", writeConfig(t)}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// fileKey is where the file at path of a published release is stored.
func fileKey(t *testing.T, ctx context.Context, version, path string) string {
	t.Helper()
	key, err := shared.p.Releases.FileKey(ctx, version, path)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// onlyChangedFilesStored checks that publishing next stored only the files whose bytes changed since
// prev: the others are prev's blobs, the release's prefix holds no data, and the audit entry counts it.
func onlyChangedFilesStored(t *testing.T, ctx context.Context, prev, next string) {
	t.Helper()
	a, _ := shared.p.Releases.Get(ctx, prev)
	b, _ := shared.p.Releases.Get(ctx, next)
	had := map[string]bool{}
	for _, r := range a.Resources {
		for _, f := range r.Files() {
			had[f.Hash] = true
		}
	}
	kept, files := 0, 0
	for _, r := range b.Resources {
		for _, f := range r.Files() {
			files++
			if had[f.Hash] {
				kept++
			}
			if key := fileKey(t, ctx, next, f.Path); !strings.HasPrefix(key, lake.BlobsPrefix) {
				t.Errorf("%s of %s is stored at %s, not as a blob", f.Path, next, key)
			}
		}
	}
	if kept == 0 || kept == files {
		t.Fatalf("%s shares %d of %d files with %s: the test needs some changed and some not", next, kept, files, prev)
	}
	t.Logf("publishing %s after %s stored %d of its %d files; %d were %s's blobs", next, prev, files-kept, files, kept, prev)
	infos, err := shared.p.Bucket.List(ctx, release.Prefix(next), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if strings.Contains(in.Key, "/data/") {
			t.Errorf("%s: a data file beside the manifest", in.Key)
		}
	}
	entries, err := (&audit.Log{B: shared.p.Bucket}).List(ctx, audit.Filter{Action: "release.publish"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Target == next && (e.Details["files_kept"] != fmt.Sprint(kept) || e.Details["files_copied"] != fmt.Sprint(files-kept)) {
			t.Errorf("publishing %s: %v; want %d files kept and %d copied", next, e.Details, kept, files-kept)
		}
	}
}

// credentials makes an observatory's own storage key with the CLI.
func credentials(t *testing.T, ctx context.Context, id string, extra ...string) access.Credentials {
	t.Helper()
	code, out, errs := osv(t, ctx, append([]string{"observatory", "credentials", id, "--json"}, extra...)...)
	if code != 0 {
		t.Fatalf("observatory credentials %s: exit %d: %s%s", id, code, out, errs)
	}
	var c access.Credentials
	if err := fromCLI(out, &c); err != nil {
		t.Fatal(err)
	}
	if c.Endpoint == "" || c.Bucket == "" || c.AccessKey != "obs-"+id || len(c.SecretKey) < 20 {
		t.Fatalf("credentials = %+v", c)
	}
	return c
}

func pullArgs(c access.Credentials, dir string, extra ...string) []string {
	return append([]string{"pull", "--dir", dir, "--endpoint", c.Endpoint, "--bucket", c.Bucket,
		"--access-key", c.AccessKey, "--secret-key", c.SecretKey}, extra...)
}

// observatoryPulls: Lodi gets its own key, pulls the latest release with it (no platform key, no
// Temporal), verifies it, acknowledges it; a changed byte is caught; an interrupted pull resumes; a
// revoked key is refused.
func observatoryPulls(t *testing.T, ctx context.Context) {
	c := credentials(t, ctx, "lodi")
	if code, _, errs := osv(t, ctx, "observatory", "credentials", "lodi"); code != 2 || !strings.Contains(errs, "--rotate") {
		t.Errorf("credentials again without --rotate: exit %d, %s", code, errs)
	}
	latest := versions(t)[len(versions(t))-1]
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := cli.Main(ctx, pullArgs(c, dir), &out, &errb); code != 0 || !strings.Contains(out.String(), "release "+latest+" verified") {
		t.Fatalf("pull: exit %d\n%s%s", code, out.String(), errb.String())
	}
	if target, err := os.Readlink(filepath.Join(dir, "latest")); err != nil || target != latest {
		t.Errorf("latest -> %q (%v), want %s", target, err, latest)
	}
	ds, err := shared.p.Releases.Deliveries(ctx, latest)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(ds, func(d release.Delivery) bool { return d.Observatory == "lodi" }); i < 0 || ds[i].Status != release.Acknowledged {
		t.Errorf("ledger of lodi for %s: %+v, want acknowledged", latest, ds)
	}
	bundle := filepath.Join(dir, latest)
	rerunChecks(t, ctx, latest, bundle)
	if code, out, errs := osv(t, ctx, "verify", "--dir", bundle); code != 0 {
		t.Errorf("verify --dir: exit %d\n%s%s", code, out, errs)
	}
	tamperedAreCaught(t, ctx, bundle)
	replayedReleaseRefused(t, ctx, c, latest)
	interruptedPullResumes(t, ctx, c, latest)

	if code, _, errs := osv(t, ctx, "observatory", "revoke", "lodi"); code != 0 {
		t.Fatalf("revoke: %s", errs)
	}
	if code, _, _ := osv(t, ctx, pullArgs(c, t.TempDir())...); code == 0 {
		t.Error("a revoked key still pulls")
	}
}

// rerunChecks runs the queries the quality report of a release stored against the files of the release
// as pulled, and finds the counts the report says.
func rerunChecks(t *testing.T, ctx context.Context, version, bundle string) {
	rep, err := shared.p.Releases.Checks(ctx, version)
	if err != nil {
		t.Fatal(err)
	}
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ran := 0
	for _, r := range rep.Results {
		if r.Query == "" || strings.Contains(r.Query, "../") || !strings.Contains(r.Query, "'data/") {
			continue
		}
		var n int64
		q := strings.ReplaceAll(r.Query, "'data/", "'"+bundle+"/data/")
		if err := db.SQL().QueryRowContext(ctx, q).Scan(&n); err != nil {
			t.Errorf("check %s %s: the stored query does not run on the pulled files: %v", r.Table, r.Name, err)
			continue
		}
		if n != r.Failing {
			t.Errorf("check %s %s: %d failing on the pulled files, the report says %d", r.Table, r.Name, n, r.Failing)
		}
		ran++
	}
	if ran < 10 {
		t.Errorf("only %d stored queries ran again", ran)
	}
}

// tamperedAreCaught changes one byte of a data file, then of the manifest, of a copy of the bundle: verify
// --dir exits 3 and names what differs.
func tamperedAreCaught(t *testing.T, ctx context.Context, bundle string) {
	for _, file := range []string{"data/labels.parquet", release.ManifestName} {
		dir := filepath.Join(t.TempDir(), filepath.Base(bundle))
		if err := os.CopyFS(dir, os.DirFS(bundle)); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 1
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		code, out, errs := osv(t, ctx, "verify", "--dir", dir, "--keys", filepath.Join(filepath.Dir(bundle), "keys"))
		want := file
		if file == release.ManifestName {
			want = "signature"
		}
		if code != 3 || !strings.Contains(errs, want) {
			t.Errorf("one byte of %s changed: exit %d, %s%s; want 3 naming %s", file, code, out, errs, want)
		}
	}
}

// replayedReleaseRefused serves the signed latest release again under a new version: pull refuses it,
// nothing appears, and the ledger says why.
func replayedReleaseRefused(t *testing.T, ctx context.Context, c access.Credentials, latest string) {
	const fake = "98.0.0"
	infos, err := shared.p.Bucket.List(ctx, release.Prefix(latest), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		key := release.Prefix(fake) + strings.TrimPrefix(in.Key, release.Prefix(latest))
		if err := shared.p.Bucket.CopyTo(ctx, in.Key, shared.p.Bucket, key); err != nil {
			t.Fatal(err)
		}
		defer shared.p.Bucket.Remove(context.WithoutCancel(ctx), key)
	}
	if err := shared.p.Releases.RecordDelivery(ctx, release.Delivery{Release: fake, Observatory: "lodi", Status: release.Pending}); err != nil {
		t.Fatal(err)
	}
	defer shared.p.Bucket.Remove(context.WithoutCancel(ctx), "deliveries/"+fake+"/lodi.json")
	defer shared.p.Bucket.Remove(context.WithoutCancel(ctx), lake.AckKey("lodi", fake))
	dir := t.TempDir()
	code, out, errs := osv(t, ctx, pullArgs(c, dir, "--version", fake)...)
	if code != 3 || !strings.Contains(errs, `is release "`+latest+`"`) {
		t.Errorf("pull of a replayed release: exit %d, %s%s; want 3", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, fake)); err == nil {
		t.Error("the replayed release appeared")
	}
	ds, _ := shared.p.Releases.Deliveries(ctx, fake)
	if len(ds) != 1 || ds[0].Status != release.Failed || !strings.Contains(ds[0].Error, "the observatory's pull") {
		t.Errorf("ledger of the replayed release: %+v", ds)
	}
}

// interruptedPullResumes stops a pull after its first file and pulls again: nothing stored is fetched
// twice, and the release ends verified.
func interruptedPullResumes(t *testing.T, ctx context.Context, c access.Credentials, version string) {
	st, err := objectstore.New(objectstore.Config{Endpoint: c.Endpoint, AccessKey: c.AccessKey, SecretKey: c.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pctx, stop := context.WithCancel(ctx)
	opts := pull.Options{Bucket: st.Bucket(c.Bucket), Observatory: "lodi", Dir: dir, Version: version,
		OnFile: func(string, string, bool) { stop() }}
	if _, err := pull.Pull(pctx, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted pull: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, version)); err == nil {
		t.Fatal("an interrupted release appeared")
	}
	opts.OnFile = nil
	res, err := pull.Pull(ctx, opts)
	if err != nil || len(res) != 1 {
		t.Fatalf("resumed pull: %+v, %v", res, err)
	}
	if res[0].Reused != 1 || res[0].Downloaded != res[0].Files-1 {
		t.Errorf("resumed pull: %+v; want the one file already stored kept", res[0])
	}
	// An older release next to it takes, by hash, the files the two share.
	vs := versions(t)
	older := vs[len(vs)-2]
	opts.Version = older
	res, err = pull.Pull(ctx, opts)
	if err != nil || len(res) != 1 || res[0].Reused == 0 {
		t.Errorf("pull of %s beside %s: %+v, %v; want the shared files linked, not downloaded", older, version, res, err)
	}
}

// provinceSlice: Sondrio subscribes to four tables of its province only: its bundle is a signed slice with
// those tables and its rows, reproducible from the release; it pulls that slice; its webhook got a verified
// notice of the release.
func provinceSlice(t *testing.T, ctx context.Context) {
	vs := versions(t)
	latest := vs[len(vs)-1]
	prefix := lake.SlicePrefix("sondrio", latest)
	if _, err := release.VerifySignature(ctx, shared.p.Bucket, prefix); err != nil {
		t.Fatalf("slice signature: %v", err)
	}
	var m release.Manifest
	if err := shared.p.Bucket.GetJSON(ctx, prefix+release.ManifestName, &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range m.Resources {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"changes-json", "changes-md", "inputs", "labour_balances", "labour_events", "labour_flows", "observations"}) || m.Osservatorio.SliceOf == nil {
		t.Errorf("slice tables %v, slice of %+v", names, m.Osservatorio.SliceOf)
	}
	onlySondrio(t, ctx, prefix, m)
	// The same release and selection give the same bytes.
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again, err := shared.p.Releases.Slice(ctx, release.SliceOptions{Version: latest, Observatory: "sondrio-again", DB: db, WorkDir: t.TempDir(),
		Selection: release.Selection{Tables: []string{"labour_flows", "labour_balances", "labour_events", "observations"}, Province: "014"}})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range again.Resources {
		if r.Hash != m.Resources[i].Hash || r.Bytes != m.Resources[i].Bytes {
			t.Errorf("slice made again: %s %s, first %s", r.Name, r.Hash, m.Resources[i].Hash)
		}
	}
	notices := waitNotified(t, ctx, latest, time.Time{}, 1)
	if n := notices[len(notices)-1]; n.Verified != nil || n.Type != "release.published" || n.Data["manifest"] != prefix+release.ManifestName || n.Data["signature"] == nil {
		t.Errorf("notice %+v", n)
	}
	c := credentials(t, ctx, "sondrio")
	dir := t.TempDir()
	if code, out, errs := osv(t, ctx, pullArgs(c, dir, "--json")...); code != 0 || !strings.Contains(out, prefix) {
		t.Errorf("sondrio pull: exit %d, %s%s; want its slice %s", code, out, errs, prefix)
	}
}

// onlySondrio checks with DuckDB that every territorial row of the slice is Sondrio's.
func onlySondrio(t *testing.T, ctx context.Context, prefix string, m release.Manifest) {
	db, err := warehouse.Open(ctx, warehouse.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, r := range m.Resources {
		if r.Format != "parquet" || r.Name == "observations" {
			continue
		}
		for _, f := range r.Files() {
			local := filepath.Join(t.TempDir(), "f.parquet")
			if err := shared.p.Bucket.GetFile(ctx, m.FileKey(prefix, f.Path), local); err != nil {
				t.Fatal(err)
			}
			var other, rows int64
			if err := db.SQL().QueryRowContext(ctx, "SELECT count(*) FILTER (WHERE territory <> '014'), count(*) FROM read_parquet('"+local+"')").Scan(&other, &rows); err != nil {
				t.Fatal(err)
			}
			if other != 0 || rows != f.Rows {
				t.Errorf("%s: %d rows of other territories, %d rows (manifest %d)", f.Path, other, rows, f.Rows)
			}
		}
	}
}

// waitNotified waits for the ledger to say Sondrio was notified of version after since, and returns the
// notices its endpoint got. (Once Sondrio has pulled the release its status stays acknowledged.)
func waitNotified(t *testing.T, ctx context.Context, version string, since time.Time, attempts int) []hookMessage {
	t.Helper()
	d := waitLedger(t, ctx, version, "sondrio", "notified", func(d release.Delivery) bool {
		return d.Notified != nil && !d.Notified.Before(since.Truncate(time.Second)) && d.Error == ""
	})
	if d.NotifyAttempts != attempts {
		t.Errorf("notified after %d attempts, want %d", d.NotifyAttempts, attempts)
	}
	return shared.hooks.messages(version)
}

// waitLedger waits (30 s at most) for an observatory's ledger entry of a release to be as ok wants.
func waitLedger(t *testing.T, ctx context.Context, version, observatory, status string, ok func(release.Delivery) bool) release.Delivery {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds, err := shared.p.Releases.Deliveries(ctx, version)
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(ds, func(d release.Delivery) bool { return d.Observatory == observatory })
		if i >= 0 && ok(ds[i]) {
			return ds[i]
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger of %s for %s: %+v, want %s", observatory, version, ds, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// webhookRetries: an endpoint that fails once is retried on its schedule and the ledger says notified
// after two attempts; one that fails every attempt is disabled, and a replay (which enables it) notifies.
func webhookRetries(t *testing.T, ctx context.Context) {
	vs := versions(t)
	latest := vs[len(vs)-1]
	before := len(shared.hooks.messages(latest))
	shared.hooks.failNext(1)
	start := time.Now()
	if code, out, errs := osv(t, ctx, "deliveries", "replay", latest, "--observatory", "sondrio"); code != 0 {
		t.Fatalf("replay: exit %d %s%s", code, out, errs)
	}
	got := waitNotified(t, ctx, latest, start, 2)[before:]
	if len(got) != 2 || !got[0].Failed || got[1].Failed || got[0].ID != got[1].ID || got[1].Verified != nil {
		t.Errorf("notices after a replay with one failure: %+v; want a failed one then a verified one, same webhook-id", got)
	}

	shared.hooks.failNext(-1)
	if code, out, errs := osv(t, ctx, "deliveries", "replay", latest, "--observatory", "sondrio"); code != 0 {
		t.Fatalf("replay: exit %d %s%s", code, out, errs)
	}
	d := waitLedger(t, ctx, latest, "sondrio", "failed", func(d release.Delivery) bool { return d.NotifyAttempts == 3 && d.Error != "" })
	if !strings.Contains(d.Error, "503") {
		t.Errorf("ledger after every attempt failed: %+v", d)
	}
	// The ledger says the last attempt failed; then the endpoint is disabled (recorded right after).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		st, err := shared.p.Releases.EndpointState(ctx, "sondrio")
		if err == nil && st.DisabledUntil.After(time.Now().Add(50*time.Minute)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("endpoint state %+v, %v; want disabled for an hour", st, err)
		}
	}
	shared.hooks.failNext(0)
	start = time.Now()
	if code, out, errs := osv(t, ctx, "deliveries", "replay", latest, "--observatory", "sondrio"); code != 0 {
		t.Fatalf("replay: exit %d %s%s", code, out, errs)
	}
	waitNotified(t, ctx, latest, start, 1)
	if code, out, _ := osv(t, ctx, "deliveries", latest); code != 0 || !strings.Contains(out, "sondrio") || !strings.Contains(out, "acknowledged") {
		t.Errorf("deliveries %s: exit %d\n%s", latest, code, out)
	}
}

// keyRotation rotates the signing key; the next release is signed with the new key, every earlier one
// still verifies, and a pull trusts the new key beside the old.
func keyRotation(t *testing.T, ctx context.Context) {
	vs := versions(t)
	oldSig, err := release.VerifySignature(ctx, shared.p.Bucket, release.Prefix(vs[len(vs)-1]))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := osv(t, ctx, "keys", "rotate", "--json")
	if code != 0 {
		t.Fatalf("keys rotate: exit %d %s%s", code, out, errs)
	}
	var rotated struct {
		KeyID   string `json:"key_id"`
		Retired string `json:"retired"`
	}
	if err := fromCLI(out, &rotated); err != nil || rotated.Retired != oldSig.KeyID || rotated.KeyID == oldSig.KeyID {
		t.Fatalf("rotate: %s (%v); old key %s", out, err, oldSig.KeyID)
	}
	// The revision of the first value is withdrawn: a patch release.
	shared.sources.set("/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFU3RT/latest", serve("application/xml", dataflow(unemployment, "2025-12-01T23:00:00+0100")))
	shared.sources.set("/eurostat/statistics/1.0/data/"+unemployment, serve("application/json", recorded(t, unemployment)))
	res, err := refresh(t)
	if err != nil || res.Release == nil || res.Release.Skipped || res.Release.Version == vs[len(vs)-1] {
		t.Fatalf("release after the rotation: %+v, %v", res.Release, err)
	}
	sig, err := release.VerifySignature(ctx, shared.p.Bucket, release.Prefix(res.Release.Version))
	if err != nil || sig.KeyID != rotated.KeyID {
		t.Errorf("release %s: signed by %s (%v), want the new key %s", res.Release.Version, sig.KeyID, err, rotated.KeyID)
	}
	for _, v := range vs {
		if code, out, errs := osv(t, ctx, "verify", v); code != 0 {
			t.Errorf("verify %s after the rotation: exit %d\n%s%s", v, code, out, errs)
		}
	}
	if code, out, _ := osv(t, ctx, "keys", "list"); code != 0 || !strings.Contains(out, rotated.KeyID) || !strings.Contains(out, oldSig.KeyID) {
		t.Errorf("keys list: exit %d\n%s", code, out)
	}
}

// embargoedRelease: a refresh asked to publish 8 s later builds its release at once, and neither the
// platform's list nor an observatory's key shows it before then; then it is published and notified.
func embargoedRelease(t *testing.T, ctx context.Context) {
	before := versions(t)
	c := credentials(t, ctx, "bergamo")
	obs, err := objectstore.New(objectstore.Config{Endpoint: c.Endpoint, AccessKey: c.AccessKey, SecretKey: c.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	shared.sources.set("/eurostat/sdmx/2.1/dataflow/ESTAT/LFST_R_LFU3RT/latest", serve("application/xml", dataflow(unemployment, "2025-12-02T23:00:00+0100")))
	shared.sources.set("/eurostat/statistics/1.0/data/"+unemployment, serve("application/json", reviseFirst(t, recorded(t, unemployment))))
	// Bergamo chooses, with the CLI, Eurostat's observations only: the release comes to it as a slice.
	if code, out, errs := osv(t, ctx, "observatory", "subscribe", "bergamo", "--tables", "observations", "--sources", "eurostat"); code != 0 || !strings.Contains(out, "tables observations; sources eurostat") {
		t.Fatalf("subscribe: exit %d %s%s", code, out, errs)
	}
	defer osv(t, ctx, "observatory", "subscribe", "bergamo", "--all")
	until := time.Now().Add(8 * time.Second)
	run, err := shared.p.StartRefresh(ctx, "eurostat", platform.RefreshOptions{PublishAt: until})
	if err != nil {
		t.Fatal(err)
	}
	staged := false
	for time.Now().Before(until.Add(-time.Second)) {
		if vs := versions(t); len(vs) != len(before) {
			t.Fatalf("published before the embargo: %v", vs)
		}
		if infos, _ := shared.p.Bucket.List(ctx, "staging/", true); len(infos) > 0 {
			staged = true
			if _, err := obs.Bucket(c.Bucket).List(ctx, "staging/", true); err == nil {
				t.Error("an observatory key lists the staged release")
			}
			if _, err := obs.Bucket(c.Bucket).Get(ctx, infos[0].Key); err == nil {
				t.Errorf("an observatory key reads %s before the embargo", infos[0].Key)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	res, err := platform.WaitRefresh(ctx, run)
	if err != nil || res.Release == nil || res.Release.Version == "" || res.Release.Skipped {
		t.Fatalf("embargoed refresh: %+v, %v", res.Release, err)
	}
	if !staged {
		t.Error("the release was not built before its embargo")
	}
	if time.Now().Before(until) || res.Release.Embargoed.IsZero() {
		t.Errorf("published %+v before %s", res.Release, until)
	}
	notices := waitNotified(t, ctx, res.Release.Version, until, 1)
	if len(notices) == 0 {
		t.Error("no notice of the embargoed release")
	}
	var slice release.Manifest
	if err := shared.p.Bucket.GetJSON(ctx, lake.SlicePrefix("bergamo", res.Release.Version)+release.ManifestName, &slice); err != nil {
		t.Fatalf("bergamo's slice: %v", err)
	}
	var names []string
	for _, r := range slice.Resources {
		names = append(names, r.Name)
	}
	for _, s := range slice.Sources {
		if s.Source != "eurostat" {
			t.Errorf("bergamo's slice credits %s", s.Source)
		}
	}
	if !slices.Equal(names, []string{"observations", "changes-json", "changes-md", "inputs"}) {
		t.Errorf("bergamo's slice holds %v, want Eurostat's observations and the change log", names)
	}
}

package lake

import (
	"fmt"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	snap := SnapshotKey("istat", "x", "observations", sha, "0a1b2c3d")
	if snap != fmt.Sprintf("harmonized/istat/x/observations-abababababababab-0a1b2c3d-h%d.parquet", HarmonizerVersion) {
		t.Errorf("snapshot key %s", snap)
	}
	if ReportKey(snap) != strings.TrimSuffix(snap, ".parquet")+".report.json" {
		t.Errorf("report key %s", ReportKey(snap))
	}
	if SidecarKey(RawKey("istat", "x", sha, "xml")) != "raw/istat/x/"+sha+".xml.meta.json" {
		t.Error("sidecar key")
	}
	if TokenKey("0123456789ab") != "identities/tokens/0123456789ab.json" || StateKey("istat", "x") != "state/istat/x.json" {
		t.Error("token or state key")
	}
}

// A state written before segments, or of a dataset that is one raw object, is one segment.
func TestEventSegments(t *testing.T) {
	old := State{RawKey: "raw/a", RawSHA256: "a", Rows: 7, SnapshotKey: "harmonized/e.parquet", Parts: map[string]string{"labour_flows_part": "harmonized/f.parquet"}}
	got := old.EventSegments()
	if len(got) != 1 || got[0].RawKey != "raw/a" || got[0].SnapshotParts[0] != "harmonized/e.parquet" || got[0].PartRows[0] != 7 || got[0].FlowsPart != "harmonized/f.parquet" {
		t.Errorf("segments of an old state: %+v", got)
	}
	segs := []Segment{{RawKey: "raw/a"}, {RawKey: "raw/b"}}
	if got := (State{RawKey: "raw/b", Segments: segs}).EventSegments(); len(got) != 2 || got[1].RawKey != "raw/b" {
		t.Errorf("segments: %+v", got)
	}
}

// A chunk fetched again with the same bytes changes nothing; a new range is added in period order; a range
// fetched again with other bytes replaces the old one.
func TestAddHistory(t *testing.T) {
	var st State
	if n := st.AddHistory(Chunk{From: "2019", To: "2019", RawSHA256: "b"}, Chunk{From: "2017", To: "2017", RawSHA256: "a"}); n != 2 {
		t.Errorf("%d changed, want 2", n)
	}
	if n := st.AddHistory(Chunk{From: "2017", To: "2017", RawSHA256: "a"}); n != 0 {
		t.Errorf("the same chunk again changed %d", n)
	}
	if n := st.AddHistory(Chunk{From: "2019", To: "2019", RawSHA256: "c"}, Chunk{From: "2018", To: "2018", RawSHA256: "d"}); n != 2 {
		t.Errorf("%d changed, want 2", n)
	}
	var got []string
	for _, c := range st.History {
		got = append(got, c.From+c.RawSHA256)
	}
	if strings.Join(got, ",") != "2017a,2018d,2019c" {
		t.Errorf("history %v", got)
	}
	if !st.Covers("2018", "2018", "") || st.Covers("2018", "2019", "") {
		t.Error("Covers")
	}
	// A range harmonized by an older harmonizer is not held: a backfill makes it again.
	sha := strings.Repeat("d", 64)
	st = State{Source: "istat", Dataset: "x", History: []Chunk{{From: "2018", To: "2018", Settings: "s", RawSHA256: sha,
		SnapshotKey: strings.Replace(SnapshotKey("istat", "x", "observations", sha, "s"), fmt.Sprintf("-h%d.", HarmonizerVersion), "-h1.", 1)}}}
	if st.Covers("2018", "2018", "s") {
		t.Error("a range made by harmonizer 1 is held")
	}
	st.History[0].SnapshotKey = SnapshotKey("istat", "x", "observations", sha, "s")
	if !st.Covers("2018", "2018", "s") {
		t.Error("a range made by this harmonizer is not held")
	}
}

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

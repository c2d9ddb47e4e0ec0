package release

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/osservatorio-lombardia/osservatorio/lake"
)

func TestDiffAndBump(t *testing.T) {
	prev := []Source{
		{Source: "eurostat", Dataset: "a", SnapshotKey: "a1", LastPeriod: "2023"},
		{Source: "eurostat", Dataset: "b", SnapshotKey: "b1", LastPeriod: "2023"},
	}
	tests := []struct {
		name     string
		next     []Source
		wantBump string
		want     Changes
	}{
		{"revision", []Source{{Source: "eurostat", Dataset: "a", SnapshotKey: "a2", LastPeriod: "2023"}, prev[1]},
			"patch", Changes{UpdatedDatasets: []string{"eurostat/a"}}},
		{"new period", []Source{{Source: "eurostat", Dataset: "a", SnapshotKey: "a2", LastPeriod: "2024"}, prev[1]},
			"minor", Changes{UpdatedDatasets: []string{"eurostat/a"}, NewPeriods: []string{"eurostat/a: 2024"}}},
		{"new dataset", append(append([]Source{}, prev...), Source{Source: "istat", Dataset: "c", SnapshotKey: "c1"}),
			"minor", Changes{AddedDatasets: []string{"istat/c"}}},
		{"removed dataset", prev[:1], "major", Changes{RemovedDatasets: []string{"eurostat/b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, bump := Diff(prev, tt.next)
			if bump != tt.wantBump {
				t.Errorf("bump = %q, want %q", bump, tt.wantBump)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNextVersion(t *testing.T) {
	tests := []struct{ prev, bump, want string }{
		{"", "major", "1.0.0"}, {"1.2.3", "patch", "1.2.4"}, {"1.2.3", "minor", "1.3.0"}, {"1.2.3", "major", "2.0.0"},
	}
	for _, tt := range tests {
		if got, err := NextVersion(tt.prev, tt.bump); err != nil || got != tt.want {
			t.Errorf("NextVersion(%q, %q) = %q, %v; want %q", tt.prev, tt.bump, got, err, tt.want)
		}
	}
}

func TestInputsDigestIgnoresOrder(t *testing.T) {
	a := []lake.State{{Source: "s", Dataset: "a", SnapshotKey: "k1"}, {Source: "s", Dataset: "b", SnapshotKey: "k2"}}
	b := []lake.State{a[1], a[0]}
	if InputsDigest(a) != InputsDigest(b) {
		t.Error("digest depends on order")
	}
	c := []lake.State{a[0], {Source: "s", Dataset: "b", SnapshotKey: "k3"}}
	if InputsDigest(a) == InputsDigest(c) {
		t.Error("digest ignores a changed snapshot")
	}
}

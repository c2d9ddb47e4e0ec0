package activities

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestCleanWorkDirRemovesOnlyStaleLeftovers(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-4 * time.Hour)
	for name, age := range map[string]time.Time{"spool-1": old, "harmonize-2": old, "page-3": old, "spool-young": time.Now(), "keep.txt": old} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, age, age)
	}
	os.MkdirAll(filepath.Join(dir, "raw-cache"), 0o755)
	stale := filepath.Join(dir, "raw-cache", "abc")
	os.WriteFile(stale, []byte("x"), 0o644)
	os.Chtimes(stale, time.Now().Add(-25*time.Hour), time.Now().Add(-25*time.Hour))
	if n := CleanWorkDir(dir); n != 4 {
		t.Errorf("removed %d, want 4", n)
	}
	for _, kept := range []string{"spool-young", "keep.txt"} {
		if _, err := os.Stat(filepath.Join(dir, kept)); err != nil {
			t.Errorf("%s removed", kept)
		}
	}
}

func TestObservatoryTargetsComeFromTheConfiguration(t *testing.T) {
	a := &Activities{Observatories: []Observatory{{ID: "milano", Bucket: "obs-milano", Prefix: "in/"}}}
	o, err := a.observatory("milano")
	if err != nil || target(o, "1.2.0") != "obs-milano/in/releases/1.2.0/" {
		t.Errorf("%+v %v", o, err)
	}
	if _, err := a.observatory("../../state"); err == nil {
		t.Error("an unconfigured observatory was accepted")
	}
}

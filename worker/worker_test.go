package worker

import (
	"context"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/config"
	"github.com/osservatorio-lombardia/osservatorio/deploy"
	"github.com/osservatorio-lombardia/osservatorio/objectstore"
)

// Every known source has a connector, every configured dataset reaches the activities with its settings,
// and every source is credited.
func TestActivitiesFromTheDefaultConfiguration(t *testing.T) {
	cfg, err := config.Parse("default", deploy.DefaultConfig, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	for name := range config.KnownSources {
		if _, err := Connector(name, config.Source{BaseURL: "http://127.0.0.1:1"}, nil); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Connector("atlantide", config.Source{}, nil); err == nil {
		t.Error("an unknown source got a connector")
	}
	store, err := objectstore.New(objectstore.Config{Endpoint: "127.0.0.1:1", AccessKey: "a", SecretKey: "b"})
	if err != nil {
		t.Fatal(err)
	}
	acts, err := Activities(context.Background(), cfg, store, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range cfg.Sources {
		s, ok := acts.Sources[name]
		if !ok || s.Conn.Name() != name || s.HTTP == nil || len(s.Datasets) != len(src.Datasets) {
			t.Errorf("%s: %+v", name, s)
			continue
		}
		if s.Credit.License.Name == "" || s.Credit.Attribution == "" {
			t.Errorf("%s is not credited: %+v", name, s.Credit)
		}
		for i, d := range src.Datasets {
			if got := s.Datasets[i]; got.ID != d.ID || got.Source != name || got.Unit != d.Unit || got.Since != d.Since {
				t.Errorf("%s/%s reaches the activities as %+v", name, d.ID, got)
			}
		}
	}
	if len(acts.Observatories) != len(cfg.Observatories) {
		t.Errorf("%d observatories, want %d", len(acts.Observatories), len(cfg.Observatories))
	}
}

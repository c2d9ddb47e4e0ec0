package lombardia

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
	"github.com/osservatorio-lombardia/osservatorio/fault"
	"github.com/osservatorio-lombardia/osservatorio/httpfetch"
	"github.com/osservatorio-lombardia/osservatorio/mirror"
)

func TestCheckAndRequestAgainstTheMirror(t *testing.T) {
	var token string
	m := mirror.New(mirror.Recorded())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token = r.Header.Get("X-App-Token")
		m.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s := New(srv.URL+"/lombardia", httpfetch.New(httpfetch.Options{}), Options{AppToken: "secret-token"})
	ds := connectors.Dataset{Source: Name, ID: "attivati", Code: "qbau-cyuc"}
	sig, err := s.Check(context.Background(), ds)
	if err != nil {
		t.Fatal(err)
	}
	if sig.Token != "rowsUpdatedAt=1761904800" {
		t.Errorf("token = %q", sig.Token)
	}
	if token != "secret-token" {
		t.Errorf("X-App-Token = %q", token)
	}
	req, _ := s.DataRequest(ds)
	if want := srv.URL + "/lombardia/api/views/qbau-cyuc/rows.csv?accessType=DOWNLOAD"; req.URL != want {
		t.Errorf("url = %s", req.URL)
	}
	if s.EventType(ds) != "attivazione" {
		t.Errorf("event type = %q", s.EventType(ds))
	}
}

func TestInspect(t *testing.T) {
	s := New("", nil, Options{})
	ds := connectors.Dataset{ID: "cessati"}
	for name, tt := range map[string]struct {
		status int
		ct     string
		body   string
		bad    bool
	}{
		"csv":         {200, "text/csv", "DATA,GENERE\n", false},
		"html":        {200, "text/html", "<html>", true},
		"socrata 403": {403, "application/json", `{"code":"authentication_required","error":true}`, true},
		"json":        {200, "application/json", `{"error":true}`, true},
		"empty":       {200, "text/csv", "", true},
	} {
		err := s.Inspect(ds, tt.status, http.Header{"Content-Type": {tt.ct}}, []byte(tt.body))
		if got := fault.Is(err, fault.BadInput); got != tt.bad {
			t.Errorf("%s: %v", name, err)
		}
	}
}

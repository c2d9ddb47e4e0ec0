package platform

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/osservatorio-lombardia/osservatorio/config"
)

func TestConnection(t *testing.T) {
	if conn, creds, err := connection(config.Temporal{Address: "127.0.0.1:7233"}); err != nil || conn.TLS != nil || creds != nil {
		t.Errorf("loopback: %+v %v %v; want plain", conn, creds, err)
	}
	conn, creds, err := connection(config.Temporal{APIKey: "key"})
	if err != nil || conn.TLS == nil || creds == nil {
		t.Errorf("API key: %+v %v %v; want TLS with credentials", conn, creds, err)
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	conn, _, err = connection(config.Temporal{TLS: &config.TemporalTLS{CA: ca, ServerName: "example.com"}})
	if err != nil || conn.TLS.RootCAs == nil || conn.TLS.ServerName != "example.com" {
		t.Errorf("private CA: %+v %v", conn.TLS, err)
	}
	if _, _, err := connection(config.Temporal{TLS: &config.TemporalTLS{Cert: ca, Key: filepath.Join(t.TempDir(), "none.pem")}}); err == nil {
		t.Error("a missing key file: no error")
	}
	if _, _, err := connection(config.Temporal{TLS: &config.TemporalTLS{CA: "/nonexistent"}}); err == nil {
		t.Error("a missing CA file: no error")
	}
}

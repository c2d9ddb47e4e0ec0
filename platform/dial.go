package platform

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/osservatorio-lombardia/osservatorio/config"
)

// connection returns the TLS and credentials of the Temporal connection the configuration asks for:
// none on loopback, TLS (with mTLS or a private CA) and an API key for Temporal Cloud or a server behind
// TLS.
func connection(t config.Temporal) (client.ConnectionOptions, client.Credentials, error) {
	var conn client.ConnectionOptions
	var creds client.Credentials
	if t.TLS == nil && t.APIKey == "" {
		return conn, nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c := t.TLS; c != nil {
		cfg.ServerName = c.ServerName
		if c.Cert != "" {
			pair, err := tls.LoadX509KeyPair(c.Cert, c.Key)
			if err != nil {
				return conn, nil, fmt.Errorf("temporal.tls: %w", err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		}
		if c.CA != "" {
			pem, err := os.ReadFile(c.CA)
			if err != nil {
				return conn, nil, fmt.Errorf("temporal.tls.ca: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return conn, nil, fmt.Errorf("temporal.tls.ca %s: no PEM certificate", c.CA)
			}
			cfg.RootCAs = pool
		}
	}
	conn.TLS = cfg
	if t.APIKey != "" {
		creds = client.NewAPIKeyStaticCredentials(t.APIKey)
	}
	return conn, creds, nil
}

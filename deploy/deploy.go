// Package deploy holds the deployment files. Its example configuration, osservatorio.yaml, is also the
// embedded default that `osservatorio dev` runs with when no --config is given.
package deploy

import _ "embed"

// DefaultConfig is osservatorio.yaml: the embedded default configuration.
//
//go:embed osservatorio.yaml
var DefaultConfig []byte

// DefaultConfigName is the name errors in DefaultConfig are reported under.
const DefaultConfigName = "deploy/osservatorio.yaml (embedded)"

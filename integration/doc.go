// Package integration holds the end-to-end tests: a real Temporal dev server and a real MinIO (started from
// bin/, built by `make tools`), real DuckDB, the worker in process, and the sources served by an httptest
// server replaying recorded responses, with faults injected per URL.
package integration

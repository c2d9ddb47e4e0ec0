// Package connectorstest holds what tests of connectors share: an in-memory connectors.Sink.
package connectorstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/osservatorio-lombardia/osservatorio/connectors"
)

// MemSink is a connectors.Sink in memory, for testing a connector's Download without the Fetch activity.
type MemSink struct {
	Buf         bytes.Buffer
	Base        map[string]string  // the raw objects AppendRaw may copy, by key
	Resume      *connectors.Cursor // the checkpoint Resumed hands back, if any
	Checkpoints []connectors.Cursor
	URLs        []string // the requests the connector said it sent
	Appends     []string // the raw objects it appended
}

// Resumed implements connectors.Sink.
func (m *MemSink) Resumed() (connectors.Cursor, bool) {
	if m.Resume == nil {
		return connectors.Cursor{}, false
	}
	return *m.Resume, true
}

// AppendRaw implements connectors.Sink.
func (m *MemSink) AppendRaw(_ context.Context, key string, drop *connectors.RowFilter) (int64, error) {
	base, ok := m.Base[key]
	if !ok {
		return 0, fmt.Errorf("no raw object %q in this sink", key)
	}
	m.Appends = append(m.Appends, key)
	kept, _, err := connectors.FilterCSV(&m.Buf, strings.NewReader(base), drop)
	return kept, err
}

// Page implements connectors.Sink.
func (m *MemSink) Page(_ context.Context, body io.Reader, next func() connectors.Cursor) error {
	if _, err := io.Copy(&m.Buf, body); err != nil {
		return err
	}
	m.Checkpoints = append(m.Checkpoints, next())
	return nil
}

// Sent implements connectors.Sink.
func (m *MemSink) Sent(u string) { m.URLs = append(m.URLs, u) }

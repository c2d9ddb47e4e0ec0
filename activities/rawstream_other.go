//go:build !unix

package activities

import (
	"context"
	"errors"
)

// rawStream is not available without named pipes: the raw object is downloaded to a file first.
type rawStream struct{ path string }

func (a *Activities) streamRaw(context.Context, string, string, string, string) (*rawStream, error) {
	return nil, errors.New("raw streams need named pipes")
}

func (s *rawStream) finish() error { return nil }

// streamsRaw says whether this platform feeds raw objects through named pipes.
const streamsRaw = false

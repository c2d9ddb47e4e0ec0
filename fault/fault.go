// Package fault classifies failures into the small closed set the platform reasons about. Every error that
// crosses an activity boundary is classified once, here, so that Temporal knows what to retry and a user
// reads which source, which dataset and why.
package fault

import (
	"errors"
	"fmt"
)

// Kind is the class of a failure.
type Kind string

const (
	// BadInput is a payload the platform cannot accept (malformed, truncated, HTML instead of data, an
	// unknown code, too large). Retrying does not help; the raw bytes are kept for inspection.
	BadInput Kind = "BadInput"
	// SourceUnavailable is a source that did not answer or answered with a server error. Retried.
	SourceUnavailable Kind = "SourceUnavailable"
	// Deferred is a source that accepted the request but will deliver later (Eurostat's asynchronous
	// extraction). Retried after a pause.
	Deferred Kind = "Deferred"
	// QualityGateFailed is data that parsed but failed an error-level check. Not retried.
	QualityGateFailed Kind = "QualityGateFailed"
	// Conflict is a lost race for a name that must be unique (a release version). Retried.
	Conflict Kind = "Conflict"
)

// NonRetryable lists the kinds Temporal must not retry; activity options name it.
var NonRetryable = []string{string(BadInput), string(QualityGateFailed)}

// Error is a classified failure with the source and dataset it concerns.
type Error struct {
	Kind    Kind
	Source  string
	Dataset string
	Reason  string
	Err     error
}

func (e *Error) Error() string {
	msg := string(e.Kind)
	if e.Source != "" {
		msg += " " + e.Source
		if e.Dataset != "" {
			msg += "/" + e.Dataset
		}
	}
	detail := e.Reason
	if e.Err != nil {
		if detail != "" {
			detail += ": "
		}
		detail += e.Err.Error()
	}
	return msg + ": " + detail
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns a classified error whose reason is formatted.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Err: fmt.Errorf(format, args...)}
}

// Wrap classifies err with a reason.
func Wrap(kind Kind, reason string, err error) *Error {
	return &Error{Kind: kind, Reason: reason, Err: err}
}

// In sets the source and dataset of err if err is a *Error that lacks them, and returns it.
func In(err error, source, dataset string) error {
	var fe *Error
	if errors.As(err, &fe) {
		if fe.Source == "" {
			fe.Source = source
		}
		if fe.Dataset == "" {
			fe.Dataset = dataset
		}
	}
	return err
}

// KindOf returns the kind of err, or "" when err is not classified.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return ""
}

// Is reports whether err is classified as kind.
func Is(err error, kind Kind) bool { return KindOf(err) == kind }

package kinesisbatch

import (
	"errors"
)

// Class is what the Processor does with a failed record.
type Class int

const (
	// ClassTransient: retry within the invocation while the retry policy
	// and the time allow, then report the record as a batch item failure.
	ClassTransient Class = iota
	// ClassPermanent: write the record to the quarantine and acknowledge it;
	// if the quarantine write fails, report it as a batch item failure.
	ClassPermanent
)

func (c Class) String() string {
	if c == ClassPermanent {
		return "permanent"
	}
	return "transient"
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

type transientError struct{ err error }

func (e *transientError) Error() string { return e.err.Error() }
func (e *transientError) Unwrap() error { return e.err }

// Permanent marks err as permanent: retrying cannot fix it (the record is
// malformed or invalid). The record is quarantined and acknowledged.
// Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// Transient marks err as transient: the same record may succeed later
// (throttling, timeouts, conflicts). Unmarked errors are treated as transient
// already; Transient documents intent and overrides a Permanent wrapped
// inside. Transient(nil) is nil.
func Transient(err error) error {
	if err == nil {
		return nil
	}
	return &transientError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with
// Permanent (or is an *AggregationError) before any Transient mark.
func IsPermanent(err error) bool {
	for err != nil {
		switch e := err.(type) {
		case *permanentError, *AggregationError:
			return true
		case *transientError:
			return false
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				if IsPermanent(inner) {
					return true
				}
			}
			return false
		}
		err = errors.Unwrap(err)
	}
	return false
}

// DefaultClassify is the classification used when Config.Classify is nil:
// errors marked Permanent are permanent; everything else, including
// context errors and *PanicError, is transient.
func DefaultClassify(err error) Class {
	if IsPermanent(err) {
		return ClassPermanent
	}
	return ClassTransient
}

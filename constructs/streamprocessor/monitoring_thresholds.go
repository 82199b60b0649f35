package streamprocessor

import (
	"math"
	"time"
)

// Threshold derivation for the "falling behind" and "failed data" alarms.
//
// A record in a Kinesis stream has two deadlines. The event source mapping
// gives up on it when it is older than the mapping's maximum record age (it
// then goes to the on-failure destination, which holds only the sequence
// range, not the data). The stream deletes it when it is older than the
// retention period. So:
//
//	timeToDiscard = min(maxRecordAge, retention)   (retention if no max age)
//	redriveWindow = retention - timeToDiscard       (time to re-read a batch
//	                                                 described in the DLQ)
//
// An iterator-age alarm is only useful if it fires while there is still time
// to act, so it fires at a fraction of timeToDiscard, less the time the alarm
// itself needs to notice (evaluation periods x period):
//
//	iteratorAge = fraction * timeToDiscard - detectionDelay
//	              (never below fraction * timeToDiscard / 2)
//
// The DLQ's oldest-message alarm fires at half the redrive window, leaving the
// other half to run `streamctl redrive` before the records expire from the
// stream; never below minDLQAgeThreshold.

// defaultIteratorAgeFraction is the share of the time before records are
// discarded at which the iterator-age alarms fire.
const defaultIteratorAgeFraction = 0.5

// minDLQAgeThreshold is the floor of the DLQ oldest-message alarm: when the
// redrive window is (nearly) zero, alarm as soon as SQS reports the age.
const minDLQAgeThreshold = 5 * time.Minute

// derivedThresholds are the alarm thresholds that follow from the stream's
// retention and the mapping's maximum record age.
type derivedThresholds struct {
	// TimeToDiscard is how old a record may get before the pipeline stops
	// trying to process it (min of max record age and retention).
	TimeToDiscard time.Duration
	// RedriveWindow is how long a batch described in the DLQ can still be
	// re-read from the stream.
	RedriveWindow time.Duration
	// IteratorAge is the threshold of both iterator-age alarms.
	IteratorAge time.Duration
	// DLQOldestMessageAge is the threshold of the DLQ age alarm.
	DLQOldestMessageAge time.Duration
}

// deriveThresholds computes the thresholds. maxRecordAge <= 0 means "no
// maximum" (the mapping retries until the record expires); fraction outside
// (0, 1) is replaced by defaultIteratorAgeFraction; detectionDelay is how long
// the iterator-age alarm needs to go off once the threshold is crossed.
func deriveThresholds(retention, maxRecordAge time.Duration, fraction float64, detectionDelay time.Duration) derivedThresholds {
	if fraction <= 0 || fraction >= 1 || math.IsNaN(fraction) {
		fraction = defaultIteratorAgeFraction
	}
	discard := retention
	if maxRecordAge > 0 && maxRecordAge < retention {
		discard = maxRecordAge
	}
	target := time.Duration(float64(discard) * fraction)
	iter := target - detectionDelay
	if iter < target/2 {
		iter = target / 2
	}
	window := retention - discard
	dlq := window / 2
	if dlq < minDLQAgeThreshold {
		dlq = minDLQAgeThreshold
	}
	return derivedThresholds{
		TimeToDiscard:       discard,
		RedriveWindow:       window,
		IteratorAge:         iter.Truncate(time.Second),
		DLQOldestMessageAge: dlq.Truncate(time.Second),
	}
}

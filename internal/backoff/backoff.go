// Package backoff is the wait between attempts of the retry loops in this
// module: exponential, capped, with full jitter.
//
// Full jitter (uniform in [0, ceiling)) rather than equal jitter (half the
// ceiling plus a uniform half): it is what aws-sdk-go-v2's standard retryer
// does, which functions/awsjson mirrors, and of the two it spreads out the
// retries of many clients throttled at once (concurrent Lambdas, the
// store's concurrent readers) the most, for the least total wait (AWS
// Architecture Blog, "Exponential Backoff And Jitter"). The price, a retry
// that may come at once, is small where callers bound their attempts.
//
// It depends on the standard library only (functions/awsjson may not link
// anything else).
package backoff

import (
	"math/rand/v2"
	"time"
)

// Ceiling is the longest wait before retry number retry (1 = before the
// second attempt): base doubled retry-1 times, at most limit, without
// overflow. It is 0 if base or limit is not positive.
func Ceiling(retry int, base, limit time.Duration) time.Duration {
	if base <= 0 || limit <= 0 {
		return 0
	}
	shift := max(retry-1, 0)
	if shift < 63 && base <= limit>>shift {
		return base << shift
	}
	return limit
}

// Jittered is a random wait before retry number retry: uniform in
// [0, Ceiling(retry, base, limit)).
func Jittered(retry int, base, limit time.Duration) time.Duration {
	c := Ceiling(retry, base, limit)
	if c <= 0 {
		return 0
	}
	return rand.N(c)
}

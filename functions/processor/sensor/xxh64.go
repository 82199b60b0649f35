package sensor

import "github.com/streamproc/streamproc/functions/eventtime"

// HashEventID returns the 64-bit identity the engine keeps for an event id:
// eventtime's XXH64 (seed 0) of the id's bytes, after JSON unescaping. The
// value is persisted with every window, so it must never change (the test
// vectors hold it to the XXH64 specification).
func HashEventID(id []byte) uint64 { return eventtime.HashIDBytes(id) }

// internMul is the decoder's intern-cache hash multiplier: XXH64's PRIME64_1,
// an odd constant with well-mixed bits.
const internMul uint64 = 11400714785074694791

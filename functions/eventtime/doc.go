// Package eventtime is a keyed event-time window engine for Kinesis
// consumer Lambdas: records are assigned to tumbling or hopping windows by
// their event time, aggregated exactly once into a Store, and each window
// publishes one final result when the watermark passes its end, numbered
// corrections for records that arrive within the allowed lateness, and sends
// records that arrive later than that to a late side output with their
// payload.
//
// # Watermarks
//
// A shard's watermark is the highest event time seen on it minus the
// declared out-of-orderness bound. The stream's watermark is the lowest over
// the open shards that are active; a shard whose latest batch is older than
// the idle timeout (processing time) stops holding it back, and a parent
// shard closed by a split or merge drops out once its children start. The
// stored stream watermark only moves forward. Records of a batch are judged
// against the stream watermark stored by the latest Fire.
//
// # Firing
//
// A batch reads the stream watermark and its own shard's state, and fires
// only when it moved its shard's watermark across a window's end or close
// (or is the shard's first). A firing holds a lease on the stream, so that
// the shards crossing a boundary together fire it once; Fire on a schedule
// covers idle streams and publishes corrections made between boundaries.
//
// # Exactly once
//
// Every window's state holds the hashes (XXH64, HashID) of the records
// applied to it and of those sent late for it, and changes only by a write
// conditioned on its version. A record's fate in a window (applied, or late)
// is that single write: a redelivery finds the id and does nothing, however
// far the watermark moved meanwhile. Results are reserved in the window's
// state (revision and content) before they are published and confirmed
// after, so a retry publishes the same revision with the same content and
// the same ID (ResultID).
//
// See docs/engine.md for the concepts, the guarantees, the DynamoDB layout
// and its cost.
package eventtime

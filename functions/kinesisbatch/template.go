package kinesisbatch

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// recordTemplate is the exact text of a record as Lambda writes it, learned
// from a record the general path decoded: compact JSON, fields in Lambda's
// order, and the values that repeat in every record of a shard (schema
// version, event source, version, name, role, region, stream ARN, shard id)
// built in. A record whose text matches it byte for byte between the
// variable values (partition key, sequence number, data, arrival time)
// decodes to exactly what the general path would give, with six memory
// comparisons instead of a dozen keys matched and values scanned. Anything
// else (other order, whitespace, escapes, unknown or missing fields,
// encryptionType, another shard) misses at the first differing byte and takes
// the general path.
type recordTemplate struct {
	ok bool
	// Constant text around the variable values:
	// s1 pk s2 seq s3 data s4 timestamp s5 seq s6
	s1, s2, s3, s4, s5, s6 []byte
	// Values of the constant fields, as the general path decoded them.
	schema, source, version, name, role, region, arn string
	shardLen                                         int // len("shardId-...:")
}

// maxLearn bounds how often one Decode rebuilds the template, so an event
// that never matches (pretty-printed, say) costs a few allocations, not one
// per record.
const maxLearn = 4

// learnTemplate builds the template from the interned values and the shard
// of the record just decoded, if they are all plain (no escapes).
func (d *Decoder) learnTemplate() {
	if d.learned >= maxLearn {
		return
	}
	d.learned++
	t := &d.tmpl
	t.ok = false
	raw := func(slot int) []byte {
		b := d.internRaw[slot]
		if b == nil {
			return nil
		}
		return b[:len(b)-1] // without the closing quote
	}
	schema, source, version, name := raw(inSchemaVersion), raw(inEventSource), raw(inEventVersion), raw(inEventName)
	role, region, arn := raw(inInvokeIdentityARN), raw(inAWSRegion), raw(inEventSourceARN)
	if schema == nil || source == nil || version == nil || name == nil || role == nil || region == nil || arn == nil || d.shardRaw == nil {
		return
	}
	cat := func(parts ...[]byte) []byte { return padded(bytes.Join(parts, nil)) }
	t.s1 = cat([]byte(`{"kinesis":{"kinesisSchemaVersion":"`), schema, []byte(`","partitionKey":"`))
	t.s2 = padded([]byte(`","sequenceNumber":"`))
	t.s3 = padded([]byte(`","data":"`))
	t.s4 = padded([]byte(`","approximateArrivalTimestamp":`))
	t.s5 = cat([]byte(`},"eventSource":"`), source, []byte(`","eventVersion":"`), version, []byte(`","eventID":"`), d.shardRaw)
	t.s6 = cat([]byte(`","eventName":"`), name, []byte(`","invokeIdentityArn":"`), role,
		[]byte(`","awsRegion":"`), region, []byte(`","eventSourceARN":"`), arn, []byte(`"}`))
	t.schema, t.source, t.version, t.name = d.intern[inSchemaVersion], d.intern[inEventSource], d.intern[inEventVersion], d.intern[inEventName]
	t.role, t.region, t.arn = d.intern[inInvokeIdentityARN], d.intern[inAWSRegion], d.intern[inEventSourceARN]
	t.shardLen = len(d.shardRaw)
	t.ok = true
}

// plainString returns the end of the string whose content starts at p[j]
// (just after its opening quote) if it has no escapes, control characters
// or invalid UTF-8, and -1 otherwise. end is the index of the closing quote.
func (d *Decoder) plainString(j int) int {
	flags, end, err := d.scanString(j - 1)
	if err != nil || flags != 0 {
		return -1
	}
	return end - 1
}

// plainASCII returns the index of the closing quote of the string whose
// content starts at p[j] if every byte before it is printable ASCII other
// than '\\', and -1 otherwise (scanString decides those: valid UTF-8 is
// plain too).
func plainASCII(p []byte, j int) int {
	for j+8 <= len(p) {
		x := binary.LittleEndian.Uint64(p[j:])
		q := x ^ (lsb * '"')
		b := x ^ (lsb * '\\')
		m := (((q - lsb) &^ q) | ((b - lsb) &^ b) | ((x - lsb*0x20) &^ x) | x) & msb
		if m != 0 {
			// The lowest flagged byte is exact (no borrow reaches it).
			j += bits.TrailingZeros64(m) >> 3
			if p[j] == '"' {
				return j
			}
			return -1
		}
		j += 8
	}
	for ; j < len(p); j++ {
		switch c := p[j]; {
		case c == '"':
			return j
		case c == '\\' || c < 0x20 || c >= 0x80:
			return -1
		}
	}
	return -1
}

// digitString returns the index of the closing quote of the string whose
// content starts at p[j] if it holds only ASCII digits (a sequence number),
// and -1 otherwise.
func digitString(p []byte, j int) int {
	const nib = lsb * 0xf0
	for j+8 <= len(p) {
		x := binary.LittleEndian.Uint64(p[j:])
		// Every byte is 0x3X, and stays so when 6 is added to it: X <= 9.
		// No carry crosses bytes when the high nibbles are all 3.
		if x&nib != lsb*'0' || (x+lsb*6)&nib != lsb*'0' {
			break
		}
		j += 8
	}
	for ; j < len(p) && p[j] >= '0' && p[j] <= '9'; j++ {
	}
	if j < len(p) && p[j] == '"' {
		return j
	}
	return -1
}

// templateRecord decodes the record at p[i] through the template. It returns
// false, having changed nothing, when the record does not match. fresh means
// r holds stale data to overwrite entirely.
func (d *Decoder) templateRecord(i int, r *Record, fresh bool) (int, bool) {
	t := &d.tmpl
	p := d.p
	if !t.ok || !eqAt(p, i, t.s1) {
		return i, false
	}
	j := i + len(t.s1)
	pk := j
	if k := plainASCII(p, j); k >= 0 {
		j = k
	} else {
		j = d.plainString(j)
	}
	if j < 0 || !eqAt(p, j, t.s2) {
		return i, false
	}
	pkEnd := j
	j += len(t.s2)
	seq := j
	if k := digitString(p, j); k >= 0 {
		j = k
	} else {
		j = d.plainString(j)
	}
	if j < 0 || !eqAt(p, j, t.s3) {
		return i, false
	}
	seqEnd := j
	j += len(t.s3)
	q := bytes.IndexByte(p[j:], '"')
	if q < 0 {
		return i, false
	}
	// A '\\' (an escape) is not base64: decodeBase64 fails on it and
	// the general path decides, as for any other bad character.
	b64 := p[j : j+q]
	dst := d.data[len(d.data) : len(d.data)+len(b64)/4*3]
	n, err := decodeBase64(dst, b64)
	if err != nil || n != decodedLenExact(b64) {
		return i, false
	}
	j += q
	if !eqAt(p, j, t.s4) {
		return i, false
	}
	j += len(t.s4)
	ts := j
	if j >= len(p) || (p[j] != '-' && (p[j] < '0' || p[j] > '9')) {
		return i, false
	}
	if j, err = d.number(j); err != nil || !eqAt(p, j, t.s5) {
		return i, false
	}
	at, ok := parseEpochSeconds(p[ts:j])
	if !ok {
		return i, false
	}
	j += len(t.s5)
	id := j - t.shardLen
	if !eqAt(p, j, p[seq:seqEnd]) {
		return i, false
	}
	j += seqEnd - seq
	if !eqAt(p, j, t.s6) {
		return i, false
	}
	j += len(t.s6)

	// Matched: the same assignments the general path makes.
	r.KinesisSchemaVersion = t.schema
	r.PartitionKey = d.str(p[pk:pkEnd])
	r.Data = dst[:n:n]
	d.noteKPL(r.Data)
	d.data = d.data[:len(d.data)+n]
	r.ApproximateArrivalTimestamp = at
	r.EventSource, r.EventVersion = t.source, t.version
	r.EventID = d.str(p[id : id+t.shardLen+seqEnd-seq])
	r.SequenceNumber = r.EventID[t.shardLen:]
	r.EventName, r.InvokeIdentityARN, r.AWSRegion, r.EventSourceARN = t.name, t.role, t.region, t.arn
	if fresh {
		r.EncryptionType, r.Index = "", 0 // the only fields not in the template
	}
	d.hits++
	return j, true
}

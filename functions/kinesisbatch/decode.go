package kinesisbatch

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// SyntaxError reports a payload that is not a Kinesis event: malformed JSON,
// a field of the wrong type, or a kinesis.data value that is not base64.
// Offset is the byte offset in the payload where the problem was found.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("kinesisbatch: invalid Kinesis event at offset %d: %s", e.Offset, e.Msg)
}

// maxDepth mirrors encoding/json's nesting limit so that both accept the same
// documents.
const maxDepth = 10000

// arenaChunk is the size of the blocks the Decoder copies record strings into.
const arenaChunk = 64 << 10

// Decoder decodes the JSON of a Lambda Kinesis event (what the Lambda service
// sends to a function subscribed to a Kinesis stream) into Records, without
// encoding/json and without per-record allocations.
//
// It accepts every document encoding/json accepts into events.KinesisEvent and
// decodes it to the same values: any whitespace, field order, escapes, unknown
// fields, duplicate keys (last wins), case-insensitive key matching and null
// values, with one deliberate difference: a top-level value that is not an
// object is rejected rather than decoded as an empty event. The fractional
// seconds of approximateArrivalTimestamp are read exactly from the decimal
// text (encoding/json goes through float64 and may be off by up to a
// microsecond). Anything else is rejected with a *SyntaxError naming the
// offset.
//
// The base64 payloads of all records are decoded into one buffer that the
// Decoder reuses on the next Decode, and the returned slice of Records is
// reused too: Record.Data and the slice are valid until the next call to
// Decode. The string fields are copied into blocks that are never reused, so
// they stay valid. A Decoder is not safe for concurrent use; the zero value is
// ready to use.
type Decoder struct {
	p       []byte           // payload being decoded
	data    []byte           // decoded record payloads, reused
	recs    []Record         // reused
	hwm     int              // high-water mark of recs in this Decode (see decodeRecords)
	scratch []byte           // unescaped strings
	arena   *strings.Builder // current string block (Builder: no zeroing)
	intern  [nInterned]string
	// internRaw[k] is the JSON text of intern[k] with its closing quote
	// when it needed no unescaping, nil otherwise.
	internRaw [nInterned][]byte
	shardRaw  []byte // shard id and colon of the last eventID, as written
	seqRaw    []byte // sequence number of the current record, as written
	lastFlags int    // scan flags of the last string stringField scanned
	// seqPending: the current record's sequence number is seqRaw and not
	// yet copied.
	seqPending bool
	tmpl       recordTemplate // see template.go
	learned    int            // templates built in this Decode
	hits       int            // records decoded through the template, for tests
	noTemplate bool           // benchmarks of the general path
	agg        Deaggregator   // KPL user records of the last Decode, for Processor.Invoke
	// sawKPL: some record's data started with the KPL magic in this Decode
	// (checked while the bytes are hot), so Invoke must deaggregate.
	sawKPL bool
}

// Interned string slots: values that are usually identical in every record of
// an event are kept once.
const (
	inEventName = iota
	inEventSource
	inEventVersion
	inEventSourceARN
	inAWSRegion
	inInvokeIdentityARN
	inSchemaVersion
	inEncryptionType
	nInterned
)

// DecodeEvent decodes a Lambda Kinesis event with a fresh Decoder. The
// returned records own their memory.
func DecodeEvent(payload []byte) ([]Record, error) {
	var d Decoder
	return d.Decode(payload)
}

// Decode decodes payload, a Lambda Kinesis event, into records. The records'
// Data and the returned slice are only valid until the next call to Decode;
// strings stay valid. Record.Index is set to the position in the event.
func (d *Decoder) Decode(payload []byte) ([]Record, error) {
	d.p = payload
	d.hwm = 0
	d.learned, d.hits = 0, 0
	d.sawKPL = false
	d.recs = d.recs[:0]
	// Every base64 string decodes to at most 3/4 of its length and all of
	// them are disjoint parts of the payload, so this buffer never grows
	// during the decode and the Data slices handed out stay put.
	need := len(payload)/4*3 + 8
	if cap(d.data) < need {
		d.data = make([]byte, 0, need)
	}
	d.data = d.data[:0]
	err := d.decodeTop()
	d.p = nil
	d.seqRaw = nil
	if err != nil {
		clear(d.recs[:d.hwm])
		d.recs = d.recs[:0]
		return nil, err
	}
	for i := range d.recs {
		d.recs[i].Index = i
	}
	return d.recs, nil
}

// noteKPL sets sawKPL when data is a KPL aggregated record: a 4-byte compare.
func (d *Decoder) noteKPL(data []byte) {
	if kpl.IsAggregated(data) {
		d.sawKPL = true
	}
}

func (d *Decoder) errAt(off int, format string, args ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (d *Decoder) unexpected(i int, what string) error {
	if i >= len(d.p) {
		return d.errAt(i, "unexpected end of input, expected %s", what)
	}
	return d.errAt(i, "invalid character %s, expected %s", quoteChar(d.p[i]), what)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	if c >= utf8.RuneSelf {
		s = fmt.Sprintf("byte 0x%02x", c)
		return s
	}
	return "'" + s[1:len(s)-1] + "'"
}

func (d *Decoder) ws(i int) int {
	p := d.p
	for i < len(p) {
		switch p[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (d *Decoder) decodeTop() error {
	i := d.ws(0)
	if i >= len(d.p) {
		return d.errAt(i, "empty payload: not a Kinesis event")
	}
	if d.p[i] != '{' {
		if _, err := d.skipValue(i, 0); err != nil {
			return err
		}
		return d.errAt(i, "payload is JSON but not an object: not a Kinesis event")
	}
	i, err := d.members(i, 1, topKeys, topPats, func(_ int, i int) (int, error) {
		return d.decodeRecords(i)
	})
	if err != nil {
		return err
	}
	i = d.ws(i)
	if i != len(d.p) {
		return d.errAt(i, "invalid character %s after top-level value", quoteChar(d.p[i]))
	}
	return nil
}

// object parses an object starting at p[i]=='{' and calls member for every
// key with i at the start of the value. member returns the index after the
// value.
func (d *Decoder) object(i, depth int, member func(key []byte, i int) (int, error)) (int, error) {
	if depth > maxDepth {
		return i, d.errAt(i, "exceeded max nesting depth")
	}
	p := d.p
	i = d.ws(i + 1)
	if i < len(p) && p[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(p) || p[i] != '"' {
			return i, d.unexpected(i, "string for object key")
		}
		key, end, err := d.stringValue(i)
		if err != nil {
			return i, err
		}
		i = d.ws(end)
		if i >= len(p) || p[i] != ':' {
			return i, d.unexpected(i, "':' after object key")
		}
		i = d.ws(i + 1)
		if i, err = member(key, i); err != nil {
			return i, err
		}
		i = d.ws(i)
		if i >= len(p) {
			return i, d.unexpected(i, "',' or '}' after object value")
		}
		switch p[i] {
		case ',':
			i = d.ws(i + 1)
		case '}':
			return i + 1, nil
		default:
			return i, d.unexpected(i, "',' or '}' after object value")
		}
	}
}

// matchKey reports whether a JSON key selects the field name, with the rules
// of encoding/json (exact match, else Unicode case folding).
func matchKey(key []byte, name string) bool {
	if string(key) == name {
		return true
	}
	return bytes.EqualFold(key, unsafe.Slice(unsafe.StringData(name), len(name)))
}

func (d *Decoder) decodeRecords(i int) (int, error) {
	p := d.p
	if i < len(p) && p[i] == 'n' {
		end, err := d.literal(i, "null")
		if err != nil {
			return i, err
		}
		// encoding/json sets the slice to nil.
		d.recs = d.recs[:0]
		return end, nil
	}
	if i >= len(p) || p[i] != '[' {
		return d.typeMismatch(i, "Records", "array")
	}
	if 2 > maxDepth {
		return i, d.errAt(i, "exceeded max nesting depth")
	}
	i = d.ws(i + 1)
	n := 0
	if i < len(p) && p[i] == ']' {
		d.recs = d.recs[:0]
		return i + 1, nil
	}
	for {
		// encoding/json decodes a repeated "Records" array into the elements
		// already there (merging) and reuses the slice's spare capacity as
		// is; hwm reproduces that without clearing the whole slice on every
		// invocation.
		// fresh: the element holds a previous Decode's record and must
		// read as zero; the template path overwrites every field instead
		// of clearing first.
		fresh := false
		if n < len(d.recs) {
			// merge into the existing element
		} else if n < d.hwm {
			d.recs = d.recs[:n+1]
		} else {
			if n < cap(d.recs) {
				d.recs = d.recs[:n+1]
				fresh = true
			} else {
				d.recs = append(d.recs, Record{})
			}
			d.hwm = n + 1
		}
		var err error
		if i < len(p) && p[i] == 'n' {
			if fresh {
				d.recs[n] = Record{}
			}
			i, err = d.literal(i, "null")
		} else if i < len(p) && p[i] == '{' {
			var hit bool
			r := &d.recs[n]
			if i, hit = d.templateRecord(i, r, fresh); !hit {
				if fresh {
					*r = Record{}
				}
				if i, err = d.decodeRecord(i, r); err == nil && d.learned < maxLearn && !d.noTemplate {
					d.learnTemplate()
				}
			}
		} else if i < len(p) {
			if _, err = d.skipValue(i, 2); err != nil {
				return i, err
			}
			return d.typeMismatch(i, "Records[]", "object")
		} else {
			return i, d.unexpected(i, "value")
		}
		if err != nil {
			return i, err
		}
		n++
		i = d.ws(i)
		if i >= len(p) {
			return i, d.unexpected(i, "',' or ']' after array element")
		}
		switch p[i] {
		case ',':
			i = d.ws(i + 1)
		case ']':
			d.recs = d.recs[:n]
			return i + 1, nil
		default:
			return i, d.unexpected(i, "',' or ']' after array element")
		}
	}
}

func (d *Decoder) typeMismatch(i int, field, want string) (int, error) {
	if i >= len(d.p) {
		return i, d.unexpected(i, "value")
	}
	// Report malformed JSON first, as encoding/json does.
	if _, err := d.skipValue(i, 0); err != nil {
		return i, err
	}
	return i, d.errAt(i, "%s must be %s, found %s", field, want, kindOf(d.p[i]))
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// Field names in the order Lambda writes them; the decoder first tries the
// name that follows the previous one, a byte comparison instead of a scan.
var (
	topKeys     = []string{"Records"}
	recordKeys  = []string{"kinesis", "eventSource", "eventVersion", "eventID", "eventName", "invokeIdentityArn", "awsRegion", "eventSourceARN"}
	kinesisKeys = []string{"kinesisSchemaVersion", "partitionKey", "sequenceNumber", "data", "approximateArrivalTimestamp", "encryptionType"}
)

const (
	rkKinesis = iota
	rkEventSource
	rkEventVersion
	rkEventID
	rkEventName
	rkInvokeIdentityARN
	rkAWSRegion
	rkEventSourceARN
)

const (
	kkSchemaVersion = iota
	kkPartitionKey
	kkSequenceNumber
	kkData
	kkTimestamp
	kkEncryptionType
)

// patterns returns each name followed by its closing quote, padded for
// eqAt.
func patterns(names []string) [][]byte {
	out := make([][]byte, len(names))
	for k, n := range names {
		out[k] = padded([]byte(n + `"`))
	}
	return out
}

var (
	topPats     = patterns(topKeys)
	recordPats  = patterns(recordKeys)
	kinesisPats = patterns(kinesisKeys)
)

// padded returns b in an array with 8 spare bytes, as eqAt needs.
func padded(b []byte) []byte {
	out := make([]byte, len(b), len(b)+8)
	copy(out, b)
	return out
}

// eqAt reports whether p[i:] starts with pat, comparing eight bytes at a
// time without a call; pat should have 8 bytes of spare capacity.
func eqAt(p []byte, i int, pat []byte) bool {
	n := len(pat)
	if n > 24 || len(p)-i < n+8 || cap(pat)-n < 8 {
		// Long patterns: the runtime's vectorised comparison.
		return len(p)-i >= n && string(p[i:i+n]) == string(pat)
	}
	q := p[i:]
	j := 0
	for ; j+8 <= n; j += 8 {
		if binary.LittleEndian.Uint64(q[j:]) != binary.LittleEndian.Uint64(pat[j:]) {
			return false
		}
	}
	if r := n - j; r > 0 {
		mask := uint64(1)<<(8*r) - 1
		return (binary.LittleEndian.Uint64(q[j:])^binary.LittleEndian.Uint64(pat[j:j+8]))&mask == 0
	}
	return true
}

// objStart enters the object at p[i]=='{'. It returns the index of the
// first key, or with done set the index after an empty object.
func (d *Decoder) objStart(i, depth int) (int, bool, error) {
	if depth > maxDepth {
		return i, false, d.errAt(i, "exceeded max nesting depth")
	}
	p := d.p
	i = d.ws(i + 1)
	if i < len(p) && p[i] == '}' {
		return i + 1, true, nil
	}
	return i, false, nil
}

// objKey reads the key at p[i] and the colon after it. It returns the
// key's index in names (-1 for other keys) and the index of the value. The
// name at hint, the one Lambda writes next, is tried first by comparing
// bytes; other keys are scanned and matched like encoding/json does.
func (d *Decoder) objKey(i int, names []string, pats [][]byte, hint int) (int, int, error) {
	p := d.p
	if i >= len(p) || p[i] != '"' {
		return -1, i, d.unexpected(i, "string for object key")
	}
	id := -1
	if hint < len(pats) && eqAt(p, i+1, pats[hint]) {
		id, i = hint, i+1+len(pats[hint])
	}
	if id < 0 {
		key, end, err := d.stringValue(i)
		if err != nil {
			return -1, i, err
		}
		id = lookupKey(names, key)
		i = end
	}
	if i < len(p) && p[i] == ':' {
		i++
	} else {
		i = d.ws(i)
		if i >= len(p) || p[i] != ':' {
			return -1, i, d.unexpected(i, "':' after object key")
		}
		i++
	}
	return id, d.ws(i), nil
}

// objNext reads what follows a member's value: the index of the next key,
// or with done set the index after the closing brace.
func (d *Decoder) objNext(i int) (int, bool, error) {
	p := d.p
	i = d.ws(i)
	if i < len(p) {
		switch p[i] {
		case ',':
			return d.ws(i + 1), false, nil
		case '}':
			return i + 1, true, nil
		}
	}
	return i, false, d.unexpected(i, "',' or '}' after object value")
}

// members parses an object at p[i]=='{' whose interesting keys are names and
// calls member with the index of the key in names and i at the start of the
// value; other keys' values are skipped.
func (d *Decoder) members(i, depth int, names []string, pats [][]byte, member func(id int, i int) (int, error)) (int, error) {
	i, done, err := d.objStart(i, depth)
	hint := 0
	for !done && err == nil {
		var id int
		if id, i, err = d.objKey(i, names, pats, hint); err != nil {
			break
		}
		hint = id + 1
		if id < 0 {
			i, err = d.skipValue(i, depth)
		} else {
			i, err = member(id, i)
		}
		if err != nil {
			break
		}
		i, done, err = d.objNext(i)
	}
	return i, err
}

// lookupKey finds key in names with encoding/json's rules: an exact match,
// else a case-insensitive (Unicode folding) one.
func lookupKey(names []string, key []byte) int {
	for id, n := range names {
		if string(key) == n {
			return id
		}
	}
	for id, n := range names {
		if matchKey(key, n) {
			return id
		}
	}
	return -1
}

func (d *Decoder) decodeRecord(i int, r *Record) (int, error) {
	d.seqRaw, d.seqPending = nil, false
	i, done, err := d.objStart(i, 3)
	hint := 0
	for !done && err == nil {
		var id int
		if id, i, err = d.objKey(i, recordKeys, recordPats, hint); err != nil {
			break
		}
		hint = id + 1
		switch id {
		case rkKinesis:
			i, err = d.decodeKinesis(i, r)
		case rkEventSource:
			i, err = d.stringField(i, "eventSource", &r.EventSource, inEventSource)
		case rkEventVersion:
			i, err = d.stringField(i, "eventVersion", &r.EventVersion, inEventVersion)
		case rkEventID:
			i, err = d.eventIDField(i, r)
		case rkEventName:
			i, err = d.stringField(i, "eventName", &r.EventName, inEventName)
		case rkInvokeIdentityARN:
			i, err = d.stringField(i, "invokeIdentityArn", &r.InvokeIdentityARN, inInvokeIdentityARN)
		case rkAWSRegion:
			i, err = d.stringField(i, "awsRegion", &r.AWSRegion, inAWSRegion)
		case rkEventSourceARN:
			i, err = d.stringField(i, "eventSourceARN", &r.EventSourceARN, inEventSourceARN)
		default:
			i, err = d.skipValue(i, 3)
		}
		if err != nil {
			break
		}
		i, done, err = d.objNext(i)
	}
	if d.seqPending {
		r.SequenceNumber = d.str(d.seqRaw)
		d.seqPending = false
	}
	return i, err
}

// eventIDField decodes eventID. Lambda writes "<shardId>:<sequenceNumber>"
// with the shard of every other record and the sequence number just read,
// so it is compared rather than scanned when it has that shape.
func (d *Decoder) eventIDField(i int, r *Record) (int, error) {
	p := d.p
	if sh, seq := d.shardRaw, d.seqRaw; sh != nil && seq != nil && i < len(p) && p[i] == '"' {
		// shardRaw includes the colon.
		e := i + 1 + len(sh) + len(seq)
		if e < len(p) && p[e] == '"' && eqAt(p, i+1, sh) && eqAt(p, i+1+len(sh), seq) {
			r.EventID = d.str(p[i+1 : e])
			if d.seqPending {
				r.SequenceNumber = r.EventID[len(sh):]
				d.seqPending = false
			}
			return e + 1, nil
		}
	}
	if i < len(p) && p[i] == '"' {
		b, end, err := d.stringValue(i)
		if err != nil {
			return i, err
		}
		r.EventID = d.str(b)
		if flags, _, _ := d.scanString(i); flags == 0 {
			if c := bytes.LastIndexByte(b, ':'); c > 0 {
				d.shardRaw = padded(b[:c+1])
			}
		}
		return end, nil
	}
	return d.stringField(i, "eventID", &r.EventID, -1)
}

func (d *Decoder) decodeKinesis(i int, r *Record) (int, error) {
	p := d.p
	if i < len(p) && p[i] == 'n' {
		return d.literal(i, "null")
	}
	if i >= len(p) || p[i] != '{' {
		return d.typeMismatch(i, "kinesis", "object")
	}
	i, done, err := d.objStart(i, 4)
	hint := 0
	for !done && err == nil {
		var id int
		if id, i, err = d.objKey(i, kinesisKeys, kinesisPats, hint); err != nil {
			break
		}
		hint = id + 1
		switch id {
		case kkSchemaVersion:
			i, err = d.stringField(i, "kinesis.kinesisSchemaVersion", &r.KinesisSchemaVersion, inSchemaVersion)
		case kkPartitionKey:
			i, err = d.stringField(i, "kinesis.partitionKey", &r.PartitionKey, -1)
		case kkSequenceNumber:
			i, err = d.sequenceField(i, r)
		case kkData:
			i, err = d.dataField(i, r)
		case kkTimestamp:
			i, err = d.timestampField(i, r)
		case kkEncryptionType:
			i, err = d.stringField(i, "kinesis.encryptionType", &r.EncryptionType, inEncryptionType)
		default:
			i, err = d.skipValue(i, 4)
		}
		if err != nil {
			break
		}
		i, done, err = d.objNext(i)
	}
	return i, err
}

// sequenceField reads kinesis.sequenceNumber. Without escapes it is left in
// the payload (seqRaw) until eventID, whose tail it usually is, so the two
// share one copy; decodeRecord copies it alone otherwise.
func (d *Decoder) sequenceField(i int, r *Record) (int, error) {
	p := d.p
	if i < len(p) && p[i] == '"' {
		flags, end, err := d.scanString(i)
		if err != nil {
			return i, err
		}
		if flags == 0 {
			d.seqRaw, d.seqPending = p[i+1:end-1], true
			return end, nil
		}
		d.seqRaw, d.seqPending = nil, false
		d.scratch = unquote(d.scratch[:0], p[i+1:end-1])
		r.SequenceNumber = d.str(d.scratch)
		return end, nil
	}
	return d.stringField(i, "kinesis.sequenceNumber", &r.SequenceNumber, -1)
}

// stringField decodes a JSON string (or null, which leaves dst unchanged, as
// encoding/json does) into dst. slot >= 0 interns the value.
func (d *Decoder) stringField(i int, field string, dst *string, slot int) (int, error) {
	p := d.p
	if slot >= 0 && i < len(p) && p[i] == '"' {
		// The value of the previous record, compared instead of scanned.
		if raw := d.internRaw[slot]; raw != nil {
			if eqAt(p, i+1, raw) { // raw includes the closing quote
				*dst = d.intern[slot]
				return i + 1 + len(raw), nil
			}
		}
	}
	if i < len(p) && p[i] == '"' {
		flags, end, err := d.scanString(i)
		if err != nil {
			return i, err
		}
		b := d.p[i+1 : end-1]
		d.lastFlags = flags
		if flags != 0 {
			d.scratch = unquote(d.scratch[:0], b)
			b = d.scratch
		}
		if slot >= 0 {
			if flags == 0 {
				d.internRaw[slot] = padded(p[i+1 : end])
			} else {
				d.internRaw[slot] = nil
			}
			if s := d.intern[slot]; string(b) == s {
				*dst = s
				return end, nil
			}
			s := d.str(b)
			d.intern[slot] = s
			*dst = s
			return end, nil
		}
		*dst = d.str(b)
		return end, nil
	}
	if i < len(p) && p[i] == 'n' {
		return d.literal(i, "null")
	}
	return d.typeMismatch(i, field, "string")
}

// str copies b into the string arena. The arena only ever appends, so the
// strings handed out never change; a strings.Builder allocates its blocks
// without zeroing them.
func (d *Decoder) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if d.arena == nil || d.arena.Cap()-d.arena.Len() < len(b) {
		d.arena = new(strings.Builder)
		d.arena.Grow(max(arenaChunk, len(b)))
	}
	off := d.arena.Len()
	d.arena.Write(b)
	return d.arena.String()[off:]
}

func (d *Decoder) dataField(i int, r *Record) (int, error) {
	p := d.p
	if i < len(p) && p[i] == 'n' {
		end, err := d.literal(i, "null")
		if err != nil {
			return i, err
		}
		r.Data = nil
		return end, nil
	}
	if i >= len(p) || p[i] != '"' {
		return d.typeMismatch(i, "kinesis.data", "string")
	}
	// Fast path: no escapes and no control characters, decode the base64
	// straight out of the payload.
	start := i + 1
	if q := bytes.IndexByte(p[start:], '"'); q >= 0 {
		raw := p[start : start+q]
		if bytes.IndexByte(raw, '\\') < 0 {
			dst := d.data[len(d.data) : len(d.data)+base64.StdEncoding.DecodedLen(len(raw))]
			n, err := decodeBase64(dst, raw)
			// StdEncoding skips '\r' and '\n', which JSON forbids raw inside
			// a string: a short result means the slow path must look.
			if err == nil && n == decodedLenExact(raw) {
				r.Data = dst[:n:n]
				d.noteKPL(r.Data)
				d.data = d.data[:len(d.data)+n]
				return start + q + 1, nil
			}
		}
	}
	b, end, err := d.stringValue(i)
	if err != nil {
		return i, err
	}
	need := base64.StdEncoding.DecodedLen(len(b))
	var dst []byte
	if len(d.data)+need <= cap(d.data) {
		dst = d.data[len(d.data) : len(d.data)+need]
	} else {
		// Unescaping only grows the text when invalid UTF-8 becomes
		// U+FFFD, which is not base64: this decode fails. Keep the
		// shared buffer's bound anyway.
		dst = make([]byte, need)
	}
	n, err := decodeBase64(dst, b)
	if err != nil {
		return i, d.errAt(i, "kinesis.data is not base64: %v", err)
	}
	r.Data = dst[:n:n]
	d.noteKPL(r.Data)
	if len(d.data)+need <= cap(d.data) {
		d.data = d.data[:len(d.data)+n]
	}
	return end, nil
}

// decodedLenExact is the decoded size of padded base64 text without
// newlines.
func decodedLenExact(raw []byte) int {
	n := len(raw) / 4 * 3
	if len(raw) >= 1 && raw[len(raw)-1] == '=' {
		n--
		if len(raw) >= 2 && raw[len(raw)-2] == '=' {
			n--
		}
	}
	return n
}

func (d *Decoder) timestampField(i int, r *Record) (int, error) {
	p := d.p
	if i < len(p) && p[i] == 'n' {
		end, err := d.literal(i, "null")
		if err != nil {
			return i, err
		}
		// events.SecondsEpochTime decodes null as epoch 0.
		r.ApproximateArrivalTimestamp = time.Unix(0, 0)
		return end, nil
	}
	if i >= len(p) || (p[i] != '-' && (p[i] < '0' || p[i] > '9')) {
		return d.typeMismatch(i, "kinesis.approximateArrivalTimestamp", "number")
	}
	end, err := d.number(i)
	if err != nil {
		return i, err
	}
	t, ok := parseEpochSeconds(p[i:end])
	if !ok {
		return i, d.errAt(i, "kinesis.approximateArrivalTimestamp %s is out of range", p[i:end])
	}
	r.ApproximateArrivalTimestamp = t
	return end, nil
}

// nanoScale[n] turns n decimal digits of a fraction of a second into
// nanoseconds.
var nanoScale = [10]int64{1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1}

// parseEpochSeconds converts a (validated) JSON number of seconds since the
// epoch. Up to 18 integer digits it is read exactly from the decimal text,
// exponent included, to the nanosecond (truncated); larger values go through
// float64 like events.SecondsEpochTime.
func parseEpochSeconds(b []byte) (time.Time, bool) {
	j := 0
	neg := b[0] == '-'
	if neg {
		j = 1
	}
	// The usual form, seconds.millis: one pass.
	{
		var sec, nsec int64
		k := j
		for ; k < len(b) && k-j < 18 && b[k] >= '0' && b[k] <= '9'; k++ {
			sec = sec*10 + int64(b[k]-'0')
		}
		if k < len(b) && b[k] == '.' {
			k++
			f := k
			for ; k < len(b) && k-f < 9 && b[k] >= '0' && b[k] <= '9'; k++ {
				nsec = nsec*10 + int64(b[k]-'0')
			}
			nsec *= nanoScale[k-f] // a multiplication, not a division per digit
			for ; k < len(b) && b[k] >= '0' && b[k] <= '9'; k++ {
				// below a nanosecond: truncated
			}
		}
		if k == len(b) {
			if neg {
				sec, nsec = -sec, -nsec
			}
			return time.Unix(sec, nsec), true
		}
	}
	// The value is 0.d1d2d3... × 10^dp.
	var digits [40]byte
	nd, dp := 0, 0
	exact := true
	add := func(c byte) {
		if nd < len(digits) {
			digits[nd] = c
			nd++
		}
	}
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
		if nd == 0 && b[j] == '0' {
			continue
		}
		add(b[j])
		dp++
	}
	if j < len(b) && b[j] == '.' {
		for j++; j < len(b) && b[j] >= '0' && b[j] <= '9'; j++ {
			if nd == 0 && b[j] == '0' {
				dp--
				continue
			}
			add(b[j])
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		eneg := false
		if b[j] == '+' || b[j] == '-' {
			eneg = b[j] == '-'
			j++
		}
		exp := 0
		for ; j < len(b); j++ {
			if exp < 10000 {
				exp = exp*10 + int(b[j]-'0')
			}
		}
		if eneg {
			exp = -exp
		}
		dp += exp
	}
	if nd == 0 {
		return time.Unix(0, 0), true
	}
	if dp > 18 {
		exact = false
	}
	if exact {
		var sec, nsec int64
		for k := 0; k < dp; k++ {
			sec *= 10
			if k < nd {
				sec += int64(digits[k] - '0')
			}
		}
		scale := int64(100000000)
		for k := dp; k < dp+9; k++ {
			if k >= 0 && k < nd {
				nsec += int64(digits[k]-'0') * scale
			}
			scale /= 10
		}
		if neg {
			sec, nsec = -sec, -nsec
		}
		return time.Unix(sec, nsec), true
	}
	f, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
	if err != nil {
		return time.Time{}, false
	}
	s := int64(f)
	return time.Unix(s, int64((f-float64(s))*1e9)), true
}

func (d *Decoder) literal(i int, lit string) (int, error) {
	p := d.p
	for k := 0; k < len(lit); k++ {
		if i+k >= len(p) || p[i+k] != lit[k] {
			return i + k, d.unexpected(i+k, fmt.Sprintf("%q", lit))
		}
	}
	return i + len(lit), nil
}

// number validates a JSON number at p[i] and returns the index after it.
func (d *Decoder) number(i int) (int, error) {
	p := d.p
	if i < len(p) && p[i] == '-' {
		i++
	}
	if i >= len(p) {
		return i, d.unexpected(i, "digit")
	}
	switch {
	case p[i] == '0':
		i++
	case p[i] >= '1' && p[i] <= '9':
		for i++; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		}
	default:
		return i, d.unexpected(i, "digit")
	}
	if i < len(p) && p[i] == '.' {
		i++
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			return i, d.unexpected(i, "digit after decimal point")
		}
		for i++; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		}
	}
	if i < len(p) && (p[i] == 'e' || p[i] == 'E') {
		i++
		if i < len(p) && (p[i] == '+' || p[i] == '-') {
			i++
		}
		if i >= len(p) || p[i] < '0' || p[i] > '9' {
			return i, d.unexpected(i, "digit in exponent")
		}
		for i++; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		}
	}
	return i, nil
}

// skipValue validates and skips any JSON value at p[i]; depth is the number
// of containers already open.
func (d *Decoder) skipValue(i, depth int) (int, error) {
	p := d.p
	if i >= len(p) {
		return i, d.unexpected(i, "value")
	}
	switch c := p[i]; {
	case c == '"':
		_, end, err := d.scanString(i)
		return end, err
	case c == '{':
		return d.object(i, depth+1, func(_ []byte, i int) (int, error) {
			return d.skipValue(i, depth+1)
		})
	case c == '[':
		if depth+1 > maxDepth {
			return i, d.errAt(i, "exceeded max nesting depth")
		}
		i = d.ws(i + 1)
		if i < len(p) && p[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = d.skipValue(i, depth+1); err != nil {
				return i, err
			}
			i = d.ws(i)
			if i >= len(p) {
				return i, d.unexpected(i, "',' or ']' after array element")
			}
			switch p[i] {
			case ',':
				i = d.ws(i + 1)
			case ']':
				return i + 1, nil
			default:
				return i, d.unexpected(i, "',' or ']' after array element")
			}
		}
	case c == 't':
		return d.literal(i, "true")
	case c == 'f':
		return d.literal(i, "false")
	case c == 'n':
		return d.literal(i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number(i)
	default:
		return i, d.unexpected(i, "value")
	}
}

// String scanning flags.
const (
	strEscaped = 1 << iota // contains backslash escapes
	strBadUTF8             // contains invalid UTF-8 (replaced by U+FFFD)
)

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// scanString validates the JSON string starting at p[i]=='"'. It returns
// flags and the index after the closing quote.
func (d *Decoder) scanString(i int) (flags int, end int, err error) {
	p := d.p
	j := i + 1
	for {
		// Eight bytes at a time: stop at '"', '\\', a control character or
		// a non-ASCII byte.
		for j+8 <= len(p) {
			x := binary.LittleEndian.Uint64(p[j:])
			q := x ^ (lsb * '"')
			b := x ^ (lsb * '\\')
			m := ((q - lsb) &^ q) | ((b - lsb) &^ b) | ((x - lsb*0x20) &^ x) | x
			m &= msb
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(p) {
			return 0, j, d.errAt(j, "unexpected end of input in string")
		}
		c := p[j]
		switch {
		case c == '"':
			return flags, j + 1, nil
		case c == '\\':
			flags |= strEscaped
			if j+1 >= len(p) {
				return 0, j + 1, d.errAt(j+1, "unexpected end of input in string escape")
			}
			switch p[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := 2; k < 6; k++ {
					if j+k >= len(p) {
						return 0, j + k, d.errAt(j+k, "unexpected end of input in \\u escape")
					}
					if !isHex(p[j+k]) {
						return 0, j + k, d.errAt(j+k, "invalid character %s in \\u hexadecimal character escape", quoteChar(p[j+k]))
					}
				}
				j += 6
			default:
				return 0, j + 1, d.errAt(j+1, "invalid character %s in string escape code", quoteChar(p[j+1]))
			}
		case c < 0x20:
			return 0, j, d.errAt(j, "invalid character %s in string literal", quoteChar(c))
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(p[j:])
			if r == utf8.RuneError && size == 1 {
				flags |= strBadUTF8
			}
			j += size
		default:
			// A false positive of the word scan cannot happen for the lowest
			// flagged byte, but handle plain bytes anyway.
			j++
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// stringValue scans the string at p[i] and returns its decoded bytes, which
// alias the payload when no unescaping is needed and d.scratch otherwise
// (valid until the next stringValue).
func (d *Decoder) stringValue(i int) ([]byte, int, error) {
	flags, end, err := d.scanString(i)
	if err != nil {
		return nil, end, err
	}
	raw := d.p[i+1 : end-1]
	if flags == 0 {
		return raw, end, nil
	}
	d.scratch = unquote(d.scratch[:0], raw)
	return d.scratch, end, nil
}

// unquote appends the decoded form of the validated JSON string body s to
// dst, with encoding/json's rules: invalid UTF-8 and unpaired surrogates
// become U+FFFD.
func unquote(dst, s []byte) []byte {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			switch s[r+1] {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				rr := getu4(s[r:])
				r += 6
				if utf16.IsSurrogate(rr) {
					rr1 := getu4(s[r:])
					if dec := utf16.DecodeRune(rr, rr1); dec != unicode.ReplacementChar {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, s[r+1])
			}
			r += 2
		case c < utf8.RuneSelf:
			dst = append(dst, c)
			r++
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[r:r+size]...)
			}
			r += size
		}
	}
	return dst
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c = c - '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

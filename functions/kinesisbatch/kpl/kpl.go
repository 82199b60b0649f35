// Package kpl reads and writes the aggregated record format of the Kinesis
// Producer Library (KPL): one Kinesis record that carries many user records.
//
// The format (github.com/awslabs/amazon-kinesis-producer, aggregation-format.md)
// is the 4-byte magic F3 89 9A C2, a protobuf AggregatedRecord, and the 16-byte
// MD5 digest of the protobuf bytes:
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//	message Tag { required string key = 1; optional string value = 2; }
//
// The protobuf is read and written with google.golang.org/protobuf's protowire
// (wire-level, no generated code, no reflection): the package stays small
// enough for a Lambda bootstrap and links no AWS SDK.
package kpl

import (
	"bytes"
	"crypto/md5"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// magic is the prefix of every aggregated record.
const magic = "\xf3\x89\x9a\xc2"

// Magic returns the 4-byte prefix of an aggregated record.
func Magic() []byte { return []byte(magic) }

// Overhead is the bytes an aggregated record adds around its protobuf: the
// magic and the MD5 digest.
const Overhead = len(magic) + md5.Size

// IsAggregated reports whether data starts with the KPL magic. It is the only
// check a non-aggregated record pays: a 4-byte compare.
func IsAggregated(data []byte) bool {
	return len(data) >= len(magic) && string(data[:len(magic)]) == magic
}

// UserRecord is one record a producer put through the KPL.
type UserRecord struct {
	PartitionKey string
	// ExplicitHashKey is the user record's explicit hash key, "" if it has none.
	ExplicitHashKey string
	// Data aliases the aggregated record's bytes.
	Data []byte
	// SubSequenceNumber is the user record's position in the aggregated
	// record, from 0; with the Kinesis sequence number it identifies the
	// user record.
	SubSequenceNumber uint64
}

// FormatError reports a record that starts with the KPL magic but is not a
// valid aggregated record.
type FormatError struct {
	Reason string
}

func (e *FormatError) Error() string {
	return "kpl: record starts with the KPL magic but is not a valid aggregated record: " + e.Reason
}

func formatErr(format string, args ...any) error {
	return &FormatError{Reason: fmt.Sprintf(format, args...)}
}

// Decode appends the user records of the aggregated record data to dst, in
// order. data must start with the magic (see IsAggregated). The returned
// records' Data alias data.
//
// It fails with a *FormatError, and appends nothing, when the record is too
// short, the MD5 digest does not match, the protobuf is malformed, a
// required field is missing, a table index is out of range, or there are no
// user records (the KPL never writes an empty aggregate). Unknown fields are
// skipped and a known field with an unexpected wire type is treated as
// unknown, as protobuf decoders do.
func Decode(dst []UserRecord, data []byte) ([]UserRecord, error) {
	var d Decoder
	return d.Decode(dst, data)
}

// A Decoder decodes aggregated records like Decode and keeps the partition
// and explicit hash keys it has seen, so that a stream with a bounded set of
// keys (sensor ids, say) allocates no strings for them after the first
// records. It is not safe for concurrent use; the zero value is ready.
type Decoder struct {
	keys      map[string]string
	pks, ehks []string // key tables, reused
}

// maxInterned bounds the keys a Decoder keeps; past it the set starts over.
const maxInterned = 16384

func (d *Decoder) key(b []byte) string {
	if s, ok := d.keys[string(b)]; ok { // no allocation for the lookup
		return s
	}
	if d.keys == nil || len(d.keys) >= maxInterned {
		d.keys = make(map[string]string)
	}
	s := string(b)
	d.keys[s] = s
	return s
}

// Decode is the package's Decode, with d's key cache.
func (d *Decoder) Decode(dst []UserRecord, data []byte) ([]UserRecord, error) {
	if !IsAggregated(data) {
		return dst, formatErr("no KPL magic")
	}
	if len(data) < Overhead {
		return dst, formatErr("%d bytes, shorter than the magic and the MD5 digest (%d)", len(data), Overhead)
	}
	body := data[len(magic) : len(data)-md5.Size]
	if sum := md5.Sum(body); !bytes.Equal(sum[:], data[len(data)-md5.Size:]) {
		return dst, formatErr("MD5 digest mismatch")
	}
	// First pass: the key tables (fields may come in any order).
	pks, ehks := d.pks[:0], d.ehks[:0]
	defer func() { d.pks, d.ehks = pks[:0], ehks[:0] }()
	nrec := 0
	err := fields(body, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if typ != protowire.BytesType {
			return nil
		}
		switch num {
		case 1:
			pks = append(pks, d.key(v))
		case 2:
			ehks = append(ehks, d.key(v))
		case 3:
			nrec++
		}
		return nil
	})
	if err != nil {
		return dst, err
	}
	if nrec == 0 {
		return dst, formatErr("no user records")
	}
	start := len(dst)
	dst = growRecords(dst, nrec)
	err = fields(body, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != 3 || typ != protowire.BytesType {
			return nil
		}
		u, err := decodeRecord(v, pks, ehks)
		if err != nil {
			return fmt.Errorf("user record %d: %w", len(dst)-start, err)
		}
		u.SubSequenceNumber = uint64(len(dst) - start)
		dst = append(dst, u)
		return nil
	})
	if err != nil {
		clear(dst[start:])
		return dst[:start], &FormatError{Reason: err.Error()}
	}
	return dst, nil
}

func growRecords(s []UserRecord, n int) []UserRecord {
	if cap(s)-len(s) < n {
		t := make([]UserRecord, len(s), len(s)+n)
		copy(t, s)
		return t
	}
	return s
}

// fields calls fn for every field of the message b. Bytes fields get their
// contents as v; other fields are validated and skipped (v is nil).
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return formatErr("protobuf: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v []byte
		if typ == protowire.BytesType {
			v, n = protowire.ConsumeBytes(b)
		} else {
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return formatErr("protobuf field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		if err := fn(num, typ, v); err != nil {
			return err
		}
	}
	return nil
}

func decodeRecord(b []byte, pks, ehks []string) (UserRecord, error) {
	var u UserRecord
	var pk, ehk uint64
	var hasPK, hasEHK, hasData bool
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return u, fmt.Errorf("protobuf: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			pk, n = protowire.ConsumeVarint(b)
			hasPK = true
		case num == 2 && typ == protowire.VarintType:
			ehk, n = protowire.ConsumeVarint(b)
			hasEHK = true
		case num == 3 && typ == protowire.BytesType:
			u.Data, n = protowire.ConsumeBytes(b)
			hasData = true
		default: // tags (4) and unknown fields
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return u, fmt.Errorf("protobuf field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
	}
	if !hasPK {
		return u, fmt.Errorf("no partition_key_index")
	}
	if !hasData {
		return u, fmt.Errorf("no data")
	}
	if pk >= uint64(len(pks)) {
		return u, fmt.Errorf("partition_key_index %d out of range: the table has %d keys", pk, len(pks))
	}
	u.PartitionKey = pks[pk]
	if hasEHK {
		if ehk >= uint64(len(ehks)) {
			return u, fmt.Errorf("explicit_hash_key_index %d out of range: the table has %d keys", ehk, len(ehks))
		}
		u.ExplicitHashKey = ehks[ehk]
	}
	if u.Data == nil {
		u.Data = []byte{}
	}
	return u, nil
}

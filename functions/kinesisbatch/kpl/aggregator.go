package kpl

import (
	"crypto/md5"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
)

// MaxRecordBytes is the largest Kinesis record by default (1 MiB), counting
// the data and the partition key.
const MaxRecordBytes = 1 << 20

// Aggregator packs user records into one aggregated record. The zero value is
// ready to use; Reset empties it for the next record.
type Aggregator struct {
	pkIndex  map[string]uint64
	ehkIndex map[string]uint64
	pks      []string
	ehks     []string
	recs     []aggRecord
	size     int // protobuf bytes so far
}

type aggRecord struct {
	pk, ehk uint64
	hasEHK  bool
	data    []byte
}

// Len returns the number of user records added.
func (a *Aggregator) Len() int { return len(a.recs) }

// Size returns the bytes Encode would return now.
func (a *Aggregator) Size() int { return Overhead + a.size }

// PartitionKey returns the partition key of the first user record: the one
// the KPL puts the aggregated record under (it decides the shard).
func (a *Aggregator) PartitionKey() string {
	if len(a.recs) == 0 {
		return ""
	}
	return a.pks[a.recs[0].pk]
}

// SizeWith returns what Size would be after adding the user record.
func (a *Aggregator) SizeWith(partitionKey, explicitHashKey string, data []byte) int {
	return a.Size() + a.grow(partitionKey, explicitHashKey, data)
}

// grow is the protobuf bytes the user record adds.
func (a *Aggregator) grow(pk, ehk string, data []byte) int {
	n := 0
	pki, ok := a.pkIndex[pk]
	if !ok {
		pki = uint64(len(a.pks))
		n += protowire.SizeTag(1) + protowire.SizeBytes(len(pk))
	}
	inner := protowire.SizeTag(1) + protowire.SizeVarint(pki) + protowire.SizeTag(3) + protowire.SizeBytes(len(data))
	if ehk != "" {
		ehki, ok := a.ehkIndex[ehk]
		if !ok {
			ehki = uint64(len(a.ehks))
			n += protowire.SizeTag(2) + protowire.SizeBytes(len(ehk))
		}
		inner += protowire.SizeTag(2) + protowire.SizeVarint(ehki)
	}
	return n + protowire.SizeTag(3) + protowire.SizeBytes(inner)
}

// Add appends a user record. The data is not copied until Encode: keep it
// unchanged until then. An empty partition key is refused (Kinesis refuses
// it too).
func (a *Aggregator) Add(partitionKey, explicitHashKey string, data []byte) error {
	if partitionKey == "" {
		return errors.New("kpl: user record without a partition key: Kinesis needs one for every record")
	}
	a.size += a.grow(partitionKey, explicitHashKey, data)
	if a.pkIndex == nil {
		a.pkIndex = map[string]uint64{}
		a.ehkIndex = map[string]uint64{}
	}
	r := aggRecord{data: data}
	pki, ok := a.pkIndex[partitionKey]
	if !ok {
		pki = uint64(len(a.pks))
		a.pkIndex[partitionKey] = pki
		a.pks = append(a.pks, partitionKey)
	}
	r.pk = pki
	if explicitHashKey != "" {
		ehki, ok := a.ehkIndex[explicitHashKey]
		if !ok {
			ehki = uint64(len(a.ehks))
			a.ehkIndex[explicitHashKey] = ehki
			a.ehks = append(a.ehks, explicitHashKey)
		}
		r.ehk, r.hasEHK = ehki, true
	}
	a.recs = append(a.recs, r)
	return nil
}

// Encode appends the aggregated record (magic, protobuf, MD5) to dst. It
// fails if no user record was added.
func (a *Aggregator) Encode(dst []byte) ([]byte, error) {
	if len(a.recs) == 0 {
		return dst, errors.New("kpl: nothing to encode: add a user record first")
	}
	start := len(dst)
	dst = append(dst, magic...)
	body := len(dst)
	for _, pk := range a.pks {
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendString(dst, pk)
	}
	for _, ehk := range a.ehks {
		dst = protowire.AppendTag(dst, 2, protowire.BytesType)
		dst = protowire.AppendString(dst, ehk)
	}
	for _, r := range a.recs {
		inner := protowire.SizeTag(1) + protowire.SizeVarint(r.pk) + protowire.SizeTag(3) + protowire.SizeBytes(len(r.data))
		if r.hasEHK {
			inner += protowire.SizeTag(2) + protowire.SizeVarint(r.ehk)
		}
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(inner))
		dst = protowire.AppendTag(dst, 1, protowire.VarintType)
		dst = protowire.AppendVarint(dst, r.pk)
		if r.hasEHK {
			dst = protowire.AppendTag(dst, 2, protowire.VarintType)
			dst = protowire.AppendVarint(dst, r.ehk)
		}
		dst = protowire.AppendTag(dst, 3, protowire.BytesType)
		dst = protowire.AppendBytes(dst, r.data)
	}
	if got := len(dst) - body; got != a.size {
		return dst[:start], fmt.Errorf("kpl: internal size accounting off: encoded %d protobuf bytes, counted %d", got, a.size)
	}
	sum := md5.Sum(dst[body:])
	return append(dst, sum[:]...), nil
}

// Reset empties the aggregator, keeping its memory.
func (a *Aggregator) Reset() {
	clear(a.pkIndex)
	clear(a.ehkIndex)
	a.pks, a.ehks = a.pks[:0], a.ehks[:0]
	clear(a.recs)
	a.recs = a.recs[:0]
	a.size = 0
}

package kpl

import (
	"bytes"
	"crypto/md5"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

type in struct {
	pk, ehk string
	data    []byte
}

func encode(t testing.TB, recs []in) []byte {
	t.Helper()
	var a Aggregator
	for _, r := range recs {
		if err := a.Add(r.pk, r.ehk, r.data); err != nil {
			t.Fatal(err)
		}
	}
	want := a.Size()
	b, err := a.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != want {
		t.Fatalf("Size() = %d, Encode wrote %d bytes", want, len(b))
	}
	return b
}

func sample() []in {
	return []in{
		{"sensor-1", "", []byte(`{"a":1}`)},
		{"sensor-2", "170141183460469231731687303715884105728", []byte(`{"b":2}`)},
		{"sensor-1", "", []byte{}},
		{"sensor-3", "170141183460469231731687303715884105728", bytes.Repeat([]byte{0, 0xff}, 300)},
	}
}

func TestRoundTrip(t *testing.T) {
	recs := sample()
	b := encode(t, recs)
	if !IsAggregated(b) {
		t.Fatal("encoded record has no magic")
	}
	got, err := Decode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("%d user records, want %d", len(got), len(recs))
	}
	for i, u := range got {
		r := recs[i]
		if u.PartitionKey != r.pk || u.ExplicitHashKey != r.ehk || !bytes.Equal(u.Data, r.data) || u.SubSequenceNumber != uint64(i) || u.Data == nil {
			t.Errorf("user record %d = %+v, want %+v", i, u, r)
		}
	}
	// Appends after what dst holds.
	got2, err := Decode(got[:1], b)
	if err != nil || len(got2) != 1+len(recs) || got2[1].SubSequenceNumber != 0 {
		t.Fatalf("Decode onto a non-empty dst: %d records, %v", len(got2), err)
	}
}

func TestIsAggregated(t *testing.T) {
	for _, tc := range []struct {
		data []byte
		want bool
	}{
		{nil, false}, {[]byte{0xf3, 0x89, 0x9a}, false}, {[]byte{0xf3, 0x89, 0x9a, 0xc2}, true},
		{[]byte(`{"a":1}`), false}, {[]byte{0xf3, 0x89, 0x9a, 0xc3, 0}, false},
	} {
		if got := IsAggregated(tc.data); got != tc.want {
			t.Errorf("IsAggregated(% x) = %v", tc.data, got)
		}
	}
}

// withBody builds an aggregated record around a hand-written protobuf body.
func withBody(body []byte) []byte {
	sum := md5.Sum(body)
	return append(append([]byte(magic), body...), sum[:]...)
}

func rec(fields ...[]byte) []byte {
	var inner []byte
	for _, f := range fields {
		inner = append(inner, f...)
	}
	return protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), inner)
}

func varintField(n protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, n, protowire.VarintType), v)
}

func bytesField(n protowire.Number, v string) []byte {
	return protowire.AppendString(protowire.AppendTag(nil, n, protowire.BytesType), v)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodeRejects(t *testing.T) {
	good := encode(t, sample())
	badSum := bytes.Clone(good)
	badSum[len(badSum)-1] ^= 1
	badBody := bytes.Clone(good)
	badBody[6] ^= 0x40
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"no magic":     {[]byte("hello"), "no KPL magic"},
		"magic only":   {[]byte(magic), "shorter than"},
		"19 bytes":     {append([]byte(magic), make([]byte, 15)...), "shorter than"},
		"md5 mismatch": {badSum, "MD5 digest mismatch"},
		"body flipped": {badBody, "MD5 digest mismatch"},
		"empty":        {withBody(nil), "no user records"},
		"tables only":  {withBody(bytesField(1, "pk")), "no user records"},
		"truncated":    {withBody(good[4 : len(good)-20]), "protobuf"},
		"no pk index":  {withBody(cat(bytesField(1, "pk"), rec(bytesField(3, "d")))), "no partition_key_index"},
		"no data":      {withBody(cat(bytesField(1, "pk"), rec(varintField(1, 0)))), "no data"},
		"pk range":     {withBody(cat(bytesField(1, "pk"), rec(varintField(1, 1), bytesField(3, "d")))), "partition_key_index 1 out of range"},
		"ehk range":    {withBody(cat(bytesField(1, "pk"), rec(varintField(1, 0), varintField(2, 0), bytesField(3, "d")))), "explicit_hash_key_index 0 out of range"},
		"field zero":   {withBody([]byte{0x00, 0x01}), "protobuf"},
		"bad varint":   {withBody(cat(bytesField(1, "pk"), rec(varintField(1, 0), bytesField(3, "d")), []byte{0x08, 0xff})), "protobuf"},
	} {
		t.Run(name, func(t *testing.T) {
			dst := []UserRecord{{PartitionKey: "kept"}}
			got, err := Decode(dst, tc.data)
			var fe *FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode = %v, want a *FormatError containing %q", err, tc.want)
			}
			if len(got) != 1 || got[0].PartitionKey != "kept" {
				t.Fatalf("Decode changed dst on error: %+v", got)
			}
		})
	}
}

// TestDecodeProtobufRules: unknown fields and tags are skipped, a known field
// with another wire type counts as unknown, the last value of a repeated
// scalar wins, and fields may come in any order.
func TestDecodeProtobufRules(t *testing.T) {
	tag := protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), cat(bytesField(1, "k"), bytesField(2, "v")))
	body := cat(
		rec(varintField(1, 5), varintField(1, 1), bytesField(3, "x"), tag, varintField(99, 7), varintField(3, 1)), // data as varint: unknown
		bytesField(1, "a"), bytesField(1, "b"),
		varintField(1, 9), // a table entry as varint: unknown
		bytesField(2, "e"),
		bytesField(7, "unknown"),
		rec(bytesField(3, "y"), varintField(2, 0), varintField(1, 0)),
	)
	got, err := Decode(nil, withBody(body))
	if err != nil {
		t.Fatal(err)
	}
	want := []UserRecord{{PartitionKey: "b", Data: []byte("x")}, {PartitionKey: "a", ExplicitHashKey: "e", Data: []byte("y"), SubSequenceNumber: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestAggregatorRefusesEmpty(t *testing.T) {
	var a Aggregator
	if _, err := a.Encode(nil); err == nil {
		t.Fatal("Encode of an empty aggregator succeeded")
	}
	if err := a.Add("", "", []byte("x")); err == nil {
		t.Fatal("Add without a partition key succeeded")
	}
	_ = a.Add("k", "", []byte("x"))
	a.Reset()
	if a.Len() != 0 || a.Size() != Overhead {
		t.Fatalf("after Reset: Len %d Size %d", a.Len(), a.Size())
	}
	_ = a.Add("k2", "h", []byte("y"))
	b, err := a.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(nil, b)
	if err != nil || len(got) != 1 || got[0].PartitionKey != "k2" || got[0].ExplicitHashKey != "h" || a.PartitionKey() != "k2" {
		t.Fatalf("after Reset and Add: %+v, %v", got, err)
	}
}

func BenchmarkDecode(b *testing.B) {
	var recs []in
	for i := range 200 {
		recs = append(recs, in{fmt.Sprintf("sensor-%04d", i%50), "", bytes.Repeat([]byte("x"), 150)})
	}
	data := encode(b, recs)
	var dst []UserRecord
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		dst, err = Decode(dst[:0], data)
		if err != nil {
			b.Fatal(err)
		}
	}
}

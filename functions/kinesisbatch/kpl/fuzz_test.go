package kpl

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode: Decode never panics, rejects with a *FormatError only, and what
// it accepts survives a round trip through the Aggregator unchanged.
func FuzzDecode(f *testing.F) {
	f.Add(encode(f, sample()))
	f.Add(encode(f, []in{{"k", "", []byte("v")}}))
	f.Add(withBody(nil))
	f.Add(withBody(cat(bytesField(1, "pk"), rec(varintField(1, 0), bytesField(3, "d")))))
	f.Add([]byte(magic))
	f.Add([]byte("not aggregated"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range [][]byte{data, withBody(data)} { // also past the MD5 check
			got, err := Decode(nil, d)
			if err != nil {
				var fe *FormatError
				if !errors.As(err, &fe) {
					t.Fatalf("error %v is not a *FormatError", err)
				}
				if len(got) != 0 {
					t.Fatalf("%d records returned with an error", len(got))
				}
				continue
			}
			var a Aggregator
			for _, u := range got {
				if u.PartitionKey == "" {
					continue // valid in the format, refused by Add (and Kinesis)
				}
				if err := a.Add(u.PartitionKey, u.ExplicitHashKey, u.Data); err != nil {
					t.Fatal(err)
				}
			}
			if a.Len() == 0 {
				continue
			}
			b, err := a.Encode(nil)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Decode(nil, b)
			if err != nil {
				t.Fatalf("re-encoded record rejected: %v", err)
			}
			k := 0
			for _, u := range got {
				if u.PartitionKey == "" {
					continue
				}
				v := again[k]
				if v.PartitionKey != u.PartitionKey || v.ExplicitHashKey != u.ExplicitHashKey || !bytes.Equal(v.Data, u.Data) {
					t.Fatalf("round trip changed user record %d: %+v -> %+v", k, u, v)
				}
				k++
			}
		}
	})
}

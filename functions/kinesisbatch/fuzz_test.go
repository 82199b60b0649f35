package kinesisbatch

import (
	"bytes"
	"os"
	"testing"

	"github.com/streamproc/streamproc/functions/kinesisbatch/kpl"
)

// FuzzDecode holds the Decoder to its contract: it never panics, every input
// is either decoded or rejected with a *SyntaxError carrying an offset and a
// reason, and on every object encoding/json accepts into events.KinesisEvent
// it accepts too and decodes the same values (and it accepts nothing
// encoding/json rejects).
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("testdata/kinesis-event.json"); err == nil {
		f.Add(b)
	}
	f.Add(genEvent(3))
	f.Add(bytes.ReplaceAll(genEvent(2), []byte(`"kinesisSchemaVersion":"1.0",`), []byte(`"kinesisSchemaVersion":"1.0","encryptionType":"KMS",`)))
	for _, s := range []string{
		`{}`, `{"Records":[]}`, `{"Records":null}`, `{"Records":[null,{}]}`,
		`{"Records":[{"kinesis":{"data":"aGk=","sequenceNumber":"1","approximateArrivalTimestamp":1.5}}]}`,
		`{"Records":[{"eventID":"sh\u0061rd:\"1\"","kinesis":{"partitionKey":"\ud83d\ude00","data":"aG\u006b="}}]}`,
		`{"records":[{"KINESIS":{"Data":"aGk="}}],"x":[1,{"y":[true,false,null,-0.5e+3]}]}`,
		"{\"Records\":[{\"kinesis\":{\"partitionKey\":\"a\xffb\"}}]}",
		`{"Records":[{"eventID":"a:1"},{"eventID":"b:2"}],"Records":[{"awsRegion":"r"}]}`,
	} {
		f.Add([]byte(s))
	}
	var d Decoder // reused on purpose: state must not leak between inputs
	f.Fuzz(func(t *testing.T, payload []byte) {
		compareWithStdlib(t, &d, payload)
	})
}

// FuzzExpand: deaggregating records of arbitrary data never panics, keeps
// plain records and their order, and either unpacks a record with the KPL
// magic into the user records kpl.Decode finds or marks it bad, whole.
func FuzzExpand(f *testing.F) {
	var a kpl.Aggregator
	_ = a.Add("k", "h", []byte("v"))
	_ = a.Add("k2", "", nil)
	good, _ := a.Encode(nil)
	f.Add([]byte("plain"), good, good[:len(good)-1])
	f.Add(good, []byte{}, kpl.Magic())
	f.Add([]byte{0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x00}, []byte("x"), good)
	f.Add([]byte{0xf3, 0x89, 0x9a, 0xc2, 0x0a, 0x00}, []byte("x"), []byte{0xf3, 0x89, 0x9a, 0xc2})
	f.Fuzz(func(t *testing.T, d0, d1, d2 []byte) {
		in := []Record{{Data: d0, SequenceNumber: "1"}, {Data: d1, SequenceNumber: "2"}, {Data: d2, SequenceNumber: "3"}}
		var dg Deaggregator
		out, bad := dg.Expand(in)
		k := 0
		for _, r := range in {
			if !kpl.IsAggregated(r.Data) {
				if out[k].Aggregated || !bytes.Equal(out[k].Data, r.Data) || out[k].SequenceNumber != r.SequenceNumber {
					t.Fatalf("plain record %s changed", r.SequenceNumber)
				}
				k++
				continue
			}
			users, err := kpl.Decode(nil, r.Data)
			if err != nil {
				if bad == nil || bad[k] == nil || out[k].Aggregated || !bytes.Equal(out[k].Data, r.Data) {
					t.Fatalf("invalid aggregate %s not marked bad whole", r.SequenceNumber)
				}
				k++
				continue
			}
			for _, u := range users {
				o := out[k]
				if !o.Aggregated || o.SequenceNumber != r.SequenceNumber || o.SubSequenceNumber != u.SubSequenceNumber ||
					!bytes.Equal(o.Data, u.Data) || o.PartitionKey != u.PartitionKey || (bad != nil && bad[k] != nil) {
					t.Fatalf("user record %d of %s: %+v", u.SubSequenceNumber, r.SequenceNumber, o)
				}
				k++
			}
		}
		if k != len(out) {
			t.Fatalf("%d records out, %d accounted for", len(out), k)
		}
		expanded := len(out) > 0 && &out[0] != &in[0]
		for i := range out {
			if expanded && out[i].Index != i {
				t.Fatalf("record %d has Index %d", i, out[i].Index)
			}
		}
	})
}

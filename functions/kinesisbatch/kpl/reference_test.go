package kpl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"testing"
)

type refUser struct {
	PartitionKey         string `json:"partitionKey"`
	ExplicitPartitionKey string `json:"explicitPartitionKey"`
	SubSequenceNumber    int64  `json:"subSequenceNumber"`
	Data                 []byte `json:"data"`
}

type refOut struct {
	Aggregated [][]struct {
		PartitionKey string `json:"partitionKey"`
		Data         []byte `json:"data"`
	} `json:"aggregated"`
	Deaggregated []struct {
		Error   string    `json:"error"`
		Records []refUser `json:"records"`
	} `json:"deaggregated"`
}

type refIn struct {
	PartitionKey    string `json:"partitionKey"`
	ExplicitHashKey string `json:"explicitHashKey,omitempty"`
	Data            []byte `json:"data"`
}

// runReference runs testdata/reference.js (npm aws-kinesis-agg, the
// reference (de)aggregator). It skips when node or the package is missing:
// `make setup` installs it.
func runReference(t *testing.T, batches [][]refIn, records [][]byte) refOut {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: the aws-kinesis-agg reference check needs Node.js (make setup)")
	}
	in, err := json.Marshal(map[string]any{"batches": batches, "records": records})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "testdata/reference.js")
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skipf("npm aws-kinesis-agg is not installed (run make setup): %s", stderr.String())
	}
	if err != nil {
		t.Fatalf("reference.js: %v\n%s", err, stderr.String())
	}
	var res refOut
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("reference.js output: %v", err)
	}
	return res
}

func randomBatch(rng *rand.Rand, n int) []refIn {
	keys := []string{"sensor-0001", "sensor-0002", "ключ", "k", "sensor-with-a-much-longer-partition-key-0003"}
	// No key that is a JavaScript array index ("0" to "4294967294"): the
	// reference aggregator builds its tables with Object.keys, which puts
	// such keys first whatever the insertion order, and then writes wrong
	// indexes for them.
	ehks := []string{"", "", "4294967296", "340282366920938463463374607431768211455", "85070591730234615865843651857942052864"}
	batch := make([]refIn, n)
	for i := range batch {
		data := make([]byte, rng.IntN(400)+1) // aws-kinesis-agg refuses empty data
		for j := range data {
			data[j] = byte(rng.UintN(256))
		}
		if rng.IntN(3) == 0 {
			data = fmt.Appendf(nil, `{"sensor_id":"s-%d","temperature":%d}`, i, rng.IntN(50))
		}
		batch[i] = refIn{PartitionKey: keys[rng.IntN(len(keys))], ExplicitHashKey: ehks[rng.IntN(len(ehks))], Data: data}
	}
	return batch
}

// TestReference holds the decoder and the aggregator to the reference
// implementation, npm aws-kinesis-agg: records it aggregates decode to the
// user records it was given, and it deaggregates the Aggregator's records
// (and rejects corrupted ones) exactly as Decode does.
func TestReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var batches [][]refIn
	for _, n := range []int{1, 2, 17, 300} {
		batches = append(batches, randomBatch(rng, n))
	}
	// Records for the reference to deaggregate: the Aggregator's, corrupted
	// ones, and a plain one.
	var records [][]byte
	for _, b := range batches {
		var a Aggregator
		for _, r := range b {
			if err := a.Add(r.PartitionKey, r.ExplicitHashKey, r.Data); err != nil {
				t.Fatal(err)
			}
		}
		enc, err := a.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		records = append(records, enc)
	}
	badSum := bytes.Clone(records[2])
	badSum[len(badSum)-3] ^= 0x10
	badBody := bytes.Clone(records[2])
	badBody[10] ^= 0x01
	records = append(records, badSum, badBody, []byte(`{"plain":"json"}`))

	ref := runReference(t, batches, records)

	for bi, b := range batches {
		if len(ref.Aggregated[bi]) != 1 {
			t.Fatalf("batch %d: reference made %d aggregated records, want 1", bi, len(ref.Aggregated[bi]))
		}
		agg := ref.Aggregated[bi][0]
		if agg.PartitionKey != b[0].PartitionKey {
			t.Errorf("batch %d: reference put the aggregate under %q, want the first user record's %q", bi, agg.PartitionKey, b[0].PartitionKey)
		}
		got, err := Decode(nil, agg.Data)
		if err != nil {
			t.Fatalf("batch %d: decoding the reference's record: %v", bi, err)
		}
		if len(got) != len(b) {
			t.Fatalf("batch %d: %d user records, want %d", bi, len(got), len(b))
		}
		for i, u := range got {
			w := b[i]
			if u.PartitionKey != w.PartitionKey || u.ExplicitHashKey != w.ExplicitHashKey || !bytes.Equal(u.Data, w.Data) || u.SubSequenceNumber != uint64(i) {
				t.Errorf("batch %d user record %d: got %q/%q/%d (%d bytes), want %q/%q (%d bytes)", bi, i,
					u.PartitionKey, u.ExplicitHashKey, u.SubSequenceNumber, len(u.Data), w.PartitionKey, w.ExplicitHashKey, len(w.Data))
			}
		}
	}

	for ri, data := range records {
		want := ref.Deaggregated[ri]
		got, err := Decode(nil, data)
		if !IsAggregated(data) {
			// Not aggregated: the reference passes it through unchanged
			// (no sub-sequence number); the toolkit never calls Decode.
			if want.Error != "" || len(want.Records) != 1 || want.Records[0].SubSequenceNumber != -1 || !bytes.Equal(want.Records[0].Data, data) {
				t.Errorf("record %d: reference did not pass the plain record through: %+v", ri, want)
			}
			continue
		}
		if (err != nil) != (want.Error != "") {
			t.Errorf("record %d: Decode error %v, reference error %q", ri, err, want.Error)
			continue
		}
		if err != nil {
			continue
		}
		if len(got) != len(want.Records) {
			t.Fatalf("record %d: %d user records, reference %d", ri, len(got), len(want.Records))
		}
		for i, u := range got {
			w := want.Records[i]
			// The reference reads an absent explicit_hash_key_index as 0
			// (protobufjs's default) and gives such user records the
			// table's first key; the KPL's own (Java) reader, like Decode,
			// gives them none. Compare the keys that are set.
			ehkDiffers := u.ExplicitHashKey != "" && u.ExplicitHashKey != w.ExplicitPartitionKey
			if u.PartitionKey != w.PartitionKey || ehkDiffers || int64(u.SubSequenceNumber) != w.SubSequenceNumber || !bytes.Equal(u.Data, w.Data) {
				t.Errorf("record %d user record %d: got %q/%q/%d, reference %q/%q/%d", ri, i,
					u.PartitionKey, u.ExplicitHashKey, u.SubSequenceNumber, w.PartitionKey, w.ExplicitPartitionKey, w.SubSequenceNumber)
			}
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("checked %d reference-built and %d Go-built records against aws-kinesis-agg", len(batches), len(records))
}

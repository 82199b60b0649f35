package kinesisbatch

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// templateEvent builds an event in Lambda's layout with the given partition
// keys and sequence numbers, written as JSON string bodies (already quoted
// and escaped as the caller wants them).
func templateEvent(keys, seqs []string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"Records":[`)
	for i := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":"%s","sequenceNumber":"%s","data":"aGVsbG8=","approximateArrivalTimestamp":1700000000.5},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-000000000000:%s","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::1:role/r","awsRegion":"eu-west-1","eventSourceARN":"arn:aws:kinesis:eu-west-1:1:stream/s"}`,
			keys[i], seqs[i], seqs[i])
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// TestTemplatePartitionKeys decodes many partition keys that share lengths,
// prefixes and suffixes (the key cache compares the first and last eight
// bytes), non-ASCII and escaped keys and sequence numbers that are not only
// digits, and compares with encoding/json.
func TestTemplatePartitionKeys(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var pool []string
	for n := range 25 {
		for range 6 {
			k := []byte(strings.Repeat("k", n))
			for i := range k {
				if rng.IntN(4) == 0 {
					k[i] = "ab0Z-_:."[rng.IntN(8)]
				}
			}
			pool = append(pool, string(k))
		}
	}
	// Keys differing only in the middle byte, in the head, in the tail.
	pool = append(pool, "0123456789abcdef", "01234567X9abcdef", "X123456789abcdef", "0123456789abcdeX",
		"0123456789abcdefg", "0123456789abcdefh", "sensor-1", "sensor-2", "sensor-12",
		"ключ", "caf\u00e9", `a\"b`, `\u0041BC`, `x\\y`, "sensor-\u00e9")
	var keys, seqs []string
	for i := range 3000 {
		keys = append(keys, pool[rng.IntN(len(pool))])
		seq := fmt.Sprintf("%056d", i)
		switch rng.IntN(10) {
		case 0:
			seq = seq[:rng.IntN(len(seq))]
		case 1:
			seq = seq[:10] + "a" + seq[11:]
		case 2:
			seq = seq + "\u00e9"
		}
		seqs = append(seqs, seq)
	}
	payload := templateEvent(keys, seqs)
	var d Decoder
	for range 2 {
		compareWithStdlib(t, &d, payload)
		if d.hits < 1000 {
			t.Errorf("only %d records through the template", d.hits)
		}
	}
}

func TestPlainASCIIAndDigitString(t *testing.T) {
	for _, tc := range []struct {
		s          string
		plain, dig int
	}{
		{`"`, 0, 0},
		{`abc"`, 3, -1},
		{`0123456789012345678"`, 19, 19},
		{`01234567"`, 8, 8},
		{`0123456:"`, 8, -1},
		{`0123456/"`, 8, -1},
		{`012345678901234567890123456789012345678901234567890123456"`, 57, 57},
		{`a\"b"`, -1, -1},
		{"abcdefg\x1fh\"", -1, -1},
		{"abcdefgh\u00e9\"", -1, -1},
		{`abc`, -1, -1},
		{`0123456789`, -1, -1},
		{`abcdefghijklmnop`, -1, -1},
	} {
		p := []byte(tc.s)
		if got := plainASCII(p, 0); got != tc.plain {
			t.Errorf("plainASCII(%q) = %d, want %d", tc.s, got, tc.plain)
		}
		if got := digitString(p, 0); got != tc.dig {
			t.Errorf("digitString(%q) = %d, want %d", tc.s, got, tc.dig)
		}
	}
}

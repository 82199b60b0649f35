package producer_test

import (
	"context"
	"strings"
	"testing"

	"github.com/streamproc/streamproc/internal/producer"
)

// A stream's record size limit (MaxRecordSizeInKiB) decides which records
// are sent: 1 MiB by default, up to 10 MiB when the stream takes them; a
// record larger than a batch goes alone.
func TestRecordSizeLimit(t *testing.T) {
	recs := []producer.Entry{
		{PartitionKey: "a", Data: []byte("small")},
		{PartitionKey: "b", Data: []byte(strings.Repeat("x", 6<<20))}, // 6 MiB
		{PartitionKey: "c", Data: []byte("small too")},
	}
	for _, tc := range []struct {
		name           string
		limit          int
		sent, rejected int64
	}{
		{"default 1 MiB", 0, 2, 1},
		{"10 MiB stream", 10 << 20, 3, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFake()
			cfg := fastCfg()
			cfg.MaxRecordBytes = tc.limit
			rep, err := producer.New(fake, cfg).Run(context.Background(), producer.SliceSource(recs))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Sent != tc.sent || rep.Failed != tc.rejected {
				t.Fatalf("sent %d, failed %d, want %d and %d (%v)", rep.Sent, rep.Failed, tc.sent, tc.rejected, rep.Errors)
			}
			if tc.rejected > 0 && !strings.Contains(strings.Join(rep.Errors, " "), "over the stream's 1024 KiB (1 MiB) record limit") {
				t.Errorf("errors %v do not name the limit", rep.Errors)
			}
			for i, b := range fake.bytes {
				if b > producer.MaxBatchBytes && fake.batches[i] != 1 {
					t.Errorf("call %d: %d bytes in %d records: a record over a batch must go alone", i, b, fake.batches[i])
				}
			}
		})
	}
}

func TestNDJSONLineLimit(t *testing.T) {
	line := strings.Repeat("y", 2<<20) + "\n"
	if _, err := producer.NDJSONSource(strings.NewReader(line)).Next(); err == nil || !strings.Contains(err.Error(), "1024 KiB") {
		t.Fatalf("a 2 MiB line with the default limit: %v", err)
	}
	e, err := producer.NDJSONSourceMax(strings.NewReader(line), 10<<20).Next()
	if err != nil || len(e.Data) != 2<<20 {
		t.Fatalf("a 2 MiB line with a 10 MiB limit: %v (%d bytes)", err, len(e.Data))
	}
}

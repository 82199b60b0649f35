package kinesisbatch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/contract"
	"github.com/streamproc/streamproc/internal/sqsfake"
)

// TestQuarantineSizesPartsForTheQueue quarantines a 10 MiB record (Kinesis's
// largest) into queues of both sizes on sqsfake, which enforces
// MaximumMessageSize and SendMessageBatch's total: 15 parts of 720 KiB on a
// 1 MiB queue (contract.EnvQuarantineMaxMessageBytes set, as the construct
// does), 64 parts of 160 KiB on a classic 256 KiB queue (the variable unset).
func TestQuarantineSizesPartsForTheQueue(t *testing.T) {
	srv, err := sqsfake.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	setFakeSQSEnv(t, srv, "AWS_ENDPOINT_URL_SQS")
	admin, err := awsjson.NewFromEnv(awsjson.SQS)
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 10<<20)
	randomBytes(big, 7)
	for _, tc := range []struct {
		queue, maxSize string
		parts, chunk   int
	}{
		{"large", "1048576", 15, contract.MaxQuarantineChunkLarge},
		{"classic", "", 64, contract.MaxQuarantineChunk},
	} {
		t.Run(tc.queue, func(t *testing.T) {
			in := map[string]any{"QueueName": tc.queue}
			if tc.maxSize != "" {
				in["Attributes"] = map[string]string{"MaximumMessageSize": tc.maxSize}
			}
			if err := admin.Call(context.Background(), "CreateQueue", in, nil); err != nil {
				t.Fatal(err)
			}
			t.Setenv(contract.EnvQuarantineQueueURL, srv.QueueURL(tc.queue))
			t.Setenv(contract.EnvQuarantineMaxMessageBytes, tc.maxSize)
			cfg, err := ConfigFromEnv(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			errs := cfg.Quarantine.Put(context.Background(), []Failure{{Record: quarantineRecord("1", big), Err: Permanent(errors.New("too big"))}})
			if errs[0] != nil {
				t.Fatalf("quarantine: %v", errs[0])
			}
			msgs := srv.Peek(tc.queue)
			if len(msgs) != tc.parts {
				t.Fatalf("%d messages, want %d", len(msgs), tc.parts)
			}
			var data []byte
			parts := map[int][]byte{}
			for _, m := range msgs {
				var qr contract.QuarantinedRecord
				if err := json.Unmarshal([]byte(m.Body), &qr); err != nil {
					t.Fatal(err)
				}
				if len(qr.Data) > tc.chunk || qr.Parts != tc.parts {
					t.Fatalf("part %d/%d carries %d bytes (chunk %d)", qr.Part, qr.Parts, len(qr.Data), tc.chunk)
				}
				parts[qr.Part] = qr.Data
			}
			for i := 1; i <= tc.parts; i++ {
				data = append(data, parts[i]...)
			}
			if !bytes.Equal(data, big) {
				t.Fatal("the parts do not reassemble to the record")
			}
		})
	}
	t.Setenv(contract.EnvQuarantineMaxMessageBytes, "1MiB")
	if _, err := ConfigFromEnv(context.Background()); err == nil {
		t.Fatal("a malformed size was accepted")
	}
}

package producer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/producer"
)

// nullKinesis accepts everything at once: it measures the producer's own
// cost (generation, batching, bookkeeping) without any service behind it.
type nullKinesis struct{}

func (nullKinesis) PutRecords(_ context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records)), FailedRecordCount: aws.Int32(0)}
	for i := range out.Records {
		out.Records[i] = types.PutRecordsResultEntry{ShardId: aws.String("shardId-000000000000"), SequenceNumber: aws.String("1")}
	}
	return out, nil
}

func runBench(b *testing.B, api producer.API, cfg producer.Config) {
	g := producer.NewGenerator(producer.GenOptions{Seed: 99, Sensors: 200})
	cfg.Count = int64(b.N)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	rep, err := producer.New(api, cfg).Run(context.Background(), producer.GeneratorSource(g, nil))
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if rep.Sent != int64(b.N) {
		b.Fatalf("sent %d of %d: %+v", rep.Sent, b.N, rep)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	b.ReportMetric(float64(rep.Bytes)/1e6/elapsed.Seconds(), "MB/s")
	// CPU time of this process (the client; emulators are other processes)
	// per record, and the records/s one core could drive at that cost.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "client-cpu-ns/record")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "records/s/client-core")
}

// cpuTime is the user plus system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkProducerOverhead is the client's own cost per record: run with
// -cpu 1 to read it as the records/s one core can drive.
func BenchmarkProducerOverhead(b *testing.B) {
	b.ReportAllocs()
	runBench(b, nullKinesis{}, producer.Config{Stream: "bench"})
}

// BenchmarkPutKinesisLocal puts generated readings into kinesis-local on
// loopback through the real SDK client, 4 shards.
func BenchmarkPutKinesisLocal(b *testing.B) {
	c := startKinesis(b, "bench:4")
	for _, v := range []struct{ batch, conc int }{{500, 4}, {100, 16}} {
		b.Run(fmt.Sprintf("batch=%d/conc=%d", v.batch, v.conc), func(b *testing.B) {
			runBench(b, c, producer.Config{Stream: "bench", MaxBatchRecords: v.batch, Concurrency: v.conc})
		})
	}
}

// BenchmarkPutLoopbackHTTP drives the real SDK client (JSON serialisation,
// signing, HTTP on loopback) against a minimal in-process endpoint that
// accepts every record. The endpoint shares the CPU with the client, so the
// figure is a lower bound of what the client can drive; with -cpu 1 it
// answers "is the client the bottleneck below 10,000 records/s on one core?".
func BenchmarkPutLoopbackHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Records []json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var out bytes.Buffer
		out.WriteString(`{"FailedRecordCount":0,"Records":[`)
		for i := range in.Records {
			if i > 0 {
				out.WriteByte(',')
			}
			out.WriteString(`{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"}`)
		}
		out.WriteString(`]}`)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(out.Bytes())
	}))
	defer srv.Close()
	c := kinesis.New(kinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	b.ReportAllocs()
	runBench(b, c, producer.Config{Stream: "bench"})
}

package localesm_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/streamproc/streamproc/internal/emulator"
	"github.com/streamproc/streamproc/internal/gobuild"
	"github.com/streamproc/streamproc/internal/localesm"
)

var (
	tumblingOnce sync.Once
	tumblingPath string
	tumblingErr  error
)

// tumblingFn builds testdata/tumblingfn: kinesisbatch.Tumbling counting the
// records of each window.
func tumblingFn(t *testing.T) string {
	t.Helper()
	tumblingOnce.Do(func() {
		root, err := emulator.RepoRoot()
		if err != nil {
			tumblingErr = err
			return
		}
		dir, err := os.MkdirTemp("", "localesm-tumblingfn")
		if err != nil {
			tumblingErr = err
			return
		}
		tumblingPath, tumblingErr = gobuild.Bootstrap(context.Background(), gobuild.Options{Package: "./internal/localesm/testdata/tumblingfn", Dir: root, OutDir: dir, Arch: gobuild.Host()})
	})
	if tumblingErr != nil {
		t.Fatal(tumblingErr)
	}
	return tumblingPath
}

type windowLine struct {
	Shard string    `json:"shard"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	N     int       `json:"n"`
	IDs   []string  `json:"ids"`
	Early bool      `json:"early"`
}

// streamWindows reads the stream back and groups the record ids by shard and
// window of arrival: what each window's final invocation must carry.
func streamWindows(t *testing.T, kc *kinesis.Client, stream string, size time.Duration) map[string][]string {
	t.Helper()
	ctx := context.Background()
	shards, err := kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, s := range shards.Shards {
		it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: s.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatal(err)
		}
		iter := it.ShardIterator
		for {
			got, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range got.Records {
				var rec struct{ ID string }
				_ = json.Unmarshal(r.Data, &rec)
				k := *s.ShardId + " " + aws.ToTime(r.ApproximateArrivalTimestamp).UTC().Truncate(size).Format(time.RFC3339)
				out[k] = append(out[k], rec.ID)
			}
			if len(got.Records) == 0 || aws.ToInt64(got.MillisBehindLatest) == 0 {
				break
			}
			iter = got.NextShardIterator
		}
	}
	return out
}

// TestTumblingWindowsThroughTheRIE drives kinesisbatch.Tumbling under the
// Runtime Interface Emulator with the real poller against kinesis-local:
// records put over several 2 s windows on two shards, with a function error
// and a crashed runtime in the middle. Each window of each shard gets exactly
// one final invocation, carrying exactly the records that arrived in it.
func TestTumblingWindowsThroughTheRIE(t *testing.T) {
	kc, _ := setup(t)
	tumblingFn(t) // built before the puts: a build failure fails fast
	stream := createStream(t, kc, 2)
	const size = 2 * time.Second
	var all []string
	for wave := range 4 {
		var recs []rec
		for i := range 12 {
			id := fmt.Sprintf("w%d-%02d", wave, i)
			do := ""
			switch {
			case wave == 1 && i == 5:
				do = "failonce"
			case wave == 2 && i == 7:
				do = "crashonce"
			}
			recs = append(recs, rec{ID: id, Do: do, Key: fmt.Sprintf("k%d", i%5)})
			all = append(all, id)
		}
		put(t, kc, stream, recs)
		time.Sleep(1100 * time.Millisecond)
	}
	want := streamWindows(t, kc, stream, size)

	lines, s := runTumbling(t, kc, stream, size, 5)
	got := map[string][]string{}
	for _, l := range lines {
		k := l.Shard + " " + l.Start.UTC().Format(time.RFC3339)
		if _, dup := got[k]; dup {
			t.Fatalf("window %s closed twice", k)
		}
		if l.End.Sub(l.Start) != size || l.Early || l.N != len(l.IDs) {
			t.Fatalf("final invocation %+v", l)
		}
		got[k] = l.IDs
	}
	finals := len(lines)
	if len(want) < 3 {
		t.Fatalf("the records fell into %d windows, want at least 3 for the test to mean something: %v", len(want), want)
	}
	for k, ids := range want {
		g := slices.Clone(got[k])
		slices.Sort(g)
		slices.Sort(ids)
		if !slices.Equal(g, ids) {
			t.Errorf("window %s: final state has %v, want %v", k, got[k], ids)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d windows closed, want %d: %v", len(got), len(want), got)
	}
	t.Logf("%d records in %d windows; invocations %d (final %d), failed %d, retries %d", len(all), len(want), s.Invocations, s.FinalInvocations, s.FailedInvocations, s.Retries)
	if s.FinalInvocations != int64(finals) || s.Windows != int64(len(want)) || s.FailedInvocations < 2 || s.AcknowledgedRecords != int64(len(all)) || s.OpenWindows != 0 {
		t.Fatalf("stats %+v (finals logged %d, windows %d)", s, finals, len(want))
	}
}

// runTumbling runs the poller with testdata/tumblingfn over stream until it
// is idle (every window closed) and returns the final invocations' lines.
func runTumbling(t *testing.T, kc *kinesis.Client, stream string, size time.Duration, batchSize int) ([]windowLine, localesm.Stats) {
	t.Helper()
	fn := tumblingFn(t)
	marks := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "windows.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := localesm.NewRIEPool(ctx, localesm.RIEOptions{Bootstrap: fn, Size: 2, Timeout: 5 * time.Second,
		Env: []string{"FN_LOG=" + logPath, "FN_MARKS=" + marks, "AWS_LAMBDA_FUNCTION_TIMEOUT=5"}})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Stop()
	p, err := localesm.New(localesm.Config{StreamName: stream, StreamARN: "arn:aws:kinesis:us-east-1:000000000000:stream/" + stream,
		BatchSize: batchSize, TumblingWindow: size, ReportBatchItemFailures: true, PollInterval: 100 * time.Millisecond},
		localesm.Options{Kinesis: kc, Invoker: pool})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 90*time.Second)
	defer wcancel()
	if err := p.WaitIdle(wctx, 500*time.Millisecond); err != nil {
		t.Fatalf("%v\n%s", err, pool.Logs())
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []windowLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<22)
	for sc.Scan() {
		var l windowLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	return lines, p.Stats()
}

// TestTumblingWindowTerminatedEarlyThroughTheRIE: a state past 1 MB ends the
// window early: Final gets that state with IsWindowTerminatedEarly, and the
// rest of the window comes with a fresh state and its own final invocation.
func TestTumblingWindowTerminatedEarlyThroughTheRIE(t *testing.T) {
	kc, _ := setup(t)
	stream := createStream(t, kc, 1)
	const size = 5 * time.Second
	// Put at the start of a window so that every record arrives in it.
	time.Sleep(time.Until(time.Now().Truncate(size).Add(size + 100*time.Millisecond)))
	var recs []rec
	for i := range 9 {
		do := ""
		if i == 4 {
			do = "big"
		}
		recs = append(recs, rec{ID: fmt.Sprintf("r%d", i), Do: do, Key: "k"})
	}
	put(t, kc, stream, recs)
	want := streamWindows(t, kc, stream, size)
	if len(want) != 1 {
		t.Skipf("the records fell into %d windows on a slow machine: %v", len(want), want)
	}
	lines, s := runTumbling(t, kc, stream, size, 3)
	if len(lines) != 2 || !lines[0].Early || lines[1].Early || !lines[0].Start.Equal(lines[1].Start) ||
		!slices.Contains(lines[0].IDs, "r4") || slices.Contains(lines[1].IDs, "r4") {
		t.Fatalf("final invocations %+v: want an early one with r4, then one for the rest of the same window", lines)
	}
	ids := append(slices.Clone(lines[0].IDs), lines[1].IDs...)
	slices.Sort(ids)
	for _, w := range want {
		slices.Sort(w)
		if !slices.Equal(ids, w) {
			t.Fatalf("the two parts hold %v, want %v", ids, w)
		}
	}
	if s.WindowsTerminatedEarly != 1 || s.FinalInvocations != 2 || s.Windows != 1 {
		t.Fatalf("stats %+v", s)
	}
}

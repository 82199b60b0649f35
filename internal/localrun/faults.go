package localrun

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// SinkFaults is a reverse proxy in front of dynalite through which the
// processor reaches DynamoDB, so a run can make the sink throttle for a
// while, as a hot partition or an exhausted on-demand table would, and then
// recover. Throttled calls get DynamoDB's real error answer, so the SDK and
// the processor see exactly what AWS would send.
type SinkFaults struct {
	URL string

	srv       *http.Server
	mu        sync.Mutex
	until     time.Time
	every     int // throttle one call in every (1 = all)
	n         atomic.Int64
	Throttled atomic.Int64 // calls answered with a throttling error
	Calls     atomic.Int64 // calls seen
	Busy      atomic.Int64 // nanoseconds spent in calls, summed over concurrent ones
	ops       sync.Map     // operation (X-Amz-Target after the dot) -> *atomic.Int64
}

// Ops returns the calls seen per DynamoDB operation (PutItem, Query, ...).
func (f *SinkFaults) Ops() map[string]int64 {
	out := map[string]int64{}
	f.ops.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

func (f *SinkFaults) countOp(target string) {
	op := target[strings.LastIndexByte(target, '.')+1:]
	v, _ := f.ops.LoadOrStore(op, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func startSinkFaults(target string) (*SinkFaults, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &SinkFaults{URL: "http://" + l.Addr().String()}
	proxy := httputil.NewSingleHostReverseProxy(u)
	f.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.Calls.Add(1)
		f.countOp(r.Header.Get("X-Amz-Target"))
		if f.throttleNow() {
			f.Throttled.Add(1)
			w.Header().Set("Content-Type", "application/x-amz-json-1.0")
			w.Header().Set("x-amzn-RequestId", "local-throttle")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"The level of configured provisioned throughput for the table was exceeded. (injected by streamproc local)"}`))
			return
		}
		start := time.Now()
		proxy.ServeHTTP(w, r)
		f.Busy.Add(int64(time.Since(start)))
	}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = f.srv.Serve(l) }()
	return f, nil
}

// Throttle makes one call in every `every` (1: all of them) fail with
// ProvisionedThroughputExceededException for d from now.
func (f *SinkFaults) Throttle(d time.Duration, every int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.until = time.Now().Add(d)
	f.every = max(every, 1)
}

// Recover ends any throttling now.
func (f *SinkFaults) Recover() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.until = time.Time{}
}

func (f *SinkFaults) throttleNow() bool {
	f.mu.Lock()
	until, every := f.until, f.every
	f.mu.Unlock()
	if time.Now().After(until) {
		return false
	}
	return f.n.Add(1)%int64(every) == 0
}

func (f *SinkFaults) close() { _ = f.srv.Close() }

package awsjson

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"hash/crc32"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stubBackoff replaces the jittered backoff for one test (tests using it
// must not run in parallel).
func stubBackoff(t *testing.T, d time.Duration) {
	t.Helper()
	old := retryWait
	retryWait = func(int) time.Duration { return d }
	t.Cleanup(func() { retryWait = old })
}

// recorder is a test server answering with answers[i] for request i (the last one repeats).
type recorder struct {
	mu     sync.Mutex
	bodies []string
	dates  []string
	srv    *httptest.Server
}

type answer struct {
	status  int
	body    string
	header  map[string]string
	crc     string // "" = correct X-Amz-Crc32, "-" = none
	handler func(w http.ResponseWriter, r *http.Request)
}

func newRecorder(t *testing.T, answers ...answer) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		i := len(rec.bodies)
		rec.bodies = append(rec.bodies, string(body))
		rec.dates = append(rec.dates, r.Header.Get("X-Amz-Date"))
		rec.mu.Unlock()
		a := answers[min(i, len(answers)-1)]
		if a.handler != nil {
			a.handler(w, r)
			return
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		switch a.crc {
		case "":
			w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(a.body))), 10))
		case "-":
		default:
			w.Header().Set("X-Amz-Crc32", a.crc)
		}
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (r *recorder) requests() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.bodies) }

func (r *recorder) client() *Client {
	return &Client{Service: DynamoDB, Region: "eu-west-1", Endpoint: r.srv.URL,
		Credentials: Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"},
		HTTPClient:  &http.Client{Timeout: 5 * time.Second}}
}

const throttle = `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"Rate exceeded"}`

func TestRetryThrottleThenSuccess(t *testing.T) {
	stubBackoff(t, time.Millisecond)
	rec := newRecorder(t,
		answer{status: 400, body: throttle},
		answer{status: 400, body: `{"__type":"ThrottlingException"}`},
		answer{status: 200, body: `{"Item":{"pk":{"S":"a"}}}`})
	c := rec.client()
	var tick atomic.Int64
	c.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, int(tick.Add(1)), 0, time.UTC) }
	out, err := c.Do(context.Background(), "GetItem", []byte(`{"TableName":"t"}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != `{"Item":{"pk":{"S":"a"}}}` {
		t.Errorf("answer %s", out)
	}
	if rec.requests() != 3 {
		t.Fatalf("%d requests, want 3", rec.requests())
	}
	for i := range 3 {
		if rec.bodies[i] != `{"TableName":"t"}` {
			t.Errorf("attempt %d sent body %q", i+1, rec.bodies[i])
		}
		if i > 0 && rec.dates[i] == rec.dates[i-1] {
			t.Errorf("attempt %d not re-signed: X-Amz-Date %s again", i+1, rec.dates[i])
		}
	}
}

func TestRetryStatusCodes(t *testing.T) {
	stubBackoff(t, 0)
	for _, tc := range []struct {
		status, attempts, want int
	}{{500, 3, 3}, {502, 3, 3}, {503, 5, 5}, {504, 2, 2}, {501, 3, 1}, {429, 3, 3}} {
		rec := newRecorder(t, answer{status: tc.status, body: "<html>upstream says no</html>"})
		c := rec.client()
		c.MaxAttempts = tc.attempts
		_, err := c.Do(context.Background(), "PutItem", []byte(`{}`))
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
			t.Fatalf("%d: want an APIError with that status, got %v", tc.status, err)
		}
		if rec.requests() != tc.want {
			t.Errorf("%d with MaxAttempts %d: %d requests, want %d", tc.status, tc.attempts, rec.requests(), tc.want)
		}
		if tc.want > 1 && !strings.Contains(err.Error(), "gave up after") {
			t.Errorf("%d: error does not say it gave up: %v", tc.status, err)
		}
		if !strings.Contains(err.Error(), "upstream says no") {
			t.Errorf("%d: error lacks the body's first bytes: %v", tc.status, err)
		}
	}
}

func TestValidationExceptionNotRetried(t *testing.T) {
	stubBackoff(t, 0)
	rec := newRecorder(t, answer{status: 400, body: `{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid"}`,
		header: map[string]string{"X-Amzn-RequestId": "REQ1"}})
	_, err := rec.client().Do(context.Background(), "PutItem", []byte(`{}`))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != "ValidationException" || apiErr.Temporary() {
		t.Fatalf("want a non-temporary ValidationException, got %v", err)
	}
	if got, want := err.Error(), "DynamoDB PutItem: ValidationException (400): One or more parameter values were invalid (request id REQ1)"; got != want {
		t.Errorf("error\n got %q\nwant %q", got, want)
	}
	if rec.requests() != 1 {
		t.Errorf("%d requests, want 1", rec.requests())
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	stubBackoff(t, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	rec := newRecorder(t, answer{handler: func(w http.ResponseWriter, r *http.Request) {
		// Late enough for a loaded machine to have read the 503 and be in
		// the (hour-long) backoff when the cancel comes.
		time.AfterFunc(250*time.Millisecond, cancel)
		w.WriteHeader(503)
	}})
	start := time.Now()
	_, err := rec.client().Do(ctx, "GetItem", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 503 {
		t.Errorf("the last answer is lost: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Do returned %v after the cancel", d)
	}
	if rec.requests() != 1 {
		t.Errorf("%d requests, want 1", rec.requests())
	}
}

func TestContextDeadlineHonoured(t *testing.T) {
	stubBackoff(t, 0)
	rec := newRecorder(t, answer{handler: func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := rec.client().Do(ctx, "GetItem", nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want context.DeadlineExceeded, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Do took %v with a 100 ms deadline", d)
	}
	if rec.requests() != 1 {
		t.Errorf("%d requests, want 1 (ctx's own timeout is not retried)", rec.requests())
	}

	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := rec.client().Do(cancelled, "GetItem", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if rec.requests() != 1 {
		t.Errorf("a request was sent with a cancelled ctx")
	}
}

func TestAttemptTimeoutRetried(t *testing.T) {
	stubBackoff(t, 0)
	rec := newRecorder(t,
		answer{handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}},
		answer{status: 200, body: `{"ok":true}`})
	c := rec.client()
	c.HTTPClient.Timeout = 100 * time.Millisecond
	out, err := c.Do(context.Background(), "GetItem", nil)
	if err != nil || string(out) != `{"ok":true}` {
		t.Fatalf("got %s, %v", out, err)
	}
	if rec.requests() != 2 {
		t.Errorf("%d requests, want 2", rec.requests())
	}
}

func TestConnectionErrorRetried(t *testing.T) {
	stubBackoff(t, 0)
	rec := newRecorder(t,
		answer{handler: func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // no answer at all
			}
		}},
		answer{status: 200, body: `{}`})
	if _, err := rec.client().Do(context.Background(), "GetItem", nil); err != nil {
		t.Fatal(err)
	}
	if rec.requests() != 2 {
		t.Errorf("%d requests, want 2", rec.requests())
	}
	if rec.bodies[0] != "{}" {
		t.Errorf("empty body sent as %q, want {}", rec.bodies[0])
	}

	// Nothing listening: retried, then a dial error naming the service and operation.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	c := rec.client()
	c.Endpoint = "http://" + addr
	_, err := c.Do(context.Background(), "GetItem", nil)
	if err == nil || !strings.Contains(err.Error(), "DynamoDB GetItem: ") || !strings.Contains(err.Error(), "gave up after 3 attempts") {
		t.Errorf("unreachable endpoint: %v", err)
	}
}

func TestCRC32(t *testing.T) {
	stubBackoff(t, 0)
	rec := newRecorder(t,
		answer{status: 200, body: `{"Item":{}}`, crc: "12345"},
		answer{status: 200, body: `{"Item":{}}`})
	out, err := rec.client().Do(context.Background(), "GetItem", nil)
	if err != nil || string(out) != `{"Item":{}}` {
		t.Fatalf("got %s, %v", out, err)
	}
	if rec.requests() != 2 {
		t.Errorf("%d requests, want 2 (a CRC mismatch is retried)", rec.requests())
	}

	rec = newRecorder(t, answer{status: 200, body: `{"Item":{}}`, crc: "not-a-number"})
	_, err = rec.client().Do(context.Background(), "GetItem", nil)
	if err == nil || !strings.Contains(err.Error(), "X-Amz-Crc32") || rec.requests() != 3 {
		t.Errorf("%d requests, error %v; want 3 and a CRC error", rec.requests(), err)
	}

	rec = newRecorder(t, answer{status: 200, body: `{}`, crc: "-"}) // SQS sends none
	if _, err := rec.client().Do(context.Background(), "GetItem", nil); err != nil {
		t.Errorf("no X-Amz-Crc32: %v", err)
	}
}

func TestCertificateErrorNotRetried(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failure is expected
	srv.StartTLS()
	defer srv.Close()
	c := &Client{Service: DynamoDB, Region: "eu-west-1", Endpoint: srv.URL, Credentials: Credentials{AccessKeyID: "A", SecretAccessKey: "S"},
		HTTPClient: newHTTPClient(nil)}
	_, err := c.Do(context.Background(), "GetItem", nil)
	var cert *tls.CertificateVerificationError
	if !errors.As(err, &cert) {
		t.Fatalf("want a certificate error, got %v", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestCABundle(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"Table":{}}`) }))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemData := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	setEnv(t, map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "A", "AWS_SECRET_ACCESS_KEY": "S",
		"AWS_ENDPOINT_URL": srv.URL, "AWS_CA_BUNDLE": path})
	c, err := NewFromEnv(DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(context.Background(), "DescribeTable", nil); err != nil {
		t.Fatalf("with AWS_CA_BUNDLE: %v", err)
	}
	if tr := c.HTTPClient.Transport.(*http.Transport); !slices.Contains(tr.TLSClientConfig.NextProtos, "h2") || c.HTTPClient.Timeout != 5*time.Second {
		t.Errorf("the CA bundle's client lost HTTP/2 (NextProtos %q) or its timeout (%v)", tr.TLSClientConfig.NextProtos, c.HTTPClient.Timeout)
	}
}

func TestCall(t *testing.T) {
	rec := newRecorder(t, answer{status: 200, body: `{"Item":{"n":{"N":"42"}}}`})
	c := rec.client()
	var out struct{ Item map[string]map[string]string }
	if err := c.Call(context.Background(), "GetItem", map[string]any{"TableName": "t"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Item["n"]["N"] != "42" || rec.bodies[0] != `{"TableName":"t"}` {
		t.Errorf("sent %s, decoded %+v", rec.bodies[0], out)
	}
	if err := c.Call(context.Background(), "GetItem", nil, nil); err != nil || rec.bodies[1] != "{}" {
		t.Errorf("nil in and out: sent %q, %v", rec.bodies[1], err)
	}
	var wrong struct{ Item string }
	if err := c.Call(context.Background(), "GetItem", nil, &wrong); err == nil || !strings.Contains(err.Error(), "DynamoDB GetItem: decode response") {
		t.Errorf("undecodable answer: %v", err)
	}
	if err := c.Call(context.Background(), "GetItem", func() {}, nil); err == nil || !strings.Contains(err.Error(), "encode request") {
		t.Errorf("unencodable request: %v", err)
	}
}

func TestClientFieldsChecked(t *testing.T) {
	for _, tc := range []struct {
		name, op, want string
		edit           func(*Client)
	}{
		{"region", "GetItem", "Client.Region is empty", func(c *Client) { c.Region = "" }},
		{"credentials", "GetItem", "Client.Credentials", func(c *Client) { c.Credentials.SecretAccessKey = "" }},
		{"endpoint", "GetItem", `Client.Endpoint "" is not a valid endpoint`, func(c *Client) { c.Endpoint = "" }},
		{"endpoint scheme", "GetItem", "scheme must be http or https", func(c *Client) { c.Endpoint = "localhost:8000" }},
		{"endpoint path", "GetItem", "must not have a path", func(c *Client) { c.Endpoint = "http://h/api" }},
		{"service", "GetItem", "awsjson.DynamoDB or awsjson.SQS", func(c *Client) { c.Service = Service{} }},
		{"operation", "Get Item", `operation "Get Item"`, func(*Client) {}},
	} {
		c := &Client{Service: DynamoDB, Region: "eu-west-1", Endpoint: "http://127.0.0.1:1", Credentials: Credentials{AccessKeyID: "A", SecretAccessKey: "S"}}
		tc.edit(c)
		_, err := c.Do(context.Background(), tc.op, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}

// TestEndpointParsedOnce: concurrent calls share one parse of Endpoint, and
// a changed Endpoint is parsed again and used.
func TestEndpointParsedOnce(t *testing.T) {
	rec := newRecorder(t, answer{status: 200, body: `{}`})
	c := rec.client()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := c.Do(context.Background(), "GetItem", nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	first := c.ep.Load()
	if first == nil || first.raw != rec.srv.URL {
		t.Fatalf("cached endpoint %+v, want the parse of %s", first, rec.srv.URL)
	}
	if _, err := c.Do(context.Background(), "GetItem", nil); err != nil || c.ep.Load() != first {
		t.Fatalf("the endpoint was parsed again (%v)", err)
	}

	other := newRecorder(t, answer{status: 200, body: `{}`})
	c.Endpoint = other.srv.URL
	if _, err := c.Do(context.Background(), "GetItem", nil); err != nil {
		t.Fatal(err)
	}
	if other.requests() != 1 || rec.requests() != 9 || c.ep.Load().raw != other.srv.URL {
		t.Fatalf("after changing Endpoint: %d requests to the new one, %d to the old one", other.requests(), rec.requests())
	}
	c.Endpoint = "http://h/path"
	if _, err := c.Do(context.Background(), "GetItem", nil); err == nil || !strings.Contains(err.Error(), "must not have a path") {
		t.Fatalf("an invalid Endpoint after a valid one: %v", err)
	}
}

// TestBackoffFullJitter: base 25 ms, cap 1 s (internal/backoff tests the jitter).
func TestBackoffFullJitter(t *testing.T) {
	for i, ceil := range []time.Duration{25, 50, 100, 200, 400, 800, 1000, 1000} {
		ceil *= time.Millisecond
		retry := i + 1 + 100*(i/7) // retry 108: no overflow
		var top time.Duration
		for range 2000 {
			d := retryWait(retry)
			if d < 0 || d >= ceil {
				t.Fatalf("retry %d: wait %v outside [0, %v)", retry, d, ceil)
			}
			top = max(top, d)
		}
		if top < ceil*3/4 {
			t.Errorf("retry %d: largest of 2000 waits %v, want near %v", retry, top, ceil)
		}
	}
}

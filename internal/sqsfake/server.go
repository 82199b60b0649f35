// Package sqsfake is a FAKE of Amazon SQS for tests: an in-process HTTP server
// on a free loopback port that speaks the SQS JSON protocol (awsJson1_0,
// X-Amz-Target: AmazonSQS.<Operation>) of aws-sdk-go-v2's service/sqs.
//
// It exists because no installable emulator speaks that protocol (goaws and
// local-aws-sqs answer in the old XML query protocol, which the current SDK
// cannot decode). It is not an emulator of SQS as a whole: it implements the
// few calls this project uses, for standard (non-FIFO) queues only,
//
//	CreateQueue, GetQueueUrl, ListQueues, GetQueueAttributes, DeleteQueue,
//	SendMessage, SendMessageBatch, ReceiveMessage, DeleteMessage,
//	DeleteMessageBatch, ChangeMessageVisibility, ChangeMessageVisibilityBatch,
//	PurgeQueue
//
// with the parts of their behaviour that code under test can observe:
// visibility timeouts and receipt handles, long polling (WaitTimeSeconds),
// per-message and per-queue delays, message attributes with name filters,
// system attributes (ApproximateReceiveCount, SentTimestamp, ...),
// MD5OfMessageBody and MD5OfMessageAttributes computed with the documented
// algorithms (the SDK checks the body digest), the message size limit
// (MaximumMessageSize, 256 KiB by default here, so that what fits in the fake
// fits in every queue) and the batch limits, and error answers in the shape
// the SDK parses (a "__type" such as "com.amazonaws.sqs#QueueDoesNotExist"
// plus the x-amzn-query-error header, so errors.As(err, *types.QueueDoesNotExist)
// and ErrorCode() behave as against AWS).
//
// Not implemented: FIFO queues, redrive policies (stored and echoed, never
// enforced), tags, permissions, KMS, message move tasks, the 60-second
// PurgeQueue cool-down, request signing checks (any credentials are accepted).
// Calling anything else answers UnknownOperationException.
//
// Tests can inject failures (FailNext, FailNextEntries), count calls (Calls),
// and look at a queue without receiving from it (Peek).
package sqsfake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Defaults for Options.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
)

// Options configure a fake server. The zero value is ready to use.
type Options struct {
	// Region goes into queue ARNs.
	// Default: "us-east-1"
	Region string
	// AccountID goes into queue URLs and ARNs.
	// Default: "000000000000"
	AccountID string
	// Addr is the address to listen on. Keep it on loopback.
	// Default: "127.0.0.1:0" (a free port)
	Addr string
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	url      string
	listener net.Listener
	http     *http.Server
	closing  chan struct{}
	closed   sync.Once
	served   chan struct{}

	mu       sync.Mutex
	queues   map[string]*queue // by name
	calls    map[string]int
	failures map[string][]Failure // per operation, consumed in order
	entryErr map[string][]Failure // per batch operation, consumed per entry
}

// Start starts a fake on a free loopback port with the default options.
func Start() (*Server, error) { return StartWithOptions(Options{}) }

// StartWithOptions starts a fake with opts.
func StartWithOptions(opts Options) (*Server, error) {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("sqsfake: listen on %s: %w", opts.Addr, err)
	}
	s := &Server{
		opts:     opts,
		url:      "http://" + l.Addr().String(),
		listener: l,
		closing:  make(chan struct{}),
		served:   make(chan struct{}),
		queues:   map[string]*queue{},
		calls:    map[string]int{},
		failures: map[string][]Failure{},
		entryErr: map[string][]Failure{},
	}
	s.http = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.http.Serve(l)
	}()
	return s, nil
}

// URL is the endpoint to give the SDK (BaseEndpoint, or AWS_ENDPOINT_URL_SQS),
// "http://127.0.0.1:PORT".
func (s *Server) URL() string { return s.url }

// Endpoint is the same as URL.
func (s *Server) Endpoint() string { return s.url }

// Region is the region in the fake's ARNs; configure the client with it.
func (s *Server) Region() string { return s.opts.Region }

// QueueURL is the URL the fake gives the named queue (whether or not it exists).
func (s *Server) QueueURL(name string) string {
	return s.url + "/" + s.opts.AccountID + "/" + name
}

// QueueARN is the ARN of the named queue.
func (s *Server) QueueARN(name string) string {
	return "arn:aws:sqs:" + s.opts.Region + ":" + s.opts.AccountID + ":" + name
}

// Close stops the server and ends waiting long polls. It is safe to call twice.
func (s *Server) Close() error {
	var err error
	s.closed.Do(func() {
		close(s.closing)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err = s.http.Shutdown(ctx); err != nil {
			err = s.http.Close()
		}
		<-s.served
	})
	return err
}

// NewClient returns an SQS client for this fake: static dummy credentials, the
// fake's region and endpoint. optFns adjust it further (e.g. RetryMaxAttempts).
func (s *Server) NewClient(optFns ...func(*sqs.Options)) *sqs.Client {
	opts := sqs.Options{
		Region:       s.opts.Region,
		BaseEndpoint: aws.String(s.url),
		Credentials:  credentials.NewStaticCredentialsProvider("fake", "fake", ""),
	}
	return sqs.New(opts, optFns...)
}

// FailNext makes the next n calls of operation op (e.g. "SendMessageBatch")
// answer with failure f instead of doing anything. Injections add up.
func (s *Server) FailNext(op string, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures[op] = append(s.failures[op], f)
	}
}

// FailNextEntries makes the next n entries of batch operation op
// ("SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch")
// come back in the answer's Failed list with f's code and message, while the
// call itself succeeds and the other entries are applied — a partial failure.
func (s *Server) FailNextEntries(op string, n int, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.entryErr[op] = append(s.entryErr[op], f)
	}
}

// Calls is how many requests for operation op the fake has received,
// including failed ones.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Message is a snapshot of one stored message, for test assertions.
type Message struct {
	MessageID         string
	Body              string
	MessageAttributes map[string]AttributeValue
	SentTimestamp     time.Time
	ReceiveCount      int
	InFlight          bool // received and its visibility timeout not yet over
	Delayed           bool // its delay is not over yet
}

// Peek returns every message stored in the named queue, in the order sent,
// without receiving them (no receive count, no visibility change). It
// returns nil for a queue that does not exist.
func (s *Server) Peek(queueName string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueName]
	if q == nil {
		return nil
	}
	now := time.Now()
	q.expire(now)
	out := make([]Message, 0, len(q.messages))
	for _, m := range q.messages {
		out = append(out, Message{
			MessageID:         m.id,
			Body:              m.body,
			MessageAttributes: cloneAttrs(m.attrs),
			SentTimestamp:     m.sent,
			ReceiveCount:      m.receiveCount,
			InFlight:          m.inFlight(now),
			Delayed:           m.delayed(now),
		})
	}
	return out
}

// ServeHTTP implements the JSON protocol endpoint: POST / with X-Amz-Target.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		errUnknownOperation(target + " (" + r.Method + " " + r.URL.Path + "; only the JSON protocol is served)").write(w)
		return
	}
	w.Header().Set("x-amzn-RequestId", newID())

	s.mu.Lock()
	s.calls[op]++
	if fs := s.failures[op]; len(fs) > 0 {
		f := fs[0]
		s.failures[op] = fs[1:]
		s.mu.Unlock()
		f.write(w)
		return
	}
	s.mu.Unlock()

	h, ok := handlers[op]
	if !ok {
		errUnknownOperation(op).write(w)
		return
	}
	out, err := h(s, r)
	if err != nil {
		var f Failure
		if errors.As(err, &f) {
			f.write(w)
			return
		}
		InternalError.write(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"__type":"com.amazonaws.sqs#InternalError","message":"sqsfake could not encode its answer"}`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// decode reads the JSON request body into v.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		return errSerialization(fmt.Errorf("Content-Type %q: the JSON protocol wants application/x-amz-json-1.0", ct))
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return errSerialization(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errSerialization(errors.New("data after the JSON document"))
	}
	return nil
}

// queueFromURL finds the queue a QueueUrl names. Like SQS it looks only at the
// path (/<account>/<name>), so any host that reached the fake works.
func (s *Server) queueFromURL(u string) (*queue, error) {
	if u == "" {
		return nil, errMissingParameter("QueueUrl")
	}
	path := u
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		j := strings.Index(rest, "/")
		if j < 0 {
			return nil, errQueueDoesNotExist()
		}
		path = rest[j:]
	}
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if len(parts) != 2 || parts[0] != s.opts.AccountID {
		return nil, errQueueDoesNotExist()
	}
	q := s.queues[parts[1]]
	if q == nil {
		return nil, errQueueDoesNotExist()
	}
	return q, nil
}

// takeEntryFailure pops one injected per-entry failure for op, if any.
// The caller holds s.mu.
func (s *Server) takeEntryFailure(op string) (Failure, bool) {
	fs := s.entryErr[op]
	if len(fs) == 0 {
		return Failure{}, false
	}
	s.entryErr[op] = fs[1:]
	return fs[0], true
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

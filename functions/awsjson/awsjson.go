// Package awsjson is a minimal client for AWS JSON-1.0 and JSON-1.1 protocol APIs
// (DynamoDB, SQS, Kinesis, EventBridge): it signs a JSON document with SigV4, POSTs it, retries
// transient failures and returns the JSON answer.
//
// It exists for cold starts. A Lambda bootstrap that links aws-sdk-go-v2's
// service packages spends ~9 ms of its INIT budget in their package
// initialisation; the functions only make a handful of JSON calls (DynamoDB
// GetItem, BatchGetItem and PutItem, SQS SendMessageBatch), so this package
// does those with the standard library alone and no work at init.
//
// What it does not do: credentials come only from the environment (no shared
// config files, SSO, IMDS, container or web-identity providers, no refresh);
// endpoints are only AWS_ENDPOINT_URL[_<ID>] or the standard
// <prefix>.<region>.amazonaws.com(.cn) host (no FIPS, dual-stack or partition
// rules: the isolated and sovereign partitions need an explicit endpoint); no
// event streams, no gzip; the JSON 1.0 and 1.1 protocols only (no REST or query). Requests and answers
// are raw JSON: callers bring their own types.
package awsjson

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/streamproc/streamproc/internal/backoff"
	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// Service describes one AWS JSON-protocol service.
type Service struct {
	Name         string // for errors and logs: "DynamoDB", "SQS"
	SigningName  string // SigV4 service name: "dynamodb", "sqs"
	EndpointID   string // suffix of AWS_ENDPOINT_URL_<ID>: "DYNAMODB", "SQS"
	HostPrefix   string // default endpoint host prefix: "dynamodb", "sqs"
	TargetPrefix string // X-Amz-Target prefix: "DynamoDB_20120810", "AmazonSQS"
	// JSONVersion is the protocol's version in the Content-Type
	// (application/x-amz-json-<version>): "1.1" for Kinesis and EventBridge.
	// Default: "1.0"
	JSONVersion string
}

// DynamoDB is Amazon DynamoDB.
var DynamoDB = Service{Name: "DynamoDB", SigningName: "dynamodb", EndpointID: "DYNAMODB", HostPrefix: "dynamodb", TargetPrefix: "DynamoDB_20120810"}

// SQS is Amazon SQS (its JSON protocol).
var SQS = Service{Name: "SQS", SigningName: "sqs", EndpointID: "SQS", HostPrefix: "sqs", TargetPrefix: "AmazonSQS"}

// Kinesis is Amazon Kinesis Data Streams (AWS JSON 1.1).
var Kinesis = Service{Name: "Kinesis", SigningName: "kinesis", EndpointID: "KINESIS", HostPrefix: "kinesis", TargetPrefix: "Kinesis_20131202", JSONVersion: "1.1"}

// EventBridge is Amazon EventBridge (AWS JSON 1.1).
var EventBridge = Service{Name: "EventBridge", SigningName: "events", EndpointID: "EVENTBRIDGE", HostPrefix: "events", TargetPrefix: "AWSEvents", JSONVersion: "1.1"}

// Credentials are static AWS credentials (Lambda passes the execution role's in the environment).
type Credentials struct{ AccessKeyID, SecretAccessKey, SessionToken string }

// Client calls one service. Fields may be set directly; NewFromEnv fills them
// the way the AWS SDKs do. A Client is safe for concurrent use as long as its
// fields are not changed meanwhile. Use it by pointer: do not copy a Client
// once it has been used.
type Client struct {
	Service     Service
	Region      string
	Endpoint    string // base URL, e.g. "https://dynamodb.eu-west-1.amazonaws.com" or "http://127.0.0.1:4567"
	Credentials Credentials
	HTTPClient  *http.Client     // Default: a client with a 5 s timeout per attempt and keep-alive
	MaxAttempts int              // per call, first try included. Default: 3 (the SDKs' standard retry mode)
	Now         func() time.Time // signing clock. Default: time.Now

	// ep is Endpoint as last parsed, with the string it came from: a call
	// parses again only if Endpoint changed (racing first calls store equal
	// values).
	ep atomic.Pointer[endpoint]
}

const (
	defaultMaxAttempts = 3
	backoffBase        = 25 * time.Millisecond
	backoffCap         = time.Second
	// Error answers are small, except DynamoDB's ConditionalCheckFailed that
	// may carry the old item (up to 400 KB); anything larger is not an AWS
	// error and is cut (the connection is then not reused).
	maxErrorBody = 1 << 20
)

// retryWait is the wait before retry number retry (1 = before the second
// attempt): full jitter, uniform in [0, min(cap, base*2^(retry-1))). A
// variable so tests can stub it.
var retryWait = func(retry int) time.Duration { return backoff.Jittered(retry, backoffBase, backoffCap) }

// Do POSTs body (a JSON document) as operation op (e.g. "PutItem") and returns the body of the 2xx answer.
// Transient failures are retried up to MaxAttempts with exponential backoff and full jitter (base 25 ms,
// cap 1 s) while ctx allows: connection errors and timeouts (not ctx's own), HTTP 500/502/503/504,
// RequestTimeout(Exception) codes, throttling error codes (ThrottlingException, ProvisionedThroughputExceededException,
// RequestLimitExceeded, TooManyRequestsException, Throttling, RequestThrottled, ...), and for DynamoDB a response whose
// X-Amz-Crc32 header does not match its body. Other errors return at once.
//
// An empty body is sent as "{}". An error answer is an *APIError (use errors.As).
func (c *Client) Do(ctx context.Context, op string, body []byte) ([]byte, error) {
	ep, err := c.check(op)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])
	hc := c.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	attempts := c.MaxAttempts
	if attempts < 1 {
		attempts = defaultMaxAttempts
	}
	for attempt := 0; ; attempt++ {
		out, retryable, err := c.attempt(ctx, hc, ep, op, body, payloadHash)
		if err == nil {
			return out, nil
		}
		if !retryable {
			return nil, err
		}
		if cerr := ctx.Err(); cerr != nil { // never retry once ctx is done
			if errors.Is(err, cerr) {
				return nil, err
			}
			return nil, fmt.Errorf("%w (not retried: %w)", err, cerr)
		}
		if attempt+1 >= attempts {
			if attempts == 1 {
				return nil, err
			}
			return nil, fmt.Errorf("%w (gave up after %d attempts)", err, attempts)
		}
		if serr := ctxsleep.Sleep(ctx, retryWait(attempt+1)); serr != nil {
			return nil, fmt.Errorf("%w (not retried: %w)", err, serr)
		}
	}
}

// Call is Do with in marshalled by encoding/json and the answer unmarshalled into out (out nil: ignored).
func (c *Client) Call(ctx context.Context, op string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s %s: encode request: %w", c.Service.Name, op, err)
		}
	}
	resp, err := c.Do(ctx, op, body)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(resp, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", c.Service.Name, op, err)
	}
	return nil
}

// endpoint is a validated Client.Endpoint.
type endpoint struct {
	raw  string // Client.Endpoint
	url  string // scheme://host[:port]/
	host string // Host header, without a default port (as the SDK signs it)
}

// check validates the fields a call needs, so that a misconfigured Client
// fails with a clear error rather than an unsigned or misdirected request.
func (c *Client) check(op string) (endpoint, error) {
	name := c.Service.Name
	switch {
	case c.Service.SigningName == "" || c.Service.TargetPrefix == "":
		return endpoint{}, fmt.Errorf("awsjson: Client.Service %q has no SigningName or TargetPrefix: use awsjson.DynamoDB or awsjson.SQS", name)
	case !validOp(op):
		return endpoint{}, fmt.Errorf("%s: operation %q is not an operation name (want e.g. \"GetItem\")", name, op)
	case c.Region == "":
		return endpoint{}, fmt.Errorf("%s %s: Client.Region is empty: set it or build the Client with NewFromEnv", name, op)
	case c.Credentials.AccessKeyID == "" || c.Credentials.SecretAccessKey == "":
		return endpoint{}, fmt.Errorf("%s %s: Client.Credentials has no access key id or secret: set them or build the Client with NewFromEnv", name, op)
	}
	ep := c.ep.Load()
	if ep == nil || ep.raw != c.Endpoint {
		parsed, err := parseEndpoint(c.Endpoint)
		if err != nil {
			return endpoint{}, fmt.Errorf("%s %s: Client.Endpoint %w", name, op, err)
		}
		ep = &parsed
		c.ep.Store(ep)
	}
	return *ep, nil
}

func validOp(op string) bool {
	for i := 0; i < len(op); i++ {
		if b := op[i]; !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_') {
			return false
		}
	}
	return op != ""
}

// parseEndpoint accepts a base URL "http(s)://host[:port][/]". The error
// starts with the quoted value so callers can prefix where it came from.
func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("%q is not a URL (%v): want a base URL such as https://dynamodb.eu-west-1.amazonaws.com or http://127.0.0.1:8000", raw, err)
	}
	bad := ""
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		bad = "its scheme must be http or https"
	case u.Host == "" || u.Hostname() == "":
		bad = "it has no host"
	case u.User != nil:
		bad = "it must not carry user information"
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		bad = "it must not have a path, query or fragment (only the base URL)"
	}
	if bad != "" {
		return endpoint{}, fmt.Errorf("%q is not a valid endpoint: %s, e.g. https://dynamodb.eu-west-1.amazonaws.com or http://127.0.0.1:8000", raw, bad)
	}
	host := u.Host
	if p := u.Port(); p == "80" && u.Scheme == "http" || p == "443" && u.Scheme == "https" {
		host = host[:len(host)-len(p)-1]
	}
	return endpoint{raw: raw, url: u.Scheme + "://" + u.Host + "/", host: host}, nil
}

// attempt makes one signed request. retryable reports whether err is transient.
func (c *Client) attempt(ctx context.Context, hc *http.Client, ep endpoint, op string, body []byte, payloadHash string) (out []byte, retryable bool, err error) {
	name := c.Service.Name
	req, err := c.newRequest(ctx, ep, op, body, payloadHash)
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: %w", name, op, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, retryableTransport(err), fmt.Errorf("%s %s: %w", name, op, err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(-1)
	if !ok {
		limit = maxErrorBody
	}
	data, complete, err := readBody(resp, limit)
	if err != nil { // the connection broke mid-answer
		return nil, true, fmt.Errorf("%s %s: reading the %d answer: %w", name, op, resp.StatusCode, err)
	}
	if v := resp.Header.Get("X-Amz-Crc32"); v != "" && complete {
		if want, perr := strconv.ParseUint(v, 10, 32); perr != nil || uint32(want) != crc32.ChecksumIEEE(data) {
			return nil, true, fmt.Errorf("%s %s: answer corrupted: X-Amz-Crc32 is %q but the %d-byte body has CRC32 %d",
				name, op, v, len(data), crc32.ChecksumIEEE(data))
		}
	}
	if ok {
		return data, false, nil
	}
	apiErr := parseError(name, op, resp, data)
	return nil, apiErr.Temporary(), apiErr
}

// newRequest builds and signs one attempt's request (a new X-Amz-Date each time).
func (c *Client) newRequest(ctx context.Context, ep endpoint, op string, body []byte, payloadHash string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Host = ep.host
	h := req.Header
	// identity, as the SDK's DynamoDB client sends it: otherwise Go's transport
	// asks for gzip and X-Amz-Crc32 (computed over the compressed bytes) could
	// not be checked.
	h["Accept-Encoding"] = []string{"identity"}
	version := c.Service.JSONVersion
	if version == "" {
		version = "1.0"
	}
	h["Content-Type"] = []string{"application/x-amz-json-" + version}
	h["X-Amz-Target"] = []string{c.Service.TargetPrefix + "." + op}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	sign(req, c.Credentials, c.Region, c.Service.SigningName, payloadHash, now())
	return req, nil
}

// readBody reads the whole body, or at most limit bytes if limit >= 0
// (complete is false if there was more).
func readBody(resp *http.Response, limit int64) (data []byte, complete bool, err error) {
	n := resp.ContentLength
	if limit >= 0 && n > limit {
		n = limit
	}
	buf := bytes.NewBuffer(make([]byte, 0, max(0, min(n, 64<<20))+bytes.MinRead))
	var r io.Reader = resp.Body
	if limit >= 0 {
		r = io.LimitReader(resp.Body, limit+1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, false, err
	}
	data = buf.Bytes()
	if limit >= 0 && int64(len(data)) > limit {
		return data[:limit], false, nil
	}
	return data, true, nil
}

// retryableTransport: connection errors and timeouts are transient; a
// certificate the client rejects is not.
func retryableTransport(err error) bool {
	var cert *tls.CertificateVerificationError
	return !errors.As(err, &cert)
}

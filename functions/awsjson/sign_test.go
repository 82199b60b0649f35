package awsjson

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// sdkSign signs a copy of req (same URL, Host and headers, minus what signing
// adds) with aws-sdk-go-v2's signer at req's X-Amz-Date and returns the
// headers the SDK set.
func sdkSign(t *testing.T, url, host string, h http.Header, body []byte, cred Credentials, region, service string) http.Header {
	t.Helper()
	when, err := time.Parse("20060102T150405Z", h.Get("X-Amz-Date"))
	if err != nil {
		t.Fatalf("X-Amz-Date: %v", err)
	}
	r, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Host = host
	for k, v := range h {
		switch k {
		case "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "Content-Length":
		default:
			r.Header[k] = v
		}
	}
	creds := aws.Credentials{AccessKeyID: cred.AccessKeyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: cred.SessionToken}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, payloadHash(body), service, region, when); err != nil {
		t.Fatal(err)
	}
	return r.Header
}

func TestSignMatchesSDK(t *testing.T) {
	noToken := Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	withToken := noToken
	withToken.SessionToken = "IQoJb3JpZ2luX2VjEJr//////////wEaCWV1LXdlc3QtMSJHMEUCIQ+token/with=padding=="
	midnight := time.Date(2026, 3, 31, 23, 59, 59, 999e6, time.UTC)
	cases := []struct {
		name     string
		svc      Service
		region   string
		endpoint string
		cred     Credentials
		op       string
		body     string
		at       time.Time
	}{
		{"dynamodb no token", DynamoDB, "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com", noToken, "GetItem",
			`{"TableName":"aggregates","Key":{"pk":{"S":"sensor-1"}}}`, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"dynamodb session token", DynamoDB, "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com", withToken, "PutItem",
			`{"TableName":"aggregates","Item":{"pk":{"S":"a b  c"}}}`, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{"sqs session token default port", SQS, "us-east-1", "https://sqs.us-east-1.amazonaws.com:443/", withToken, "SendMessageBatch",
			`{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/q","Entries":[{"Id":"0","MessageBody":"x"}]}`, midnight},
		{"next day", SQS, "us-east-1", "https://sqs.us-east-1.amazonaws.com", withToken, "SendMessageBatch", `{}`, midnight.Add(time.Second)},
		{"china", DynamoDB, "cn-north-1", "https://dynamodb.cn-north-1.amazonaws.com.cn", noToken, "BatchGetItem", `{"RequestItems":{}}`, midnight},
		{"local port", DynamoDB, "us-east-1", "http://127.0.0.1:4567", withToken, "CreateTable", `{"TableName":"t"}`, midnight},
		{"http default port", DynamoDB, "us-east-1", "http://localhost:80", noToken, "GetItem", `{}`, midnight},
		{"non-default https port", DynamoDB, "us-east-1", "https://localhost:8443", noToken, "GetItem", `{}`, midnight},
		{"large body", DynamoDB, "ap-southeast-2", "https://dynamodb.ap-southeast-2.amazonaws.com", withToken, "PutItem",
			`{"Item":{"v":{"S":"` + strings.Repeat("x", 100_000) + `"}}}`, midnight},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Client{Service: tc.svc, Region: tc.region, Endpoint: tc.endpoint, Credentials: tc.cred, Now: func() time.Time { return tc.at }}
			ep, err := c.check(tc.op)
			if err != nil {
				t.Fatal(err)
			}
			body := []byte(tc.body)
			req, err := c.newRequest(context.Background(), ep, tc.op, body, payloadHash(body))
			if err != nil {
				t.Fatal(err)
			}
			// The SDK gets the URL as configured and no Host, so it strips a
			// default port itself.
			want := sdkSign(t, req.URL.String(), "", req.Header, body, tc.cred, tc.region, tc.svc.SigningName)
			for _, k := range []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token"} {
				if got, w := req.Header.Get(k), want.Get(k); got != w {
					t.Errorf("%s:\n got %q\nwant %q", k, got, w)
				}
			}
			if tc.cred.SessionToken != "" && !strings.Contains(req.Header.Get("Authorization"), "x-amz-security-token") {
				t.Error("session token not signed")
			}
		})
	}
}

// TestSignedRequestOnTheWire checks what the server receives: a server
// re-signs every request with the SDK and refuses any whose Authorization
// differs, so headers the transport adds or changes would show.
func TestSignedRequestOnTheWire(t *testing.T) {
	cred := Credentials{AccessKeyID: "AKID", SecretAccessKey: "SECRET"}
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		want := sdkSign(t, "http://"+r.Host+r.URL.Path, r.Host, r.Header, body, cred, "eu-west-1", "dynamodb")
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if got := r.Header.Get("Authorization"); got != want.Get("Authorization") {
			http.Error(w, fmt.Sprintf("got %s\nwant %s", got, want.Get("Authorization")), http.StatusForbidden)
			return
		}
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	for _, token := range []string{"", "TOKEN/with+chars="} {
		cred.SessionToken = token
		c := &Client{Service: DynamoDB, Region: "eu-west-1", Endpoint: srv.URL, Credentials: cred}
		for _, body := range []string{`{"TableName":"t"}`, ""} {
			if _, err := c.Do(context.Background(), "DescribeTable", []byte(body)); err != nil {
				t.Errorf("token %q body %q: %v", token, body, err)
			}
		}
	}
	if len(auths) != 4 {
		t.Fatalf("server saw %d requests, want 4", len(auths))
	}
}

func TestSigningKeyCache(t *testing.T) {
	derive := func(secret, day, region, service string) string {
		k := hmacSHA256([]byte("AWS4"+secret), day)
		for _, s := range []string{region, service, "aws4_request"} {
			k = hmacSHA256(k, s)
		}
		return hex.EncodeToString(k)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				secret := fmt.Sprintf("secret%d", i%3)
				day := fmt.Sprintf("202601%02d", 1+(i+g)%20)
				region := []string{"eu-west-1", "us-east-1"}[i%2]
				if got, want := hex.EncodeToString(signingKey(secret, day, region, "dynamodb")), derive(secret, day, region, "dynamodb"); got != want {
					t.Errorf("signingKey(%s, %s, %s) = %s, want %s", secret, day, region, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	keyCache.Lock()
	n := len(keyCache.m)
	keyCache.Unlock()
	if n > 16 {
		t.Errorf("key cache holds %d keys, want at most 16", n)
	}
}

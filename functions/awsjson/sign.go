package awsjson

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sign adds X-Amz-Date, X-Amz-Security-Token (with a session token) and
// Authorization to req, producing the same signature as aws-sdk-go-v2's
// aws/signer/v4 for this request: it signs every header the request carries
// when sent (Accept-Encoding, Content-Type, X-Amz-Target and the two above)
// plus host and content-length, all of which are known here, so the
// canonical headers are written in their sorted order directly. The path is
// always "/" and there is no query.
func sign(req *http.Request, cred Credentials, region, service, payloadHash string, t time.Time) {
	t = t.UTC()
	amzDate := t.Format("20060102T150405Z")
	day := amzDate[:8]
	req.Header["X-Amz-Date"] = []string{amzDate}
	if cred.SessionToken != "" {
		req.Header["X-Amz-Security-Token"] = []string{cred.SessionToken}
	}

	var canon strings.Builder
	canon.Grow(512 + len(cred.SessionToken))
	canon.WriteString("POST\n/\n\n")
	header := func(name, value string) {
		canon.WriteString(name)
		canon.WriteByte(':')
		canon.WriteString(stripExcessSpaces(value))
		canon.WriteByte('\n')
	}
	header("accept-encoding", req.Header.Get("Accept-Encoding"))
	signed := "accept-encoding;"
	if req.ContentLength > 0 { // the SDK signs content-length only when positive
		header("content-length", strconv.FormatInt(req.ContentLength, 10))
		signed += "content-length;"
	}
	header("content-type", req.Header.Get("Content-Type"))
	header("host", req.Host)
	header("x-amz-date", amzDate)
	signed += "content-type;host;x-amz-date;"
	if cred.SessionToken != "" {
		header("x-amz-security-token", cred.SessionToken)
		signed += "x-amz-security-token;"
	}
	header("x-amz-target", req.Header.Get("X-Amz-Target"))
	signed += "x-amz-target"
	canon.WriteByte('\n')
	canon.WriteString(signed)
	canon.WriteByte('\n')
	canon.WriteString(payloadHash)

	scope := day + "/" + region + "/" + service + "/aws4_request"
	canonHash := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(canonHash[:])
	sig := hex.EncodeToString(hmacSHA256(signingKey(cred.SecretAccessKey, day, region, service), toSign))
	req.Header["Authorization"] = []string{"AWS4-HMAC-SHA256 Credential=" + cred.AccessKeyID + "/" + scope +
		", SignedHeaders=" + signed + ", Signature=" + sig}
}

// stripExcessSpaces trims spaces and collapses runs of them, as the SDK
// does for canonical header values (only ' ', not other white space).
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' || s[i-1] != ' ' { // s[0] is not ' ' after Trim
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// keyCache holds derived signing keys: four HMACs per request are cheap but
// not free, and the key only changes with the day (or the credentials).
var keyCache struct {
	sync.Mutex
	m map[keyID][]byte
}

type keyID struct{ secret, day, region, service string }

func signingKey(secret, day, region, service string) []byte {
	id := keyID{secret, day, region, service}
	keyCache.Lock()
	defer keyCache.Unlock()
	if k, ok := keyCache.m[id]; ok {
		return k
	}
	if keyCache.m == nil || len(keyCache.m) >= 16 { // old days and rotated secrets go
		keyCache.m = make(map[keyID][]byte)
	}
	k := hmacSHA256([]byte("AWS4"+secret), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	keyCache.m[id] = k
	return k
}

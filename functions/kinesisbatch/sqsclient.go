package kinesisbatch

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/streamproc/streamproc/functions/awsjson"
)

// NewSQSClient returns an [SQSSender] that calls SQS's SendMessageBatch
// through c, a client for the SQS JSON protocol (c.Service must be
// awsjson.SQS; build it with awsjson.NewFromEnv(awsjson.SQS) or set its
// fields). c's retries apply to each call; SQSQuarantine retries the
// entries SQS fails on top of that.
//
// Like aws-sdk-go-v2's SQS client it checks the MD5OfMessageBody SQS
// returns for every accepted entry against the body sent, and fails the
// call if one differs (the message may have been corrupted on the way). An
// entry whose body or attributes are not valid UTF-8 is not sent: it comes
// back in Failed with Code "InvalidMessageContents" and SenderFault set.
func NewSQSClient(c *awsjson.Client) SQSSender {
	return sqsClient{c: c}
}

type sqsClient struct{ c *awsjson.Client }

// The SQS JSON protocol's SendMessageBatch request and answer, with SQS's
// member names (case matters to SQS).
type (
	sqsAttributeValue struct {
		DataType    string `json:"DataType"`
		StringValue string `json:"StringValue"`
	}
	sqsRequestEntry struct {
		ID                string                       `json:"Id"`
		MessageBody       string                       `json:"MessageBody"`
		MessageAttributes map[string]sqsAttributeValue `json:"MessageAttributes,omitempty"`
	}
	sqsSendMessageBatchRequest struct {
		QueueURL string            `json:"QueueUrl"`
		Entries  []sqsRequestEntry `json:"Entries"`
	}
	sqsSendMessageBatchAnswer struct {
		Successful []struct {
			ID               string `json:"Id"`
			MessageID        string `json:"MessageId"`
			MD5OfMessageBody string `json:"MD5OfMessageBody"`
		} `json:"Successful"`
		Failed []struct {
			ID          string `json:"Id"`
			Code        string `json:"Code"`
			Message     string `json:"Message"`
			SenderFault bool   `json:"SenderFault"`
		} `json:"Failed"`
	}
)

func (s sqsClient) SendMessageBatch(ctx context.Context, in *SendMessageBatchInput) (*SendMessageBatchOutput, error) {
	if s.c == nil {
		return nil, errors.New("kinesisbatch: NewSQSClient was given a nil awsjson.Client")
	}
	if s.c.Service.TargetPrefix != awsjson.SQS.TargetPrefix {
		return nil, fmt.Errorf("kinesisbatch: NewSQSClient needs an awsjson.Client for SQS (Service: awsjson.SQS), not for %q", s.c.Service.Name)
	}
	req := sqsSendMessageBatchRequest{QueueURL: in.QueueUrl, Entries: make([]sqsRequestEntry, 0, len(in.Entries))}
	bodies := make(map[string]string, len(in.Entries))
	var rejected []BatchResultErrorEntry
	for _, e := range in.Entries {
		if what := invalidUTF8(e); what != "" {
			// encoding/json would send U+FFFD for the invalid bytes: SQS
			// would store another body than ours, and the MD5 check would
			// fail the call after the message was stored, so that every
			// retry duplicates it. SQS takes Unicode text only anyway.
			rejected = append(rejected, BatchResultErrorEntry{Id: e.Id, Code: "InvalidMessageContents", SenderFault: true,
				Message: what + " is not valid UTF-8 (SQS takes Unicode text only); the message was not sent"})
			continue
		}
		var attrs map[string]sqsAttributeValue
		if len(e.MessageAttributes) > 0 {
			attrs = make(map[string]sqsAttributeValue, len(e.MessageAttributes))
			for k, v := range e.MessageAttributes {
				attrs[k] = sqsAttributeValue{DataType: "String", StringValue: v}
			}
		}
		req.Entries = append(req.Entries, sqsRequestEntry{ID: e.Id, MessageBody: e.MessageBody, MessageAttributes: attrs})
		bodies[e.Id] = e.MessageBody
	}
	var ans sqsSendMessageBatchAnswer
	if len(req.Entries) > 0 {
		if err := s.c.Call(ctx, "SendMessageBatch", &req, &ans); err != nil {
			return nil, err
		}
	}
	out := &SendMessageBatchOutput{
		Successful: make([]SendMessageBatchResultEntry, 0, len(ans.Successful)),
		Failed:     make([]BatchResultErrorEntry, 0, len(ans.Failed)),
	}
	var mismatched []string
	for _, r := range ans.Successful {
		if body, sent := bodies[r.ID]; sent && r.MD5OfMessageBody != "" {
			sum := md5.Sum([]byte(body))
			if got := hex.EncodeToString(sum[:]); !strings.EqualFold(got, r.MD5OfMessageBody) {
				mismatched = append(mismatched, fmt.Sprintf("entry %s (message %s): SQS reports MD5 %s, the body sent has %s", r.ID, r.MessageID, r.MD5OfMessageBody, got))
			}
		}
		out.Successful = append(out.Successful, SendMessageBatchResultEntry{Id: r.ID, MessageId: r.MessageID})
	}
	if len(mismatched) > 0 {
		return nil, errors.New("SQS SendMessageBatch: message checksum mismatch: " + strings.Join(mismatched, "; "))
	}
	for _, f := range ans.Failed {
		out.Failed = append(out.Failed, BatchResultErrorEntry{Id: f.ID, Code: f.Code, Message: f.Message, SenderFault: f.SenderFault})
	}
	out.Failed = append(out.Failed, rejected...)
	return out, nil
}

// invalidUTF8 names the part of e that is not valid UTF-8, or returns "".
func invalidUTF8(e SendMessageBatchRequestEntry) string {
	if !utf8.ValidString(e.MessageBody) {
		return "the message body"
	}
	for k, v := range e.MessageAttributes {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return "message attribute " + strconv.QuoteToASCII(k)
		}
	}
	return ""
}

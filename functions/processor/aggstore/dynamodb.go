package aggstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/streamproc/streamproc/functions/awsjson"
)

// NewDynamoDB returns the API over DynamoDB's JSON protocol through c (whose
// Service is awsjson.DynamoDB). c's retries (throttling, 5xx, connection
// errors, CRC mismatches) apply to every call; PutItem's conditional check
// keeps a retried write that already took effect from applying twice.
func NewDynamoDB(c *awsjson.Client) API { return &dynamoDB{c: c} }

type dynamoDB struct{ c *awsjson.Client }

func (d *dynamoDB) BatchGetItem(ctx context.Context, in *BatchGetItemInput) (*BatchGetItemOutput, error) {
	out := new(BatchGetItemOutput)
	if err := d.c.Call(ctx, "BatchGetItem", in, out); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *dynamoDB) GetItem(ctx context.Context, in *GetItemInput) (*GetItemOutput, error) {
	out := new(GetItemOutput)
	if err := d.c.Call(ctx, "GetItem", in, out); err != nil {
		return nil, err
	}
	return out, nil
}

// codeConditionalCheckFailed is the error code of a false PutItem condition.
const codeConditionalCheckFailed = "ConditionalCheckFailedException"

// PutItem encodes its request by hand (it is the store's hot path) and maps
// a ConditionalCheckFailedException answer to *ConditionalCheckFailedException
// with the current item DynamoDB put in the error body (ALL_OLD).
func (d *dynamoDB) PutItem(ctx context.Context, in *PutItemInput) (*PutItemOutput, error) {
	body, err := appendPutItem(make([]byte, 0, putItemJSONSize(in)), in)
	if err != nil {
		return nil, err
	}
	if _, err := d.c.Do(ctx, "PutItem", body); err != nil {
		var ae *awsjson.APIError
		if errors.As(err, &ae) && ae.Code == codeConditionalCheckFailed {
			return nil, conditionFailed(ae)
		}
		return nil, err
	}
	return &PutItemOutput{}, nil
}

// conditionFailed turns DynamoDB's ConditionalCheckFailedException answer
// into the store's error. An item that does not decode is left out (the store
// then re-reads it).
func conditionFailed(ae *awsjson.APIError) *ConditionalCheckFailedException {
	e := &ConditionalCheckFailedException{Message: ae.Message, Err: ae}
	var body struct {
		Item Item `json:"Item"`
	}
	if len(ae.Body) > 0 && json.Unmarshal(ae.Body, &body) == nil && len(body.Item) > 0 {
		e.Item = body.Item
	}
	return e
}

// appendPutItem appends in's DynamoDB PutItem request document (the
// same JSON encoding/json would produce for it, keys in a different order
// maybe) to dst. An attribute value without S, N or B is an error.
func appendPutItem(dst []byte, in *PutItemInput) ([]byte, error) {
	var err error
	dst = append(dst, `{"TableName":`...)
	dst = appendString(dst, in.TableName)
	dst = append(dst, `,"Item":`...)
	if dst, err = appendItem(dst, in.Item); err != nil {
		return nil, err
	}
	if in.ConditionExpression != "" {
		dst = append(dst, `,"ConditionExpression":`...)
		dst = appendString(dst, in.ConditionExpression)
	}
	if len(in.ExpressionAttributeNames) > 0 {
		dst = append(dst, `,"ExpressionAttributeNames":{`...)
		first := true
		for k, v := range in.ExpressionAttributeNames {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, v)
		}
		dst = append(dst, '}')
	}
	if len(in.ExpressionAttributeValues) > 0 {
		dst = append(dst, `,"ExpressionAttributeValues":`...)
		if dst, err = appendItem(dst, in.ExpressionAttributeValues); err != nil {
			return nil, err
		}
	}
	if in.ReturnValuesOnConditionCheckFailure != "" {
		dst = append(dst, `,"ReturnValuesOnConditionCheckFailure":`...)
		dst = appendString(dst, string(in.ReturnValuesOnConditionCheckFailure))
	}
	return append(dst, '}'), nil
}

// putItemJSONSize is about the length of in's request document (exact when
// no string needs escaping), so that encoding it allocates once.
func putItemJSONSize(in *PutItemInput) int {
	n := 160 + len(in.TableName) + len(in.ConditionExpression) + itemJSONSize(in.Item) + itemJSONSize(in.ExpressionAttributeValues)
	for k, v := range in.ExpressionAttributeNames {
		n += len(k) + len(v) + 6
	}
	return n
}

func itemJSONSize(item Item) int {
	n := 2
	for k, v := range item {
		// "k":{"T":"v"},
		n += len(k) + len(v.S) + len(v.N) + base64.StdEncoding.EncodedLen(len(v.B)) + 12
	}
	return n
}

func appendItem(dst []byte, item Item) ([]byte, error) {
	dst = append(dst, '{')
	first := true
	var err error
	for k, v := range item {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendString(dst, k)
		dst = append(dst, ':')
		if dst, err = appendAttributeValue(dst, v); err != nil {
			return nil, fmt.Errorf("aggstore: attribute %q: %w", k, err)
		}
	}
	return append(dst, '}'), nil
}

func appendAttributeValue(dst []byte, v AttributeValue) ([]byte, error) {
	switch v.Type {
	case TypeS:
		dst = append(dst, `{"S":`...)
		dst = appendString(dst, v.S)
	case TypeN:
		dst = append(dst, `{"N":`...)
		dst = appendString(dst, v.N)
	case TypeB:
		dst = append(dst, `{"B":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, v.B)
		dst = append(dst, '"')
	default:
		return nil, fmt.Errorf("cannot encode an attribute value of type %s", v.Type)
	}
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as encoding/json encodes
// it with HTML escaping off: '"', '\\' and control characters escaped (\b,
// \f, \n, \r, \t by name), each invalid UTF-8 byte replaced by U+FFFD, and
// U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

package aggstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// The wire types of the three DynamoDB calls the store makes. Names and JSON
// shapes are DynamoDB's; only what the store uses is modelled.

// API is the part of DynamoDB the store uses. NewDynamoDB returns the real
// implementation; functions/processor/aggstore/fakedb is an in-memory one for tests.
type API interface {
	BatchGetItem(ctx context.Context, in *BatchGetItemInput) (*BatchGetItemOutput, error)
	GetItem(ctx context.Context, in *GetItemInput) (*GetItemOutput, error)
	PutItem(ctx context.Context, in *PutItemInput) (*PutItemOutput, error)
}

// AttributeType says which member of an AttributeValue is set.
type AttributeType uint8

const (
	// TypeNone is the zero AttributeValue: no value (what a missing
	// attribute reads as). It cannot be written.
	TypeNone AttributeType = iota
	// TypeS is a string: AttributeValue.S.
	TypeS
	// TypeN is a number, as its decimal text: AttributeValue.N.
	TypeN
	// TypeB is binary: AttributeValue.B.
	TypeB
	// TypeOther is a value of a type the store does not use (BOOL, NULL,
	// M, L, SS, NS, BS) as decoded from an answer; its content is dropped
	// and it cannot be written.
	TypeOther
)

func (t AttributeType) String() string {
	switch t {
	case TypeNone:
		return "none"
	case TypeS:
		return "S"
	case TypeN:
		return "N"
	case TypeB:
		return "B"
	case TypeOther:
		return "other"
	}
	return fmt.Sprintf("AttributeType(%d)", uint8(t))
}

// AttributeValue is one DynamoDB attribute value of type S, N or B: Type says
// which of S, N and B holds it. It is a plain value (no interface boxing); on
// the wire it is {"S":"..."}, {"N":"..."} or {"B":"<base64>"}.
type AttributeValue struct {
	Type AttributeType
	S    string
	N    string
	B    []byte
}

// StringValue is the S value s.
func StringValue(s string) AttributeValue { return AttributeValue{Type: TypeS, S: s} }

// NumberValue is the N value whose decimal text is n.
func NumberValue(n string) AttributeValue { return AttributeValue{Type: TypeN, N: n} }

// BinaryValue is the B value b (not copied).
func BinaryValue(b []byte) AttributeValue { return AttributeValue{Type: TypeB, B: b} }

// MarshalJSON encodes v in DynamoDB's JSON form. TypeNone and TypeOther
// values are an error.
func (v AttributeValue) MarshalJSON() ([]byte, error) {
	return appendAttributeValue(make([]byte, 0, 16+len(v.S)+len(v.N)+base64.StdEncoding.EncodedLen(len(v.B))), v)
}

// UnmarshalJSON decodes DynamoDB's JSON form. S, N and B values are kept;
// any other type decodes as TypeOther; JSON null leaves v unchanged.
func (v *AttributeValue) UnmarshalJSON(b []byte) error {
	// Fast path for what DynamoDB sends: {"S":"..."}, {"N":"..."},
	// {"B":"..."} without whitespace and, for S and N, without escapes.
	if len(b) >= 8 && b[0] == '{' && b[1] == '"' && b[3] == '"' && b[4] == ':' && b[5] == '"' &&
		b[len(b)-2] == '"' && b[len(b)-1] == '}' {
		body := b[6 : len(b)-2]
		if plainJSONString(body) {
			switch b[2] {
			case 'S':
				*v = AttributeValue{Type: TypeS, S: string(body)}
				return nil
			case 'N':
				*v = AttributeValue{Type: TypeN, N: string(body)}
				return nil
			case 'B':
				if d, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(body))), body); err == nil {
					*v = AttributeValue{Type: TypeB, B: d}
					return nil
				}
			}
		}
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	var w struct {
		S *string `json:"S"`
		N *string `json:"N"`
		B *[]byte `json:"B"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("aggstore: decoding an attribute value: %w", err)
	}
	switch {
	case w.S != nil:
		*v = AttributeValue{Type: TypeS, S: *w.S}
	case w.N != nil:
		*v = AttributeValue{Type: TypeN, N: *w.N}
	case w.B != nil:
		*v = AttributeValue{Type: TypeB, B: *w.B}
	default:
		*v = AttributeValue{Type: TypeOther}
	}
	return nil
}

// plainJSONString reports whether b, the inside of a JSON string literal,
// decodes to itself: no quote, backslash or control character, valid UTF-8.
func plainJSONString(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}

// Item is a DynamoDB item (or key): attribute name to value.
type Item = map[string]AttributeValue

// KeysAndAttributes is the keys to read from one table.
type KeysAndAttributes struct {
	Keys           []Item `json:"Keys"`
	ConsistentRead bool   `json:"ConsistentRead,omitempty"`
}

// BatchGetItemInput reads up to 100 items.
type BatchGetItemInput struct {
	RequestItems map[string]KeysAndAttributes `json:"RequestItems"`
}

// BatchGetItemOutput is the items found, per table, and the keys DynamoDB
// did not process (throttling, or the 16 MB answer limit): ask again.
type BatchGetItemOutput struct {
	Responses       map[string][]Item            `json:"Responses,omitempty"`
	UnprocessedKeys map[string]KeysAndAttributes `json:"UnprocessedKeys,omitempty"`
}

// GetItemInput reads one item.
type GetItemInput struct {
	TableName      string `json:"TableName"`
	Key            Item   `json:"Key"`
	ConsistentRead bool   `json:"ConsistentRead,omitempty"`
}

// GetItemOutput is the item read; Item is nil if there is none.
type GetItemOutput struct {
	Item Item `json:"Item,omitempty"`
}

// ReturnValuesOnConditionCheckFailure is what a failed condition returns.
type ReturnValuesOnConditionCheckFailure string

const (
	// ReturnValuesOnConditionCheckFailureNone returns nothing (DynamoDB's
	// default).
	ReturnValuesOnConditionCheckFailureNone ReturnValuesOnConditionCheckFailure = "NONE"
	// ReturnValuesOnConditionCheckFailureAllOld returns the current item in
	// the ConditionalCheckFailedException.
	ReturnValuesOnConditionCheckFailureAllOld ReturnValuesOnConditionCheckFailure = "ALL_OLD"
)

// PutItemInput writes one item, on a condition if ConditionExpression is set.
// Empty fields are left out of the request.
type PutItemInput struct {
	TableName                           string                              `json:"TableName"`
	Item                                Item                                `json:"Item"`
	ConditionExpression                 string                              `json:"ConditionExpression,omitempty"`
	ExpressionAttributeNames            map[string]string                   `json:"ExpressionAttributeNames,omitempty"`
	ExpressionAttributeValues           map[string]AttributeValue           `json:"ExpressionAttributeValues,omitempty"`
	ReturnValuesOnConditionCheckFailure ReturnValuesOnConditionCheckFailure `json:"ReturnValuesOnConditionCheckFailure,omitempty"`
}

// PutItemOutput is a successful PutItem's answer (the store asks for nothing
// back).
type PutItemOutput struct{}

// ConditionalCheckFailedException is PutItem's answer when its condition is
// false. Item is the current item when the input asked for
// ReturnValuesOnConditionCheckFailureAllOld and the item exists, else nil.
type ConditionalCheckFailedException struct {
	Message string
	Item    Item
	// Err is the service's error answer (an *awsjson.APIError from
	// NewDynamoDB's client), if any.
	Err error
}

func (e *ConditionalCheckFailedException) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "ConditionalCheckFailedException: " + e.Message
}

// Unwrap returns Err.
func (e *ConditionalCheckFailedException) Unwrap() error { return e.Err }

// ErrorCode is DynamoDB's error code, "ConditionalCheckFailedException".
func (e *ConditionalCheckFailedException) ErrorCode() string {
	return "ConditionalCheckFailedException"
}

// Package fakedb is an in-memory fake of the three DynamoDB calls the
// aggregate store makes (BatchGetItem, GetItem, PutItem with the store's two
// condition forms), with hooks to inject failures. It is a test double, not an
// emulator: integration tests use dynalite.
package fakedb

import (
	"context"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// DB is the fake. The zero value is not usable; call New.
type DB struct {
	mu    sync.Mutex
	items map[[2]string]map[string]types.AttributeValue
	// Hook, if set, runs before every call with the operation name and,
	// for GetItem/PutItem, the item's key; a non-nil error fails the call
	// without effect. For PutItem, returning ErrAfter applies the write and
	// then fails the call (a timeout after the write took effect).
	Hook func(op string, key [2]string) error
	// Unprocessed, if set, decides per BatchGetItem key whether to return it
	// as unprocessed.
	Unprocessed func(key [2]string) bool
	// Calls counts calls per operation.
	Calls map[string]int
}

// ErrAfter is returned by a PutItem Hook to fail the call after its effect.
var ErrAfter = &smithy.GenericAPIError{Code: "RequestTimeout", Message: "fake: timed out after the write"}

// New returns an empty fake table keyed by sensor_id and window_start.
func New() *DB {
	return &DB{items: map[[2]string]map[string]types.AttributeValue{}, Calls: map[string]int{}}
}

// Throttled is the error DynamoDB returns when a table is over its capacity.
func Throttled() error {
	return &types.ProvisionedThroughputExceededException{Message: strp("fake: throughput exceeded")}
}

func strp(s string) *string { return &s }

func key(item map[string]types.AttributeValue) [2]string {
	pk, _ := item["sensor_id"].(*types.AttributeValueMemberS)
	sk, _ := item["window_start"].(*types.AttributeValueMemberS)
	var k [2]string
	if pk != nil {
		k[0] = pk.Value
	}
	if sk != nil {
		k[1] = sk.Value
	}
	return k
}

func (d *DB) hook(op string, k [2]string) error {
	d.Calls[op]++
	if d.Hook == nil {
		return nil
	}
	d.mu.Unlock()
	err := d.Hook(op, k)
	d.mu.Lock()
	return err
}

// BatchGetItem implements aggstore.API.
func (d *DB) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.hook("BatchGetItem", [2]string{}); err != nil {
		return nil, err
	}
	out := &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}, UnprocessedKeys: map[string]types.KeysAndAttributes{}}
	for table, ka := range in.RequestItems {
		if len(ka.Keys) > 100 {
			return nil, &smithy.GenericAPIError{Code: "ValidationException", Message: "Too many items requested for the BatchGetItem call"}
		}
		for _, k := range ka.Keys {
			kk := key(k)
			if d.Unprocessed != nil && d.Unprocessed(kk) {
				u := out.UnprocessedKeys[table]
				u.Keys = append(u.Keys, k)
				u.ConsistentRead = ka.ConsistentRead
				out.UnprocessedKeys[table] = u
				continue
			}
			if it, ok := d.items[kk]; ok {
				out.Responses[table] = append(out.Responses[table], copyItem(it))
			}
		}
	}
	return out, nil
}

// GetItem implements aggstore.API.
func (d *DB) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := key(in.Key)
	if err := d.hook("GetItem", k); err != nil {
		return nil, err
	}
	out := &dynamodb.GetItemOutput{}
	if it, ok := d.items[k]; ok {
		out.Item = copyItem(it)
	}
	return out, nil
}

// PutItem implements aggstore.API for the conditions
// "attribute_not_exists(#k)" and "#v = :v".
func (d *DB) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := key(in.Item)
	hookErr := d.hook("PutItem", k)
	if hookErr != nil && hookErr != ErrAfter {
		return nil, hookErr
	}
	old, exists := d.items[k]
	ok := true
	if in.ConditionExpression != nil {
		switch *in.ConditionExpression {
		case "attribute_not_exists(#k)":
			ok = !exists
		case "#v = :v":
			name := in.ExpressionAttributeNames["#v"]
			want := in.ExpressionAttributeValues[":v"].(*types.AttributeValueMemberN).Value
			have, _ := old[name].(*types.AttributeValueMemberN)
			ok = exists && have != nil && have.Value == want
		default:
			return nil, fmt.Errorf("fakedb: condition %q not supported", *in.ConditionExpression)
		}
	}
	if !ok {
		e := &types.ConditionalCheckFailedException{Message: strp("The conditional request failed")}
		if exists && in.ReturnValuesOnConditionCheckFailure == types.ReturnValuesOnConditionCheckFailureAllOld {
			e.Item = copyItem(old)
		}
		return nil, e
	}
	d.items[k] = copyItem(in.Item)
	return &dynamodb.PutItemOutput{}, hookErr
}

// Items returns a copy of every item.
func (d *DB) Items() []map[string]types.AttributeValue {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []map[string]types.AttributeValue
	for _, it := range d.items {
		out = append(out, copyItem(it))
	}
	return out
}

// Put stores an item unconditionally (test setup).
func (d *DB) Put(item map[string]types.AttributeValue) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items[key(item)] = copyItem(item)
}

func copyItem(it map[string]types.AttributeValue) map[string]types.AttributeValue {
	out := make(map[string]types.AttributeValue, len(it))
	for k, v := range it {
		out[k] = v
	}
	return out
}

// Passthrough returns an API view of d that skips its Hook, for a second
// writer inside a hook.
func Passthrough(d *DB) *Direct { return &Direct{d} }

// Direct calls a DB without its hooks.
type Direct struct{ d *DB }

func (p *Direct) without(f func()) {
	p.d.mu.Lock()
	h, u := p.d.Hook, p.d.Unprocessed
	p.d.Hook, p.d.Unprocessed = nil, nil
	p.d.mu.Unlock()
	defer func() {
		p.d.mu.Lock()
		p.d.Hook, p.d.Unprocessed = h, u
		p.d.mu.Unlock()
	}()
	f()
}

// BatchGetItem implements aggstore.API.
func (p *Direct) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (out *dynamodb.BatchGetItemOutput, err error) {
	p.without(func() { out, err = p.d.BatchGetItem(ctx, in, o...) })
	return
}

// GetItem implements aggstore.API.
func (p *Direct) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (out *dynamodb.GetItemOutput, err error) {
	p.without(func() { out, err = p.d.GetItem(ctx, in, o...) })
	return
}

// PutItem implements aggstore.API.
func (p *Direct) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (out *dynamodb.PutItemOutput, err error) {
	p.without(func() { out, err = p.d.PutItem(ctx, in, o...) })
	return
}

// Package fakedb is an in-memory fake of the three DynamoDB calls the
// aggregate store makes (BatchGetItem, GetItem, PutItem with the store's two
// condition forms), with hooks to inject failures. It is a test double, not an
// emulator: integration tests use dynalite.
package fakedb

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/processor/aggstore"
)

// DB is the fake. The zero value is not usable; call New.
type DB struct {
	mu    sync.Mutex
	items map[[2]string]aggstore.Item
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

// ErrAfter is returned by a PutItem Hook to fail the call after its effect:
// what a client sees when the answer to a write that was applied is lost (a
// 5xx, so transient).
var ErrAfter = &awsjson.APIError{
	Service: "DynamoDB", Operation: "PutItem", StatusCode: 504,
	Code: "RequestTimeout", Message: "fake: timed out after the write",
}

// New returns an empty fake table keyed by sensor_id and window_start.
func New() *DB {
	return &DB{items: map[[2]string]aggstore.Item{}, Calls: map[string]int{}}
}

// Throttled is the error DynamoDB returns when a table is over its capacity:
// ProvisionedThroughputExceededException, HTTP 400, a throttling error.
func Throttled() error {
	return &awsjson.APIError{
		Service: "DynamoDB", StatusCode: 400,
		Code: "ProvisionedThroughputExceededException", Message: "fake: throughput exceeded",
	}
}

func apiError(op string, status int, code, msg string) *awsjson.APIError {
	return &awsjson.APIError{Service: "DynamoDB", Operation: op, StatusCode: status, Code: code, Message: msg}
}

func key(item aggstore.Item) [2]string {
	return [2]string{item["sensor_id"].S, item["window_start"].S}
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
func (d *DB) BatchGetItem(_ context.Context, in *aggstore.BatchGetItemInput) (*aggstore.BatchGetItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.hook("BatchGetItem", [2]string{}); err != nil {
		return nil, err
	}
	out := &aggstore.BatchGetItemOutput{Responses: map[string][]aggstore.Item{}, UnprocessedKeys: map[string]aggstore.KeysAndAttributes{}}
	for table, ka := range in.RequestItems {
		if len(ka.Keys) > 100 {
			return nil, apiError("BatchGetItem", 400, "ValidationException", "Too many items requested for the BatchGetItem call")
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
				out.Responses[table] = append(out.Responses[table], maps.Clone(it))
			}
		}
	}
	return out, nil
}

// GetItem implements aggstore.API.
func (d *DB) GetItem(_ context.Context, in *aggstore.GetItemInput) (*aggstore.GetItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := key(in.Key)
	if err := d.hook("GetItem", k); err != nil {
		return nil, err
	}
	out := &aggstore.GetItemOutput{}
	if it, ok := d.items[k]; ok {
		out.Item = maps.Clone(it)
	}
	return out, nil
}

// PutItem implements aggstore.API for the conditions
// "attribute_not_exists(#k)" and "#v = :v".
func (d *DB) PutItem(_ context.Context, in *aggstore.PutItemInput) (*aggstore.PutItemOutput, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := key(in.Item)
	hookErr := d.hook("PutItem", k)
	if hookErr != nil && hookErr != ErrAfter {
		return nil, hookErr
	}
	old, exists := d.items[k]
	ok := true
	switch in.ConditionExpression {
	case "":
	case "attribute_not_exists(#k)":
		ok = !exists
	case "#v = :v":
		want := in.ExpressionAttributeValues[":v"]
		have := old[in.ExpressionAttributeNames["#v"]]
		ok = exists && want.Type == aggstore.TypeN && have.Type == aggstore.TypeN && have.N == want.N
	default:
		return nil, fmt.Errorf("fakedb: condition %q not supported", in.ConditionExpression)
	}
	if !ok {
		const msg = "The conditional request failed"
		e := &aggstore.ConditionalCheckFailedException{Message: msg, Err: apiError("PutItem", 400, "ConditionalCheckFailedException", msg)}
		if exists && in.ReturnValuesOnConditionCheckFailure == aggstore.ReturnValuesOnConditionCheckFailureAllOld {
			e.Item = maps.Clone(old)
		}
		return nil, e
	}
	d.items[k] = maps.Clone(in.Item)
	return &aggstore.PutItemOutput{}, hookErr
}

// Items returns a copy of every item.
func (d *DB) Items() []aggstore.Item {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []aggstore.Item
	for _, it := range d.items {
		out = append(out, maps.Clone(it))
	}
	return out
}

// Put stores an item unconditionally (test setup).
func (d *DB) Put(item aggstore.Item) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.items[key(item)] = maps.Clone(item)
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
func (p *Direct) BatchGetItem(ctx context.Context, in *aggstore.BatchGetItemInput) (out *aggstore.BatchGetItemOutput, err error) {
	p.without(func() { out, err = p.d.BatchGetItem(ctx, in) })
	return
}

// GetItem implements aggstore.API.
func (p *Direct) GetItem(ctx context.Context, in *aggstore.GetItemInput) (out *aggstore.GetItemOutput, err error) {
	p.without(func() { out, err = p.d.GetItem(ctx, in) })
	return
}

// PutItem implements aggstore.API.
func (p *Direct) PutItem(ctx context.Context, in *aggstore.PutItemInput) (out *aggstore.PutItemOutput, err error) {
	p.without(func() { out, err = p.d.PutItem(ctx, in) })
	return
}

package eventtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// CreateDynamoTable creates the engine's state table (pk S hash, sk S range,
// on demand) and waits until it is ACTIVE, for at most a minute. For
// emulators and local runs; in AWS the stack owns the table (with TTL on
// ttl). A table of that name that exists already is waited for the same way.
func CreateDynamoTable(ctx context.Context, db DynamoAPI, table string) error {
	type def struct{ AttributeName, AttributeType string }
	type ks struct{ AttributeName, KeyType string }
	err := db.Call(ctx, "CreateTable", map[string]any{
		"TableName":            table,
		"AttributeDefinitions": []def{{DynamoPartitionKey, "S"}, {DynamoSortKey, "S"}},
		"KeySchema":            []ks{{DynamoPartitionKey, "HASH"}, {DynamoSortKey, "RANGE"}},
		"BillingMode":          "PAY_PER_REQUEST",
	}, nil)
	if err != nil && !isCode(err, "ResourceInUseException") {
		return fmt.Errorf("eventtime: creating table %s: %w", table, err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		var out struct{ Table struct{ TableStatus string } }
		err := db.Call(ctx, "DescribeTable", map[string]string{"TableName": table}, &out)
		switch {
		case err == nil && out.Table.TableStatus == "ACTIVE":
			return nil
		case err != nil && !isCode(err, "ResourceNotFoundException"):
			return fmt.Errorf("eventtime: waiting for table %s: %w", table, err)
		}
		if err := ctxsleep.Sleep(ctx, delay); err != nil {
			return errors.Join(fmt.Errorf("eventtime: table %s not ACTIVE", table), err)
		}
	}
}

package aggstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
	"github.com/streamproc/streamproc/functions/processor/config"
	"github.com/streamproc/streamproc/internal/ctxsleep"
)

// tableWait bounds how long CreateTable waits for the table to be ACTIVE,
// and the delays between its DescribeTable polls.
const (
	tableWait     = time.Minute
	tableMinDelay = 50 * time.Millisecond
	tableMaxDelay = 500 * time.Millisecond
)

type attributeDefinition struct {
	AttributeName string `json:"AttributeName"`
	AttributeType string `json:"AttributeType"`
}

type keySchemaElement struct {
	AttributeName string `json:"AttributeName"`
	KeyType       string `json:"KeyType"`
}

type createTableInput struct {
	TableName            string                `json:"TableName"`
	AttributeDefinitions []attributeDefinition `json:"AttributeDefinitions"`
	KeySchema            []keySchemaElement    `json:"KeySchema"`
	BillingMode          string                `json:"BillingMode"`
}

// CreateTable creates an aggregate table with the schema the construct
// deploys (sensor_id S hash key, window_start S range key, on demand) through
// c (a DynamoDB client) and waits until it is ACTIVE, polling DescribeTable
// for at most a minute and no longer than ctx allows. A table of that name
// that already exists with the same key is waited for the same way. For
// emulators and local runs; in AWS the stack owns the table.
func CreateTable(ctx context.Context, c *awsjson.Client, table string) error {
	in := createTableInput{
		TableName: table,
		AttributeDefinitions: []attributeDefinition{
			{AttributeName: config.TablePartitionKey, AttributeType: "S"},
			{AttributeName: config.TableSortKey, AttributeType: "S"},
		},
		KeySchema: []keySchemaElement{
			{AttributeName: config.TablePartitionKey, KeyType: "HASH"},
			{AttributeName: config.TableSortKey, KeyType: "RANGE"},
		},
		BillingMode: "PAY_PER_REQUEST",
	}
	// ResourceInUseException: the table exists, made by this very call when
	// c retried an attempt whose answer was lost, or earlier. Either way,
	// wait for it to be ACTIVE, as long as its key schema is ours.
	err := c.Call(ctx, "CreateTable", in, nil)
	var ae *awsjson.APIError
	existed := errors.As(err, &ae) && ae.Code == "ResourceInUseException"
	if err != nil && !existed {
		return fmt.Errorf("aggstore: creating table %s: %w", table, err)
	}
	ctx, cancel := context.WithTimeout(ctx, tableWait)
	defer cancel()
	status := "not described yet"
	for delay := tableMinDelay; ; delay = min(2*delay, tableMaxDelay) {
		var out struct {
			Table struct {
				TableStatus string             `json:"TableStatus"`
				KeySchema   []keySchemaElement `json:"KeySchema"`
			} `json:"Table"`
		}
		err := c.Call(ctx, "DescribeTable", map[string]string{"TableName": table}, &out)
		switch {
		case err == nil && existed && !slices.Equal(out.Table.KeySchema, in.KeySchema):
			return fmt.Errorf("aggstore: table %s already exists with key schema %v, not the aggregate table's %v", table, out.Table.KeySchema, in.KeySchema)
		case err == nil && out.Table.TableStatus == "ACTIVE":
			return nil
		case err == nil:
			status = out.Table.TableStatus
		case errors.As(err, &ae) && ae.Code == "ResourceNotFoundException":
			// Not visible yet right after CreateTable: keep polling.
			status = "not found"
		case ctx.Err() == nil:
			return fmt.Errorf("aggstore: waiting for table %s to become ACTIVE: %w", table, err)
		}
		if err := ctxsleep.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("aggstore: table %s not ACTIVE (last status: %s): %w", table, status, err)
		}
	}
}

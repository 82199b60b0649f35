package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// Stage is what differs between the deployments of the example pipeline.
// Select one with `cdk synth -c stage=<name>` (make STAGE=<name> ...).
type Stage struct {
	Name string
	// ShardCount of the provisioned stream.
	ShardCount float64
	// RetentionHours of the stream (24 to 8760).
	RetentionHours float64
	// MaxRecordAgeHours after which a failing batch is described in the DLQ.
	MaxRecordAgeHours float64
	// MemorySize of the processor in MiB.
	MemorySize float64
	// LogRetention of the processor's log group.
	LogRetention awslogs.RetentionDays
	// RemovalPolicy of the stream, DLQ and log group (the event-time state
	// table is always retained).
	RemovalPolicy awscdk.RemovalPolicy
}

// stages are the known stages. dev is cheap and disposable; prod keeps data
// for a week so a failed batch can be redriven for days, and keeps its data
// when the stack is deleted.
var stages = map[string]Stage{
	"dev": {
		Name:              "dev",
		ShardCount:        1,
		RetentionHours:    24,
		MaxRecordAgeHours: 1,
		MemorySize:        256,
		LogRetention:      awslogs.RetentionDays_ONE_WEEK,
		RemovalPolicy:     awscdk.RemovalPolicy_DESTROY,
	},
	"prod": {
		Name:              "prod",
		ShardCount:        2,
		RetentionHours:    7 * 24,
		MaxRecordAgeHours: 24,
		MemorySize:        512,
		LogRetention:      awslogs.RetentionDays_THREE_MONTHS,
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	},
}

// DefaultStage is used when no -c stage=... is given.
const DefaultStage = "dev"

// stageFromContext reads the "stage" context value.
func stageFromContext(app awscdk.App) (Stage, error) {
	name := DefaultStage
	if v := app.Node().TryGetContext(strPtr("stage")); v != nil {
		s, ok := v.(string)
		if !ok {
			return Stage{}, fmt.Errorf("context stage=%v is not a string: pass -c stage=<%s>", v, strings.Join(stageNames(), "|"))
		}
		name = s
	}
	st, ok := stages[name]
	if !ok {
		return Stage{}, fmt.Errorf("unknown stage %q: pass -c stage=<%s> (make STAGE=...)", name, strings.Join(stageNames(), "|"))
	}
	return st, nil
}

func stageNames() []string {
	var names []string
	for n := range stages {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func strPtr(s string) *string { return &s }

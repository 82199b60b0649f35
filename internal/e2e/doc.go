// Package e2e is the end-to-end fault suite of the example pipeline (`make
// e2e`, build tag e2e): each case runs the whole pipeline on this machine
// (internal/localrun: kinesis-local, dynalite, the SQS fake, the real
// processor bootstrap under aws-lambda-rie, the local event source mapping
// poller configured from the synthesized template), produces readings,
// injects a fault, runs to quiescence and checks conservation against an
// oracle computed independently from what was produced.
package e2e

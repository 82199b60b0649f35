package main

import (
	"context"
	"errors"
)

// runPut is implemented by the put subcommand's owner.
func runPut(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}

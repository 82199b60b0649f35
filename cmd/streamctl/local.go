package main

import (
	"context"
	"errors"
)

// runLocal is implemented by the local subcommand's owner.
func runLocal(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}

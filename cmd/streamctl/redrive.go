package main

import (
	"context"
	"errors"
)

// runRedrive is implemented by the redrive subcommand's owner.
func runRedrive(ctx context.Context, args []string) error {
	return errors.New("not implemented yet")
}

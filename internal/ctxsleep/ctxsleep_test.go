package ctxsleep_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/streamproc/streamproc/internal/ctxsleep"
)

func TestSleep(t *testing.T) {
	if err := ctxsleep.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("live context: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := ctxsleep.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: got %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Minute {
		t.Fatal("Sleep waited although the context had ended")
	}
	if err := ctxsleep.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("zero wait on a cancelled context: got %v", err)
	}
	if err := ctxsleep.Sleep(context.Background(), -time.Second); err != nil {
		t.Fatalf("negative wait on a live context: %v", err)
	}
}

// Package dynalitetest starts dynalite (a DynamoDB server that speaks the
// real wire protocol, from npm) on a free loopback port for the orders app's
// integration tests, and stops it when the test binary ends.
//
// It looks for dynalite's cli.js at $DYNALITE_JS, else in the node_modules of
// the streamproc checkout this module's replace directive points at
// (../../node_modules/dynalite: `make setup` there installs it). Without it
// the tests skip, unless $REQUIRE_DYNALITE is set (make test sets it), when
// they fail.
package dynalitetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamproc/streamproc/functions/awsjson"
)

var (
	once     sync.Once
	cmd      *exec.Cmd
	endpoint string
	startErr error
)

// Client returns a DynamoDB client for the package's dynalite, starting it on
// first use. Call Stop from TestMain after m.Run.
func Client(t testing.TB) *awsjson.Client {
	t.Helper()
	once.Do(func() { endpoint, startErr = start() })
	if startErr != nil {
		if errors.Is(startErr, errNotInstalled) && os.Getenv("REQUIRE_DYNALITE") == "" {
			t.Skip(startErr)
		}
		t.Fatal(startErr)
	}
	return &awsjson.Client{
		Service:     awsjson.DynamoDB,
		Region:      "us-east-1",
		Endpoint:    endpoint,
		Credentials: awsjson.Credentials{AccessKeyID: "test", SecretAccessKey: "test"},
	}
}

// Stop stops dynalite if it was started.
func Stop() {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

var errNotInstalled = errors.New("dynalite not found: run `make setup` in the streamproc checkout, or set DYNALITE_JS to dynalite's cli.js")

func cliPath() (string, error) {
	if p := os.Getenv("DYNALITE_JS"); p != "" {
		return p, nil
	}
	_, file, _, _ := runtime.Caller(0)
	// internal/dynalitetest -> the example module -> the streamproc checkout.
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "node_modules", "dynalite", "cli.js")
	if _, err := os.Stat(p); err != nil {
		return "", errNotInstalled
	}
	return p, nil
}

func start() (string, error) {
	js, err := cliPath()
	if err != nil {
		return "", err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd = exec.Command("node", js, "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	cmd.Dir = filepath.Dir(js)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start dynalite: %w", err)
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	// Generous: node starts slowly on a loaded machine.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader("{}"))
		req.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables")
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return url, nil
		}
		select {
		case <-ctx.Done():
			Stop()
			return "", fmt.Errorf("dynalite on %s did not answer within 60s: %s", url, out.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

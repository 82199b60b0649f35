// Package emulator starts the real-protocol AWS emulators this project tests
// against (kinesis-local, dynalite, the Lambda Runtime Interface Emulator) as
// child processes on free loopback ports, and stops them again.
//
// The emulators are installed by `make setup` (npm ci into node_modules/,
// aws-lambda-rie into .bin/). A missing install is an error that says so; it is
// never a silent skip.
package emulator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Process is one running emulator.
type Process struct {
	Name     string
	Endpoint string // http://127.0.0.1:PORT
	Port     int

	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
	once sync.Once
}

// Log returns what the process has written to stdout and stderr so far.
func (p *Process) Log() string { return p.log.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process and its children (it runs in its own process group).
func (p *Process) Stop() {
	p.once.Do(func() {
		if p.cmd.Process != nil {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(3 * time.Second):
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
	})
}

// Kill ends the process abruptly with SIGKILL, as a crash would.
func (p *Process) Kill() {
	p.once.Do(func() {
		if p.cmd.Process != nil {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// RepoRoot finds the repository root (the directory holding package.json and
// go.mod) from the working directory upwards, or from STREAMPROC_ROOT.
func RepoRoot() (string, error) {
	if r := os.Getenv("STREAMPROC_ROOT"); r != "" {
		return r, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, "package.json")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("emulator: repository root not found (no go.mod beside package.json above the working directory); set STREAMPROC_ROOT")
		}
		dir = parent
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// FreePort asks the kernel for an unused loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func nodeModule(name string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "node_modules", name)
	if !fileExists(filepath.Join(dir, "package.json")) {
		return "", fmt.Errorf("emulator: %s is not installed in %s: run `make setup` (npm ci) first", name, filepath.Join(root, "node_modules"))
	}
	return dir, nil
}

// KinesisOptions tunes kinesis-local.
type KinesisOptions struct {
	// Streams to create at start, as "name:shards" (region us-east-1).
	Streams []string
	// Env adds variables (see the kinesis-mock README), e.g. SHARD_LIMIT=100.
	Env []string
}

// StartKinesis runs kinesis-local (kinesis-mock) on a free port and waits until
// it answers and every initial stream is ACTIVE.
func StartKinesis(ctx context.Context, opts KinesisOptions) (*Process, error) {
	dir, err := nodeModule("kinesis-local")
	if err != nil {
		return nil, err
	}
	plain, err := FreePort()
	if err != nil {
		return nil, err
	}
	tls, err := FreePort()
	if err != nil {
		return nil, err
	}
	env := []string{
		"KINESIS_MOCK_PLAIN_PORT=" + strconv.Itoa(plain),
		"KINESIS_MOCK_TLS_PORT=" + strconv.Itoa(tls),
		"CREATE_STREAM_DURATION=50ms",
		"DELETE_STREAM_DURATION=50ms",
		"UPDATE_STREAM_DURATION=50ms",
		"REGISTER_STREAM_CONSUMER_DURATION=50ms",
		"LOG_LEVEL=WARN",
	}
	if len(opts.Streams) > 0 {
		init := ""
		for i, s := range opts.Streams {
			if i > 0 {
				init += ","
			}
			init += s + ":us-east-1"
		}
		env = append(env, "INITIALIZE_STREAMS="+init)
	}
	env = append(env, opts.Env...)
	// kinesis-mock reads server.json from its working directory.
	p, err := start(ctx, "kinesis-local", dir, plain, env, nil, "node", "main.js")
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, p, "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1"); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// StartKinesalite runs kinesalite (in memory) on a free port. It is the
// local Kinesis that carries load: kinesis-local slows down as a shard fills
// (~40 records/s after 40,000 records in one shard), kinesalite keeps tens of
// thousands of records/s. It implements fewer APIs (no enhanced fan-out, no
// on-demand mode); streams are created through the API.
func StartKinesalite(ctx context.Context) (*Process, error) {
	dir, err := nodeModule("kinesalite")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := start(ctx, "kinesalite", dir, port, nil, nil, "node", "cli.js", "--port", strconv.Itoa(port),
		"--createStreamMs", "50", "--deleteStreamMs", "50", "--updateStreamMs", "50", "--shardLimit", "10000")
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, p, "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1"); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// StartDynamo runs dynalite (in memory) on a free port.
func StartDynamo(ctx context.Context) (*Process, error) {
	dir, err := nodeModule("dynalite")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	p, err := start(ctx, "dynalite", dir, port, nil, nil, "node", "cli.js", "--host", "127.0.0.1", "--port", strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, p, "DynamoDB_20120810.ListTables", "application/x-amz-json-1.0"); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// RIEPath is the aws-lambda-rie binary that `make setup` installs.
func RIEPath() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".bin", "aws-lambda-rie")
	if !fileExists(p) {
		return "", fmt.Errorf("emulator: %s not found: run `make setup` to install the Lambda Runtime Interface Emulator", p)
	}
	return p, nil
}

// StartRIE runs a Lambda bootstrap under the Runtime Interface Emulator on a
// free port. Invoke it at Endpoint + InvokePath. env is added to the process
// environment (AWS_LAMBDA_FUNCTION_TIMEOUT etc. are honoured by the RIE).
// Both of the RIE's ports are free ports (its Runtime API defaults to a fixed
// 127.0.0.1:9001), so several can run side by side. Output, if set, also
// receives what the RIE and the function print.
func StartRIE(ctx context.Context, bootstrap string, env []string, output ...io.Writer) (*Process, error) {
	rie, err := RIEPath()
	if err != nil {
		return nil, err
	}
	if !fileExists(bootstrap) {
		return nil, fmt.Errorf("emulator: bootstrap %s not found: build it first (make build)", bootstrap)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(bootstrap)
	if err != nil {
		return nil, err
	}
	p, err := start(ctx, "aws-lambda-rie", filepath.Dir(abs), port, env, output, rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(port),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort), abs)
	if err != nil {
		return nil, err
	}
	if err := waitTCP(ctx, p); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// InvokePath is the RIE's invoke URL path.
const InvokePath = "/2015-03-31/functions/function/invocations"

func start(ctx context.Context, name, dir string, port int, env []string, output []io.Writer, prog string, args ...string) (*Process, error) {
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	buf := &lockedBuffer{}
	w := io.MultiWriter(append([]io.Writer{buf}, output...)...)
	cmd.Stdout = w
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start %s: %w", name, err)
	}
	p := &Process{Name: name, Port: port, Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, log: buf, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	go func() {
		select {
		case <-ctx.Done():
			p.Stop()
		case <-p.done:
		}
	}()
	return p, nil
}

// startupTimeout bounds how long an emulator may take to answer. kinesis-local
// (a Scala.js bundle) takes a few seconds on a busy 2-core machine.
const startupTimeout = 60 * time.Second

func waitHTTP(ctx context.Context, p *Process, target, contentType string) error {
	deadline := time.Now().Add(startupTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.Endpoint, bytes.NewReader([]byte("{}")))
		req.Header.Set("X-Amz-Target", target)
		req.Header.Set("Content-Type", contentType)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		if err := waitStep(ctx, p, deadline); err != nil {
			return err
		}
	}
}

func waitTCP(ctx context.Context, p *Process) error {
	deadline := time.Now().Add(startupTimeout)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if err := waitStep(ctx, p, deadline); err != nil {
			return err
		}
	}
}

func waitStep(ctx context.Context, p *Process, deadline time.Time) error {
	if p.Exited() {
		return fmt.Errorf("emulator: %s exited during start-up:\n%s", p.Name, p.Log())
	}
	if time.Now().After(deadline) {
		return fmt.Errorf("emulator: %s did not answer on %s within %s:\n%s", p.Name, p.Endpoint, startupTimeout, p.Log())
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(100 * time.Millisecond):
		return nil
	}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Keep the last 1 MiB: enough to diagnose, bounded for long runs.
	if b.buf.Len() > 1<<20 {
		tail := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-(512<<10):]...)
		b.buf.Reset()
		b.buf.Write(tail)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

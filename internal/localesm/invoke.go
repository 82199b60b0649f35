package localesm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/streamproc/streamproc/internal/emulator"
)

// Invoker runs the function synchronously, as the event source mapping does.
// It returns the response payload, or a *FunctionError when the function
// failed (an error it returned, a timeout, a crashed runtime). Any other error
// means the function could not be invoked at all.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// FunctionError is a failed invocation, as Lambda reports it with the
// X-Amz-Function-Error header ("Unhandled").
type FunctionError struct {
	Type    string // errorType, e.g. "Sandbox.Timedout", "Runtime.ExitError"
	Message string
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// Timeout reports whether the invocation hit the function timeout.
func (e *FunctionError) Timeout() bool { return e.Type == "Sandbox.Timedout" }

// RIEPool invokes a bootstrap under aws-lambda-rie. The emulator runs one
// invocation at a time, so the pool keeps one RIE process per concurrent
// invocation (Lambda's execution environments) and hands out a free one per
// invoke. A process that died (crash, kill) is replaced by a fresh one on its
// next use, as Lambda replaces a failed execution environment.
type RIEPool struct {
	bootstrap string
	env       []string
	timeout   time.Duration
	output    io.Writer
	client    *http.Client

	mu    sync.Mutex
	procs []*emulator.Process
	free  chan int
	busy  []bool
	ctx   context.Context
}

// RIEOptions configure a pool.
type RIEOptions struct {
	// Bootstrap is the function binary (built for this machine).
	Bootstrap string
	// Env is added to each process's environment; include
	// AWS_LAMBDA_FUNCTION_TIMEOUT (seconds) for timeouts to be enforced.
	Env []string
	// Size is the number of execution environments (concurrent invocations).
	// Default: 1.
	Size int
	// Timeout is the function timeout; an HTTP invocation is abandoned 30 s
	// after it.
	// Default: 3 s.
	Timeout time.Duration
	// Output, when set, also receives every process's output (function logs,
	// EMF metrics, RIE lines). It must be safe for concurrent use.
	Output io.Writer
}

// NewRIEPool starts the pool's processes.
func NewRIEPool(ctx context.Context, o RIEOptions) (*RIEPool, error) {
	size := max(o.Size, 1)
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Second
	}
	p := &RIEPool{
		bootstrap: o.Bootstrap, env: o.Env, timeout: o.Timeout, output: o.Output,
		client: &http.Client{Timeout: o.Timeout + 30*time.Second},
		procs:  make([]*emulator.Process, size),
		free:   make(chan int, size),
		busy:   make([]bool, size),
		ctx:    ctx,
	}
	var wg sync.WaitGroup
	errs := make([]error, size)
	for i := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.procs[i], errs[i] = p.start(ctx)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		p.Stop()
		return nil, err
	}
	for i := range size {
		p.free <- i
	}
	return p, nil
}

// Size is the number of execution environments.
func (p *RIEPool) Size() int { return len(p.procs) }

// Kill crashes execution environment i (SIGKILL), in the middle of its
// invocation if it has one: fault injection. The environment is replaced on
// its next use.
func (p *RIEPool) Kill(i int) {
	p.mu.Lock()
	pr := p.procs[i]
	p.mu.Unlock()
	if pr != nil {
		pr.Kill()
	}
}

// Busy returns the environments that are running an invocation now.
func (p *RIEPool) Busy() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int
	for i, b := range p.busy {
		if b {
			out = append(out, i)
		}
	}
	return out
}

// Logs returns the concatenated output of the current processes.
func (p *RIEPool) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	for i, pr := range p.procs {
		if pr != nil {
			fmt.Fprintf(&b, "--- environment %d ---\n%s\n", i, pr.Log())
		}
	}
	return b.String()
}

// Stop ends every process.
func (p *RIEPool) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.procs {
		if pr != nil {
			pr.Stop()
		}
	}
}

// Invoke implements Invoker.
func (p *RIEPool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var i int
	select {
	case i = <-p.free:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.setBusy(i, true)
	defer func() { p.setBusy(i, false); p.free <- i }()

	proc, err := p.ensure(ctx, i)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, proc.Endpoint+emulator.InvokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The environment died under the invocation (killed, crashed hard):
		// Lambda reports that as a function error, and the next invocation
		// gets a fresh environment.
		return nil, &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("execution environment %d lost: %v", i, err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, &FunctionError{Type: "Runtime.ExitError", Message: fmt.Sprintf("execution environment %d: reading response: %v", i, err)}
	}
	if fe := classify(resp, body); fe != nil {
		return nil, fe
	}
	return body, nil
}

func (p *RIEPool) setBusy(i int, b bool) {
	p.mu.Lock()
	p.busy[i] = b
	p.mu.Unlock()
}

func (p *RIEPool) start(ctx context.Context) (*emulator.Process, error) {
	if p.output != nil {
		return emulator.StartRIE(ctx, p.bootstrap, p.env, p.output)
	}
	return emulator.StartRIE(ctx, p.bootstrap, p.env)
}

func (p *RIEPool) ensure(ctx context.Context, i int) (*emulator.Process, error) {
	p.mu.Lock()
	proc := p.procs[i]
	p.mu.Unlock()
	if proc != nil && !proc.Exited() {
		return proc, nil
	}
	np, err := p.start(p.ctx)
	if err != nil {
		return nil, fmt.Errorf("localesm: restarting execution environment %d: %w", i, err)
	}
	p.mu.Lock()
	p.procs[i] = np
	p.mu.Unlock()
	return np, nil
}

// classify turns the RIE's ways of reporting a failed invocation into a
// FunctionError. Lambda itself sets X-Amz-Function-Error; the RIE (checked
// against v0.0.0-20261030222936) instead answers
//   - 200 with {"errorMessage","errorType"} for an error the handler returned,
//   - 200 with the text "Task timed out after N seconds" on a timeout,
//   - 502 with {"errorType":"Runtime.ExitError",...} when the runtime exits.
func classify(resp *http.Response, body []byte) *FunctionError {
	var e struct {
		ErrorType    *string `json:"errorType"`
		ErrorMessage *string `json:"errorMessage"`
	}
	_ = json.Unmarshal(body, &e)
	msg := strings.TrimSpace(string(body))
	if e.ErrorMessage != nil {
		msg = *e.ErrorMessage
	}
	typ := ""
	if e.ErrorType != nil {
		typ = *e.ErrorType
	}
	switch {
	case resp.Header.Get("X-Amz-Function-Error") != "":
		if typ == "" {
			typ = resp.Header.Get("X-Amz-Function-Error")
		}
		return &FunctionError{Type: typ, Message: msg}
	case strings.HasPrefix(msg, "Task timed out after"):
		return &FunctionError{Type: "Sandbox.Timedout", Message: msg}
	case resp.StatusCode != http.StatusOK:
		if typ == "" {
			typ = fmt.Sprintf("HTTP%d", resp.StatusCode)
		}
		return &FunctionError{Type: typ, Message: msg}
	case e.ErrorType != nil && e.ErrorMessage != nil:
		return &FunctionError{Type: typ, Message: msg}
	}
	return nil
}

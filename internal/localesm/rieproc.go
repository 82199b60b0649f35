package localesm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/streamproc/streamproc/internal/emulator"
)

// rieProc is one aws-lambda-rie process. emulator.StartRIE cannot be used for
// a pool: it leaves the RIE's Runtime API on its fixed default 127.0.0.1:9001,
// so a second process fails with "address already in use". Here both the
// invoke port and the Runtime API port are free ports.
type rieProc struct {
	Endpoint string

	cmd  *exec.Cmd
	log  *tailBuffer
	done chan struct{}
	once sync.Once
}

func startRIE(ctx context.Context, bootstrap string, env []string, output io.Writer) (*rieProc, error) {
	rie, err := emulator.RIEPath()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(bootstrap)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("localesm: bootstrap %s: %w", abs, err)
	}
	invokePort, err := emulator.FreePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := emulator.FreePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(invokePort),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		abs)
	cmd.Dir = filepath.Dir(abs)
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	buf := &tailBuffer{}
	var w io.Writer = buf
	if output != nil {
		w = io.MultiWriter(buf, output)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localesm: start aws-lambda-rie: %w", err)
	}
	p := &rieProc{Endpoint: "http://127.0.0.1:" + strconv.Itoa(invokePort), cmd: cmd, log: buf, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	go func() {
		select {
		case <-ctx.Done():
			p.Stop()
		case <-p.done:
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(invokePort), time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if p.Exited() {
			return nil, fmt.Errorf("localesm: aws-lambda-rie exited during start-up:\n%s", p.Log())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			return nil, fmt.Errorf("localesm: aws-lambda-rie did not listen on %s: %v\n%s", p.Endpoint, err, p.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Log is the process's recent output.
func (p *rieProc) Log() string { return p.log.String() }

// Exited reports whether the process has ended.
func (p *rieProc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process group gracefully, then forcibly.
func (p *rieProc) Stop() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// Kill ends the process group abruptly, as a crash of the execution
// environment would.
func (p *rieProc) Kill() {
	p.once.Do(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	})
}

// tailBuffer keeps the last 256 KiB written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 512<<10 {
		tail := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-(256<<10):]...)
		b.buf.Reset()
		b.buf.Write(tail)
	}
	return b.buf.Write(p)
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

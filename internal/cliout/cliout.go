// Package cliout holds streamctl's terminal output helpers: a progress line
// that redraws itself on a terminal and stays silent when output is piped,
// and number formatting for reports.
package cliout

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Progress redraws one status line every interval until Stop. The line comes
// from render, which gets the elapsed time.
type Progress struct {
	w        io.Writer
	render   func(elapsed time.Duration) string
	stop     chan struct{}
	done     sync.WaitGroup
	once     sync.Once
	start    time.Time
	lastLen  int
	enabled  bool
	interval time.Duration
	width    int
}

// StartProgress starts redrawing on f if f is a terminal and enabled is true;
// otherwise it does nothing (and Stop is still safe to call).
func StartProgress(f *os.File, enabled bool, render func(elapsed time.Duration) string) *Progress {
	p := &Progress{w: f, render: render, stop: make(chan struct{}), start: time.Now(), interval: 200 * time.Millisecond, width: 100}
	p.enabled = enabled && IsTerminal(f)
	if !p.enabled {
		return p
	}
	if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 20 {
		p.width = w - 1
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.draw()
			case <-p.stop:
				p.clear()
				return
			}
		}
	}()
	return p
}

func (p *Progress) draw() {
	line := p.render(time.Since(p.start))
	if r := []rune(line); len(r) > p.width {
		line = string(r[:p.width])
	}
	pad := ""
	if n := len([]rune(line)); n < p.lastLen {
		pad = strings.Repeat(" ", p.lastLen-n)
	}
	p.lastLen = len([]rune(line))
	fmt.Fprint(p.w, "\r"+line+pad)
}

func (p *Progress) clear() {
	if p.lastLen > 0 {
		fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.lastLen)+"\r")
	}
}

// Stop erases the line and stops redrawing.
func (p *Progress) Stop() {
	p.once.Do(func() {
		close(p.stop)
		p.done.Wait()
	})
}

// Bar draws a bar of width cells for fraction f in [0, 1].
func Bar(f float64, width int) string {
	f = max(0, min(1, f))
	full := int(f * float64(width))
	return "[" + strings.Repeat("█", full) + strings.Repeat("░", width-full) + "]"
}

// Count formats n with thousands separators: 1234567 -> "1,234,567".
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Rate formats a per-second figure with thousands separators.
func Rate(f float64) string { return Count(int64(f + 0.5)) }

// Bytes formats a byte count in decimal units (kB, MB, GB).
func Bytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Duration rounds d for people: 1.234s, 12.3s, 2m3s.
func Duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

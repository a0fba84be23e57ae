package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressBar draws how far a transfer got: on a terminal one line
// redrawn in place five times a second, elsewhere (a log, CI) one line
// every two seconds. It stays silent for the first second, so quick runs
// print nothing.
type progressBar struct {
	w     io.Writer
	label string
	total int64 // 0: unknown
	done  func() int64
	tty   bool
	stop  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
	drawn bool
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startProgress starts drawing; nil w draws nothing. Stop ends it.
func startProgress(w io.Writer, label string, total int64, done func() int64) *progressBar {
	p := &progressBar{w: w, label: label, total: total, done: done, tty: isTerminal(w), stop: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Add(1)
	go p.run()
	return p
}

func (p *progressBar) run() {
	defer p.wg.Done()
	start := time.Now()
	every := 2 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			if p.drawn && p.tty {
				fmt.Fprint(p.w, "\r\033[K")
			}
			return
		case <-t.C:
			el := time.Since(start)
			if el < time.Second {
				continue
			}
			line := p.line(p.done(), el)
			if p.tty {
				fmt.Fprint(p.w, "\r\033[K"+line)
			} else {
				fmt.Fprintln(p.w, line)
			}
			p.drawn = true
		}
	}
}

func (p *progressBar) line(n int64, el time.Duration) string {
	rate := float64(n) * 8 / el.Seconds() / 1e6
	if p.total <= 0 {
		return fmt.Sprintf("  %s %s, %.1f Mbit/s, %v", p.label, formatSize(n), rate, el.Round(time.Second))
	}
	frac := min(float64(n)/float64(p.total), 1)
	const width = 24
	filled := int(frac * width)
	bar := strings.Repeat("#", filled) + strings.Repeat("-", width-filled)
	eta := "?"
	if n > 0 {
		eta = (time.Duration(float64(el) * (float64(p.total-n) / float64(n)))).Round(time.Second).String()
	}
	return fmt.Sprintf("  %s [%s] %3.0f%% %s of %s, %.1f Mbit/s, eta %s", p.label, bar, frac*100, formatSize(n), formatSize(p.total), rate, eta)
}

// Stop ends the drawing and clears the line on a terminal.
func (p *progressBar) Stop() {
	p.once.Do(func() { close(p.stop); p.wg.Wait() })
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n.Add(int64(n))
	return n, err
}

// payloadReader generates the same bytes as makePayload(size, seed),
// without holding them in memory.
type payloadReader struct {
	left int64
	x    uint64
	w    [8]byte
	wn   int // bytes of w not yet handed out
}

func newPayloadReader(size, seed int64) *payloadReader {
	return &payloadReader{left: size, x: uint64(seed)*0x9e3779b97f4a7c15 + 1}
}

func (p *payloadReader) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	n := 0
	for n < len(b) {
		if p.wn == 0 {
			p.x ^= p.x << 13
			p.x ^= p.x >> 7
			p.x ^= p.x << 17
			binary.LittleEndian.PutUint64(p.w[:], p.x)
			p.wn = 8
		}
		c := copy(b[n:], p.w[8-p.wn:])
		p.wn -= c
		n += c
	}
	p.left -= int64(n)
	return n, nil
}

// Package logbuf makes a log cheap to write on the request path: lines are
// gathered in memory and written out every 100 ms (or as often as told),
// when the buffer fills, on an error-level record, and on Close, so that a
// busy server makes one write(2) for many request lines rather than one
// each, and a line is never more than the interval late. A line written
// after a quiet interval goes out at once.
package logbuf

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// Writer is a buffered io.Writer flushed on a timer. It is safe for
// concurrent use; each Write is kept whole.
type Writer struct {
	mu       sync.Mutex
	buf      *bufio.Writer
	interval time.Duration
	last     time.Time // when the buffer was last written out
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// size is the buffer: a write that would not fit flushes first.
const size = 64 << 10

// New returns a Writer writing to w at least every interval (100 ms if
// interval is 0). Close it to write what is left and stop its timer.
func New(w io.Writer, interval time.Duration) *Writer {
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	b := &Writer{buf: bufio.NewWriterSize(w, size), interval: interval, stop: make(chan struct{}), done: make(chan struct{})}
	go b.run(interval)
	return b
}

func (b *Writer) run(interval time.Duration) {
	defer close(b.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush()
		case <-b.stop:
			return
		}
	}
}

// Write keeps p for the next flush; a p larger than what the buffer has
// room for flushes first. A write that comes when nothing was written out
// for a whole interval (a quiet server: its start, a rare request) is
// written out at once, so batching delays lines only under load.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) > b.buf.Available() && b.buf.Buffered() > 0 {
		if err := b.flush(); err != nil {
			return 0, err
		}
	}
	n, err := b.buf.Write(p)
	if err == nil && time.Since(b.last) >= b.interval {
		err = b.flush()
	}
	return n, err
}

// Flush writes out what is buffered.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.flush()
}

func (b *Writer) flush() error {
	b.last = time.Now()
	return b.buf.Flush()
}

// Close stops the timer and writes out what is buffered. Later writes are
// kept until the next Flush; Close again does nothing more than Flush.
func (b *Writer) Close() error {
	b.once.Do(func() {
		close(b.stop)
		<-b.done
	})
	return b.Flush()
}

// Handler wraps h, which writes to w, so that a record at error level or
// above is written out at once: an operator watching the log of a failing
// server sees the failure without waiting for the timer, and a crash right
// after it does not lose it.
func Handler(h slog.Handler, w *Writer) slog.Handler { return &handler{Handler: h, w: w} }

type handler struct {
	slog.Handler
	w *Writer
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelError {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{Handler: h.Handler.WithAttrs(attrs), w: h.w}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{Handler: h.Handler.WithGroup(name), w: h.w}
}

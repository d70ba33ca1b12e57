package logbuf_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pihu-ai/pihu/logbuf"
)

// sink is a bytes.Buffer safe for the flusher's goroutine, counting writes.
type sink struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestWriter(t *testing.T) {
	t.Run("BuffersUntilTheInterval", func(t *testing.T) {
		var s sink
		w := logbuf.New(&s, time.Hour)
		defer w.Close()
		log := slog.New(slog.NewTextHandler(w, nil))
		log.Info("start") // the first line, after a quiet interval
		if got := s.String(); !strings.Contains(got, "msg=start") {
			t.Fatalf("the first line was not written at once: %q", got)
		}
		for i := range 100 {
			log.Info("request", "n", i)
		}
		if strings.Contains(s.String(), "msg=request") {
			t.Fatalf("written before a flush: %q", s.String())
		}
		w.Flush()
		if got := strings.Count(s.String(), "msg=request"); got != 100 || s.writes != 2 {
			t.Errorf("got %d lines in %d writes, want 100 in 1 after the first line's", got, s.writes)
		}
	})
	t.Run("FlushesOnTheTimer", func(t *testing.T) {
		var s sink
		w := logbuf.New(&s, 10*time.Millisecond)
		defer w.Close()
		w.Write([]byte("first\n"))
		w.Write([]byte("line\n"))
		deadline := time.Now().Add(5 * time.Second)
		for s.String() == "first\n" && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if s.String() != "first\nline\n" {
			t.Errorf("got %q after the interval, want the line", s.String())
		}
	})
	t.Run("FlushesOnClose", func(t *testing.T) {
		var s sink
		w := logbuf.New(&s, time.Hour)
		w.Write([]byte("first\n"))
		w.Write([]byte("last\n"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if s.String() != "first\nlast\n" {
			t.Errorf("got %q after Close, want the line", s.String())
		}
	})
	t.Run("FlushesOnError", func(t *testing.T) {
		var s sink
		w := logbuf.New(&s, time.Hour)
		defer w.Close()
		log := slog.New(logbuf.Handler(slog.NewTextHandler(w, nil), w)).With("component", "x")
		log.Info("first")
		log.Info("before")
		log.Error("failed")
		if got := s.String(); !strings.Contains(got, "msg=before") || !strings.Contains(got, "msg=failed") {
			t.Errorf("after an error: got %q, want both lines", got)
		}
	})
	t.Run("LargeWriteKeptWhole", func(t *testing.T) {
		var s sink
		w := logbuf.New(&s, time.Hour)
		w.Write([]byte("a\n"))
		big := strings.Repeat("x", 100<<10) + "\n"
		w.Write([]byte(big))
		w.Close()
		if s.String() != "a\n"+big {
			t.Errorf("got %d bytes, want %d", len(s.String()), len(big)+2)
		}
	})
}

package testutil

import (
	"bytes"
	"slices"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer safe for concurrent use: the sink for a child
// process's output or a logger that goroutines write to while the test
// reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Tail returns at most the last n bytes written.
func (s *Buffer) Tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// LastLines returns at most the last n lines of s: the end of a long
// output, for a failure message.
func LastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// Collected is a list safe for concurrent use: what a callback under test
// (a report, an observer) was handed, in order, while the test reads it.
type Collected[T any] struct {
	mu    sync.Mutex
	items []T
}

// Add appends x; pass it as the callback.
func (c *Collected[T]) Add(x T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.items = append(c.items, x)
}

// All returns what was added so far.
func (c *Collected[T]) All() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.items)
}

// Take returns what was added since the last Take, and forgets it.
func (c *Collected[T]) Take() []T {
	c.mu.Lock()
	defer c.mu.Unlock()
	items := c.items
	c.items = nil
	return items
}

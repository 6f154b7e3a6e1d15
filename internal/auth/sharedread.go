package auth

import (
	"context"
	"errors"
	"sync"
)

// sharedRead lets concurrent callers share one read of a value that may
// change at any time, without any of them seeing an older value than a read
// of its own would: a caller joins only a read that starts after it
// arrived. While a read runs, the callers arriving meanwhile wait for it to
// end and then share the next one, started by the first of them. Under
// load that turns one read per request into about one per read's duration
// (the integrations version, read before every signed request).
type sharedRead[T any] struct {
	mu   sync.Mutex
	cur  *readCall[T] // the read running, if any
	next *readCall[T] // the read to start after cur, if callers wait for one
}

type readCall[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// do returns the value of a read that started after do was called.
func (r *sharedRead[T]) do(ctx context.Context, read func(context.Context) (T, error)) (T, error) {
	r.mu.Lock()
	if r.cur == nil {
		c := &readCall[T]{done: make(chan struct{})}
		r.cur = c
		r.mu.Unlock()
		return r.run(ctx, c, read)
	}
	if n := r.next; n != nil {
		r.mu.Unlock()
		return r.wait(ctx, n, read)
	}
	n := &readCall[T]{done: make(chan struct{})}
	r.next = n
	prev := r.cur
	r.mu.Unlock()
	// The callers that join n depend on this one to start it: wait for
	// the running read whatever ctx does (reads are short and bounded).
	<-prev.done
	r.mu.Lock()
	r.cur, r.next = n, nil
	r.mu.Unlock()
	return r.run(ctx, n, read)
}

// run performs c's read for everyone sharing it.
func (r *sharedRead[T]) run(ctx context.Context, c *readCall[T], read func(context.Context) (T, error)) (T, error) {
	c.v, c.err = read(ctx)
	r.mu.Lock()
	if r.cur == c {
		r.cur = nil
	}
	r.mu.Unlock()
	close(c.done)
	return c.v, c.err
}

// wait returns c's outcome, or reads alone if c failed because the context
// of the caller that ran it ended (that is not this caller's failure).
func (r *sharedRead[T]) wait(ctx context.Context, c *readCall[T], read func(context.Context) (T, error)) (T, error) {
	select {
	case <-c.done:
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
	if c.err != nil && (errors.Is(c.err, context.Canceled) || errors.Is(c.err, context.DeadlineExceeded)) && ctx.Err() == nil {
		return read(ctx)
	}
	return c.v, c.err
}

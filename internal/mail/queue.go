package mail

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sender delivers one message now (SMTP).
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// QueueOptions tune a Queue; zero values take the defaults.
type QueueOptions struct {
	// Size is how many messages may wait; more are refused
	// (ErrQueueFull). Default 256.
	Size int
	// Attempts is how many times a message is tried before it is given
	// up. Default 6 (about 10 minutes with the default backoff).
	Attempts int
	// Backoff is the wait before the second attempt, doubled before each
	// further one up to MaxBackoff. Defaults 10 s and 5 min.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Logger receives failures (masked recipient, never a body).
	Logger *slog.Logger
}

// Stats count messages, for metrics.
type Stats struct {
	// Sent were delivered; Failed were given up (after every attempt,
	// or at once when the server refused for good); Retried counts
	// attempts that failed and were tried again; Dropped were refused
	// because the queue was full or closed.
	Sent, Failed, Retried, Dropped atomic.Uint64
}

// ErrQueueFull is a message refused because Size messages already wait.
var ErrQueueFull = errors.New("mail queue full")

// ErrQueueClosed is a message given to a closed queue.
var ErrQueueClosed = errors.New("mail queue closed")

// Queue delivers messages in the background, one at a time, retrying with
// exponential backoff, so that no request waits for a mail server.
type Queue struct {
	s    Sender
	o    QueueOptions
	jobs chan Message
	// stop ends backoff waits and attempts when Close's deadline passes.
	stop    context.Context
	abandon context.CancelFunc
	done    chan struct{}

	mu     sync.Mutex
	closed bool

	Stats Stats
}

// NewQueue starts a queue delivering through s; Close stops it.
func NewQueue(s Sender, o QueueOptions) *Queue {
	o.Size = cmp.Or(o.Size, 256)
	o.Attempts = cmp.Or(o.Attempts, 6)
	o.Backoff = cmp.Or(o.Backoff, 10*time.Second)
	o.MaxBackoff = cmp.Or(o.MaxBackoff, 5*time.Minute)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	stop, abandon := context.WithCancel(context.Background())
	q := &Queue{s: s, o: o, jobs: make(chan Message, o.Size), stop: stop, abandon: abandon, done: make(chan struct{})}
	go q.run()
	return q
}

// Send queues m and returns at once; it fails only when the queue is full
// or closed (the message is then counted as dropped). ctx is unused: a
// queued message outlives the request that made it.
func (q *Queue) Send(_ context.Context, m Message) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		q.Stats.Dropped.Add(1)
		return ErrQueueClosed
	}
	select {
	case q.jobs <- m:
		return nil
	default:
		q.Stats.Dropped.Add(1)
		q.o.Logger.Error("mail not sent: the queue is full", "to", Mask(m.To), "size", q.o.Size)
		return ErrQueueFull
	}
}

// Len is how many messages wait.
func (q *Queue) Len() int { return len(q.jobs) }

// Close stops accepting messages and delivers those waiting until ctx
// ends; what is still undelivered then is counted as failed and logged.
func (q *Queue) Close(ctx context.Context) error {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.jobs)
	}
	q.mu.Unlock()
	select {
	case <-q.done:
		return nil
	case <-ctx.Done():
		q.abandon()
		<-q.done
		return ctx.Err()
	}
}

func (q *Queue) run() {
	defer close(q.done)
	for m := range q.jobs {
		q.deliver(m)
	}
}

// deliver tries m up to Attempts times.
func (q *Queue) deliver(m Message) {
	wait := q.o.Backoff
	for attempt := 1; ; attempt++ {
		if q.stop.Err() != nil {
			q.Stats.Failed.Add(1)
			q.o.Logger.Error("mail not sent: the server stopped before it could be delivered", "to", Mask(m.To),
				"subject", m.Subject, "attempts", attempt-1)
			return
		}
		err := q.s.Send(q.stop, m)
		if err == nil {
			q.Stats.Sent.Add(1)
			q.o.Logger.Info("mail sent", "to", Mask(m.To), "subject", m.Subject, "attempts", attempt)
			return
		}
		if !retryable(err) || attempt >= q.o.Attempts {
			q.Stats.Failed.Add(1)
			q.o.Logger.Error("mail not sent", "to", Mask(m.To), "subject", m.Subject, "attempts", attempt, "err", err)
			return
		}
		q.Stats.Retried.Add(1)
		q.o.Logger.Warn("mail not sent yet; trying again", "to", Mask(m.To), "subject", m.Subject,
			"attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-q.stop.Done():
			t.Stop()
		}
		wait = min(2*wait, q.o.MaxBackoff)
	}
}

// Mailer renders messages and hands them to a Sender: an SMTP directly
// (administration commands, which wait and report) or a Queue (the
// server).
type Mailer struct {
	t atomic.Pointer[Templates]
	S Sender
	// Product and Hostname fill Data's fields of the same names when
	// empty.
	Product  string
	Hostname string
}

// SetTemplates sets the templates (again, on reload) while messages are
// sent.
func (m *Mailer) SetTemplates(t *Templates) { m.t.Store(t) }

// Templates are the templates in use.
func (m *Mailer) Templates() *Templates { return m.t.Load() }

// Send renders message k for to and delivers (or queues) it.
func (m *Mailer) Send(ctx context.Context, k Kind, to string, d Data) error {
	d.Product = cmp.Or(d.Product, m.Product, "Assent")
	d.Hostname = cmp.Or(d.Hostname, m.Hostname)
	msg, err := m.t.Load().Render(k, to, d)
	if err != nil {
		return err
	}
	return m.S.Send(ctx, msg)
}

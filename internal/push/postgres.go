package push

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the PostgreSQL notification channel Assent nodes share.
const Channel = "assent_push"

// Postgres is a broker whose wake-ups reach every node connected to the same
// PostgreSQL database. Local subscribers are woken directly; other nodes
// through NOTIFY.
type Postgres struct {
	*Local
	dsn    string
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
	send   *pgxpool.Pool // connections for NOTIFY
	errs   atomic.Uint64 // see Errors
}

// Errors is how many NOTIFYs failed, LISTEN connections were lost and
// reconnections failed: the broker errors of the metrics.
func (p *Postgres) Errors() uint64 { return p.errs.Load() }

// NewPostgres connects to dsn and starts listening. It returns once the
// first LISTEN is in place, so no notification sent after it is missed.
func NewPostgres(ctx context.Context, dsn string, log *slog.Logger) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	cfg.MaxConns = 4
	send, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("push: NOTIFY pool: %w", err)
	}
	conn, err := listen(ctx, dsn)
	if err != nil {
		send.Close()
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	p := &Postgres{Local: NewLocal(), dsn: dsn, log: log, cancel: cancel, done: make(chan struct{}), send: send}
	go p.run(lctx, conn)
	return p, nil
}

func listen(ctx context.Context, dsn string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("push: connect for LISTEN: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		_ = conn.Close(ctx)
		return nil, fmt.Errorf("push: LISTEN: %w", err)
	}
	return conn, nil
}

// run receives notifications until ctx ends, reconnecting with backoff.
// After a reconnect every waiter re-reads its state, since notifications
// may have been lost meanwhile.
func (p *Postgres) run(ctx context.Context, conn *pgx.Conn) {
	defer close(p.done)
	backoff := 100 * time.Millisecond
	for {
		for conn != nil {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				_ = conn.Close(context.Background())
				conn = nil
				if ctx.Err() != nil {
					return
				}
				p.errs.Add(1)
				p.log.Warn("push: lost the PostgreSQL notification connection; reconnecting", "err", err)
				break
			}
			backoff = 100 * time.Millisecond
			p.wake(n.Payload)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
		c, err := listen(ctx, p.dsn)
		if err != nil {
			p.errs.Add(1)
			p.log.Warn("push: reconnect failed", "err", err, "retry_in", backoff)
			continue
		}
		conn = c
		p.log.Info("push: notification connection restored")
		p.WakeAll()
	}
}

// Publish wakes local subscribers at once and notifies the other nodes.
func (p *Postgres) Publish(ctx context.Context, txid string) error {
	p.wake(txid)
	if _, err := p.send.Exec(ctx, "SELECT pg_notify($1, $2)", Channel, txid); err != nil {
		p.errs.Add(1)
		return fmt.Errorf("push: NOTIFY: %w", err)
	}
	return nil
}

// Close stops listening and closes the connections.
func (p *Postgres) Close() error {
	p.cancel()
	<-p.done
	p.send.Close()
	return nil
}

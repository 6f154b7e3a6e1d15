package radiusd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"
	"unicode/utf8"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/radiusmsg"
)

// Server answers RADIUS on one socket for the sections that share it.
type Server struct {
	sections []*Section
	routes   []route
	opts     Options
	log      *slog.Logger
	obs      Observer

	dups    dupCache
	states  *stateStore
	dropLog *dropLog
	// slots holds a token per request being answered (MaxInFlight).
	slots chan struct{}
}

// NewServer checks the sections (all problems at once) and prepares a
// server for them. The sections are modified only to fill in defaults.
func NewServer(sections []*Section, opts Options) (*Server, error) {
	if len(sections) == 0 {
		return nil, errors.New("radiusd: no server sections")
	}
	var errs []error
	for _, s := range sections {
		if err := s.check(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("radiusd: %w", errors.Join(errs...))
	}
	routes, err := buildRoutes(sections)
	if err != nil {
		return nil, fmt.Errorf("radiusd: %w", err)
	}
	opts.setDefaults()
	return &Server{
		sections: sections,
		routes:   routes,
		opts:     opts,
		log:      opts.Logger,
		obs:      opts.Observer,
		dups:     dupCache{m: map[dupKey]*dupEntry{}},
		states:   newStateStore(opts.MaxPendingChallenges),
		dropLog:  newDropLog(opts.DropLogInterval),
		slots:    make(chan struct{}, opts.MaxInFlight),
	}, nil
}

// Serve reads requests from conn until ctx is cancelled, answering each in
// its own goroutine. On cancellation it stops reading, waits up to
// ShutdownGrace for requests in progress (a pending push may take long),
// then cancels them — cancelled requests get no answer, never a fail-open —
// and returns nil. conn is not closed. Any other read error is returned
// after the same wait.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	if rb, ok := conn.(interface{ SetReadBuffer(int) error }); ok {
		if err := rb.SetReadBuffer(s.opts.ReadBuffer); err != nil {
			s.log.Warn("radius: cannot enlarge the UDP receive buffer", "bytes", s.opts.ReadBuffer, "err", err)
		}
	}
	// Requests outlive ctx by the grace period, so they get their own.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	var wg sync.WaitGroup
	wg.Go(func() { s.janitor(ctx) })

	s.log.Info("radius: serving", "addr", conn.LocalAddr().String(), "sections", s.sectionNames())
	var serveErr error
	// Each datagram is answered by a worker goroutine of its own, as if
	// started per request; a worker that has finished waits a while for
	// the next datagram instead of exiting, so under load requests reuse
	// goroutines whose stacks have already grown to what the Auth API
	// client needs (growing a fresh stack every request costs more than
	// the rest of the RADIUS path).
	work := make(chan job)
	buf := make([]byte, radius.MaxPacketLength+1)
	for {
		n, addr, err := conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			serveErr = fmt.Errorf("radius: reading from %s: %w", conn.LocalAddr(), err)
			break
		}
		if n > radius.MaxPacketLength {
			src, _ := addrPort(addr)
			s.drop("too_long", src.Addr(), "nas", addr.String(), "length", n)
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			// Full: the NAS retransmits, and by then a place may be free.
			// Nothing is parsed or allocated for the packet.
			src, _ := addrPort(addr)
			s.drop("overloaded", src.Addr(), "nas", addr, "in_flight", cap(s.slots),
				"hint", "as many requests as max_requests_in_flight are in progress (pending pushes, a slow Auth API); the NAS will retransmit")
			continue
		}
		j := job{raw: bytes.Clone(buf[:n]), addr: addr}
		select {
		case work <- j: // an idle worker takes it
		default:
			wg.Go(func() { s.worker(hctx, conn, j, work) })
		}
	}
	close(work) // idle workers exit; busy ones finish their request first

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(s.opts.ShutdownGrace):
		s.log.Warn("radius: shutting down with requests in progress; they get no answer")
		hcancel()
		<-done
	}
	return serveErr
}

// job is one datagram to answer.
type job struct {
	raw  []byte
	addr net.Addr
}

// workerIdle is how long a worker waits for another datagram before it
// exits.
const workerIdle = 10 * time.Second

// worker answers j, then any datagram handed to it on work until work is
// closed or none comes for workerIdle. Only idle workers receive, so a
// request never waits behind another. Each job comes with a place in
// s.slots, given back when it is answered; an idle worker holds none, so
// there are never more workers than MaxInFlight.
func (s *Server) worker(ctx context.Context, conn net.PacketConn, j job, work <-chan job) {
	s.handle(ctx, conn, j.raw, j.addr)
	<-s.slots
	t := time.NewTimer(workerIdle)
	defer t.Stop()
	for {
		select {
		case j, ok := <-work:
			if !ok {
				return
			}
			s.handle(ctx, conn, j.raw, j.addr)
			<-s.slots
			t.Reset(workerIdle)
		case <-t.C:
			return
		}
	}
}

// InFlight is the number of requests being answered.
func (s *Server) InFlight() int { return len(s.slots) }

func (s *Server) sectionNames() []string {
	names := make([]string, len(s.sections))
	for i, sec := range s.sections {
		names[i] = sec.Name
	}
	return names
}

// janitor forgets expired cache entries, challenges and drop-log entries.
func (s *Server) janitor(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := s.opts.Now()
			s.dups.sweep(now)
			s.dropLog.sweep(now)
			s.obs.PendingChallenges(s.states.sweep(now))
		}
	}
}

// drop counts a packet dropped without an answer and logs it at WARN, at
// most once per DropLogInterval for the same reason and client address
// (src, zero when unknown); the line says how many were not logged since.
func (s *Server) drop(reason string, src netip.Addr, args ...any) {
	// Counted after the line is written, so whoever sees the count sees
	// the line.
	defer s.obs.Dropped(reason)
	ok, suppressed := s.dropLog.allow(reason, src, s.opts.Now())
	if !ok {
		return
	}
	args = append([]any{"reason", reason}, args...)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	s.log.Warn("radius: packet dropped", args...)
}

// missingMAHint tells the administrator what to do about a NAS that sends
// no Message-Authenticator, naming the exact setting.
func missingMAHint(rt *route) string {
	key := "require_message_authenticator"
	if rt.net.Index > 0 {
		key = fmt.Sprintf("require_message_authenticator_%d", rt.net.Index)
	}
	return fmt.Sprintf("the NAS sent no Message-Authenticator, so its requests can be forged (BlastRADIUS, CVE-2024-3596); "+
		"configure the NAS to send one, or only if it cannot, set %s = false in [%s]", key, rt.sec.Name)
}

// request is one Access-Request being answered.
type request struct {
	id      string
	start   time.Time
	src     netip.AddrPort
	sec     *Section
	net     *Network
	pkt     *radius.Packet
	user    string
	pass    string
	hasPass bool // a User-Password attribute was present
	mschap  bool
	client  string // client_ip_attr value
	txid    string // the Verified Push txid of the answered challenge

	// filled in while processing, for logs and events
	factor                 string
	primary, preauth, auth time.Duration
}

// handle answers one datagram.
func (s *Server) handle(ctx context.Context, conn net.PacketConn, raw []byte, addr net.Addr) {
	src, ok := addrPort(addr)
	if !ok {
		s.drop("bad_source", netip.Addr{}, "addr", addr.String())
		return
	}
	rt, ok := s.route(src.Addr())
	if !ok {
		s.drop("unknown_client", src.Addr(), "nas", src.String())
		return
	}
	code := -1
	if len(raw) >= 20 {
		code = int(raw[0])
	}
	switch radius.Code(code) {
	case radius.CodeAccessRequest:
	case radius.CodeStatusServer:
		s.statusServer(conn, raw, addr, src, rt)
		return
	default:
		s.drop("not_access_request", src.Addr(), "nas", src.String(), "code", code)
		return
	}
	pkt, err := radius.Parse(raw, rt.net.Secret)
	if err != nil {
		s.drop("malformed", src.Addr(), "nas", src.String(), "err", err)
		return
	}
	present, valid := radiusmsg.VerifyRequest(raw, rt.net.Secret)
	switch {
	case present && !valid:
		s.drop("bad_message_authenticator", src.Addr(), "nas", src.String(), "section", rt.sec.Name,
			"hint", "wrong shared secret or forged packet")
		return
	case !present && rt.net.RequireMessageAuthenticator:
		s.drop("missing_message_authenticator", src.Addr(), "nas", src.String(), "section", rt.sec.Name,
			"network", rt.net.Prefix.String(), "hint", missingMAHint(rt))
		return
	}

	key := dupKey{src: src, id: pkt.Identifier}
	content := dupContent{auth: pkt.Authenticator,
		user: string(rfc2865.UserName_Get(pkt)), pass: string(rfc2865.UserPassword_Get(pkt))}
	now := s.opts.Now()
	entry, state, cached := s.dups.begin(key, content, now)
	switch state {
	case dupInFlight:
		s.obs.Duplicate("in_flight")
		s.log.Info("radius: retransmit ignored, original still in progress", "nas", src.String(), "id", pkt.Identifier)
		return
	case dupAnswered:
		s.obs.Duplicate("resent")
		s.log.Info("radius: retransmit answered from cache", "nas", src.String(), "id", pkt.Identifier)
		if _, err := conn.WriteTo(cached, addr); err != nil {
			s.log.Warn("radius: sending cached answer", "nas", src.String(), "err", err)
		}
		return
	}

	rq := &request{id: fmt.Sprintf("%016x", rand.Uint64()), start: now, src: src, sec: rt.sec, net: &rt.net, pkt: pkt}
	var rep *reply
	func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("radius: internal error answering request", "request_id", rq.id, "panic", fmt.Sprint(p))
				s.obs.Dropped("internal_error")
				rep = nil
			}
		}()
		rep = s.process(ctx, rq)
	}()
	if rep == nil {
		s.dups.forget(key, entry)
		return
	}
	b, err := s.encode(rq, rep)
	if err != nil {
		s.dups.forget(key, entry)
		s.log.Error("radius: encoding answer", "request_id", rq.id, "err", err)
		return
	}
	s.dups.finish(key, entry, b, s.opts.Now().Add(s.opts.CacheTTL))
	s.report(rq, rep) // first, so the event is recorded when the NAS has the answer
	if _, err := conn.WriteTo(b, addr); err != nil {
		s.log.Warn("radius: sending answer", "request_id", rq.id, "nas", src.String(), "err", err)
	}
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	switch a := a.(type) {
	case *net.UDPAddr:
		ap := a.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), ap.IsValid()
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return netip.AddrPort{}, false
		}
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
}

// reply is the decision for a request.
type reply struct {
	code   radius.Code
	msg    string
	attrs  radius.Attributes // primary attributes, Class, MS-CHAP-Error
	state  string            // for an Access-Challenge
	stage  string
	status string
	fail   bool   // failed open
	reason string // why it was rejected, for the log (primary.Result.Reason)
}

// maxAttr is the largest attribute value RADIUS can carry.
const maxAttr = 253

// encode builds the wire answer: Message-Authenticator first, then
// Reply-Message, State, the decision's attributes, and the request's
// Proxy-States in their original order.
func (s *Server) encode(rq *request, rep *reply) ([]byte, error) {
	resp := rq.pkt.Response(rep.code)
	resp.Secret = rq.net.Secret
	if rep.msg != "" {
		resp.Add(rfc2865.ReplyMessage_Type, radius.Attribute(truncateUTF8(rep.msg, maxAttr)))
	}
	if rep.state != "" {
		resp.Add(rfc2865.State_Type, radius.Attribute(rep.state))
	}
	for _, a := range rep.attrs {
		switch a.Type {
		case radiusmsg.Type, rfc2865.ProxyState_Type, rfc2865.State_Type:
			continue // ours, never the primary's
		case rfc2865.ReplyMessage_Type:
			if rep.msg != "" {
				continue
			}
		}
		resp.Attributes = append(resp.Attributes, a)
	}
	for _, a := range rq.pkt.Attributes {
		if a.Type == rfc2865.ProxyState_Type {
			resp.Attributes = append(resp.Attributes, a)
		}
	}
	return radiusmsg.SignResponse(resp, rq.pkt.Authenticator)
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// report logs the request and tells the observer.
func (s *Server) report(rq *request, rep *reply) {
	result := ResultReject
	switch rep.code {
	case radius.CodeAccessAccept:
		result = ResultAccept
	case radius.CodeAccessChallenge:
		result = ResultChallenge
	}
	total := s.opts.Now().Sub(rq.start)
	ev := Event{
		Time: s.opts.Now(), RequestID: rq.id, Msg: rep.msg, Username: rq.user,
		AuthStage: rep.stage, Status: rep.status, Result: result,
		ClientIP: rq.client, NASAddr: rq.src.Addr().String(),
		ServerSection: rq.sec.Name, ServerSectionIKey: rq.sec.IKey,
		Factor: rq.factor, Hostname: s.opts.Hostname, FailOpen: rep.fail, Reason: rep.reason,
		Primary: rq.primary, Preauth: rq.preauth, Auth: rq.auth, Total: total,
	}
	if ev.AuthStage == "" {
		ev.AuthStage = StageUnknown
	}
	s.obs.Observe(ev)
	level := slog.LevelInfo
	if rep.fail {
		level = slog.LevelError
	}
	ctx := context.Background()
	if !s.log.Enabled(ctx, level) {
		return
	}
	// Typed attributes (LogAttrs) rather than key-value pairs: the same
	// line, without boxing every value for the per-request log.
	var buf [15]slog.Attr
	args := append(buf[:0],
		slog.String("request_id", rq.id), slog.String("section", rq.sec.Name), slog.String("user", rq.user),
		slog.String("nas", rq.src.String()),
		slog.String("client_ip", rq.client), slog.String("stage", ev.AuthStage), slog.String("result", result),
		slog.String("status", rep.status), slog.String("msg", rep.msg), slog.Float64("total_ms", ms(total)),
	)
	if rep.reason != "" {
		args = append(args, slog.String("reason", rep.reason))
	}
	if rq.factor != "" {
		args = append(args, slog.String("factor", rq.factor))
	}
	if rq.primary > 0 {
		args = append(args, slog.Float64("primary_ms", ms(rq.primary)))
	}
	if rq.preauth > 0 {
		args = append(args, slog.Float64("preauth_ms", ms(rq.preauth)))
	}
	if rq.auth > 0 {
		args = append(args, slog.Float64("auth_ms", ms(rq.auth)))
	}
	s.log.LogAttrs(ctx, level, "radius: request answered", args...)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Duplicate detection (spec §4.5, RFC 5080 §2.2.2).

type dupKey struct {
	src netip.AddrPort
	id  byte
}

type dupContent struct {
	auth       [16]byte
	user, pass string
}

type dupEntry struct {
	content dupContent
	done    bool
	answer  []byte
	expires time.Time
}

type dupCache struct {
	mu sync.Mutex
	m  map[dupKey]*dupEntry
}

type dupState int

const (
	dupNew dupState = iota
	dupInFlight
	dupAnswered
)

// begin records a request; for a retransmit it says whether the original
// is still in progress or has a cached answer.
func (c *dupCache) begin(k dupKey, content dupContent, now time.Time) (*dupEntry, dupState, []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok && e.content == content {
		if !e.done {
			return e, dupInFlight, nil
		}
		if now.Before(e.expires) {
			return e, dupAnswered, e.answer
		}
	}
	// New, expired, or same key with other content: the old entry is
	// discarded (its request, if still running, will not overwrite this).
	e := &dupEntry{content: content}
	c.m[k] = e
	return e, dupNew, nil
}

func (c *dupCache) finish(k dupKey, e *dupEntry, answer []byte, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[k] == e {
		e.done, e.answer, e.expires = true, answer, expires
	}
}

// forget removes an entry whose request got no answer, so a retransmit
// is processed afresh.
func (c *dupCache) forget(k dupKey, e *dupEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[k] == e {
		delete(c.m, k)
	}
}

func (c *dupCache) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.done && !now.Before(e.expires) {
			delete(c.m, k)
		}
	}
}

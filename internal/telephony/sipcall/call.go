package sipcall

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Call dials target (a SIP URI, or a number routed through the outbound
// proxy or registrar), plays prompt once answered (repeating it until a key
// arrives) and returns how the call ended. progress, when not nil, is told
// of each intermediate state; it must not block. Every wait is bounded by
// the configured timeouts and by ctx; a cancelled ctx cancels or hangs up
// the call and returns Failed with ctx's error.
func (c *Caller) Call(ctx context.Context, target string, prompt Prompt, progress func(Progress)) (Outcome, error) {
	return c.Dial(ctx, target, Extension{}, prompt, progress)
}

// Dial is Call for a number with an extension: once answered, it waits
// ext.Predelay, sends ext's digits and waits ext.Postdelay before the
// prompt. Keys pressed before the prompt starts are not the callee's answer
// (an attendant's echo, our own digits) and are ignored; the answer timeout
// starts with the prompt.
func (c *Caller) Dial(ctx context.Context, target string, ext Extension, prompt Prompt, progress func(Progress)) (Outcome, error) {
	if c.client == nil {
		return Failed, errors.New("sip: caller not started")
	}
	if err := ext.Validate(); err != nil {
		return Failed, err
	}
	if progress == nil {
		progress = func(Progress) {}
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.MaxDuration)
	defer cancel()

	uri, dest, err := c.targetURI(target)
	if err != nil {
		return Failed, err
	}
	from, err := c.fromHeader()
	if err != nil {
		return Failed, err
	}
	rtpConn, err := c.listenRTP()
	if err != nil {
		return Failed, err
	}
	defer rtpConn.Close()
	rtpPort := netip.MustParseAddrPort(rtpConn.LocalAddr().String()).Port()

	var sid [8]byte
	_, _ = rand.Read(sid[:])
	req := sip.NewRequest(sip.INVITE, uri)
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.AppendHeader(sip.NewHeader("Allow", "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS"))
	req.SetBody(buildOffer(binary.BigEndian.Uint64(sid[:])>>2, netip.AddrPortFrom(c.local.Addr(), rtpPort)))
	if dest != "" {
		req.SetDestination(dest)
		// A loose route through the trunk (RFC 3261 §8.1.2): requests
		// sipgo builds from the INVITE, CANCEL first (after ring_timeout),
		// copy it and so reach the trunk too, not the request URI's host.
		h, p, _ := net.SplitHostPort(dest)
		port, _ := strconv.Atoi(p)
		route := &sip.RouteHeader{Address: sip.Uri{Scheme: "sip", Host: h, Port: port, UriParams: sip.NewParams()}}
		route.Address.UriParams.Add("lr", "")
		c.withTransport(&route.Address)
		req.AppendHeader(route)
	}
	c.sendOver(req)

	tag, _ := from.Params.Get("tag")
	ac := newActiveCall(tag)
	callID := sip.CallIDHeader(fmt.Sprintf("%x@assent", sid))
	req.AppendHeader(&callID)
	c.mu.Lock()
	c.calls[string(callID)] = ac
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.calls, string(callID))
		c.mu.Unlock()
	}()

	log := c.cfg.Logger.With("call_id", string(callID))
	progress(Calling)
	dlg, err := c.dlgUA.WriteInvite(ctx, req)
	if err != nil {
		return Failed, fmt.Errorf("sip: INVITE: %w", err)
	}
	defer dlg.Close()

	ringCtx, ringCancel := context.WithTimeout(ctx, c.cfg.RingTimeout)
	err = dlg.WaitAnswer(ringCtx, sipgo.AnswerOptions{
		Username: c.cfg.Username,
		Password: c.cfg.Password,
		OnResponse: func(res *sip.Response) error {
			if res.StatusCode == sip.StatusRinging || res.StatusCode == sip.StatusSessionInProgress {
				progress(Ringing)
			}
			return nil
		},
	})
	ringCancel()
	if err != nil {
		var dr *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &dr):
			log.Info("sip call rejected", "status", dr.Res.StatusCode)
			switch dr.Res.StatusCode {
			case sip.StatusBusyHere, 600, 603:
				return Busy, nil
			case sip.StatusRequestTimeout, sip.StatusTemporarilyUnavailable, sip.StatusRequestTerminated:
				return NoAnswer, nil
			}
			return Failed, fmt.Errorf("sip: call rejected: %d %s", dr.Res.StatusCode, dr.Res.Reason)
		case ctx.Err() != nil:
			return Failed, fmt.Errorf("sip: call abandoned: %w", context.Cause(ctx))
		case errors.Is(ringCtx.Err(), context.DeadlineExceeded): // not the ringCancel above
			log.Info("sip call not answered", "ring_timeout", c.cfg.RingTimeout)
			return NoAnswer, nil
		}
		return Failed, fmt.Errorf("sip: INVITE: %w", err)
	}
	if err := dlg.Ack(ctx); err != nil {
		return Failed, fmt.Errorf("sip: ACK: %w", err)
	}
	// From here on, the call is ours to end with BYE unless the callee does.
	remoteBye := false
	defer func() {
		if remoteBye {
			return
		}
		byeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 4*time.Second)
		defer cancel()
		if err := dlg.Bye(byeCtx); err != nil {
			log.Warn("sip BYE", "err", err)
		}
	}()
	progress(Answered)

	ans, err := parseAnswer(dlg.InviteResponse.Body())
	if err != nil {
		return Failed, err
	}
	mediaCtx, mediaCancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer mediaCancel()
	mediaErr := make(chan error, 1)
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := sendMedia(mediaCtx, rtpConn, ans, prompt, ext, infoSender(dlg, req, dlg.InviteResponse), ac.arm); err != nil {
			mediaErr <- err
		}
	}()
	go func() {
		defer wg.Done()
		receiveDTMF(mediaCtx, rtpConn, ans, ac)
	}()

	wait := time.NewTimer(ext.duration() + c.cfg.AnswerTimeout)
	defer wait.Stop()
	select {
	case err := <-mediaErr:
		log.Info("sip call failed dialling the extension", "err", err)
		return Failed, err
	case d := <-ac.keys:
		log.Info("sip call key", "approved", d == '1')
		if d == '1' {
			return Approved, nil
		}
		return Denied, nil
	case <-ac.byeCh:
		remoteBye = true
		return HungUp, nil
	case <-wait.C:
		return Timeout, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && context.Cause(ctx) == ctx.Err() {
			return Timeout, nil // MaxDuration
		}
		return Failed, fmt.Errorf("sip: call abandoned: %w", context.Cause(ctx))
	}
}

// listenRTP binds a UDP port in the configured range, starting at a random
// offset so concurrent calls do not race for the same port.
func (c *Caller) listenRTP() (*net.UDPConn, error) {
	lo, hi := c.cfg.RTPPortMin, c.cfg.RTPPortMax
	n := hi - lo + 1
	var b [4]byte
	_, _ = rand.Read(b[:])
	start := int(binary.BigEndian.Uint32(b[:]) % uint32(n))
	ip := c.bindIP
	var lastErr error
	for i := 0; i < n && i < 200; i++ {
		port := lo + (start+i)%n
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	return nil, fmt.Errorf("sip: no free RTP port in %d–%d: %w", lo, hi, lastErr)
}

// receiveDTMF reads RTP until ctx ends and hands RFC 4733 key presses to
// the call. Packets from another IP than the answer's media address are
// dropped: only the callee may press keys.
func receiveDTMF(ctx context.Context, conn *net.UDPConn, ans answer, ac *activeCall) {
	if ans.EventType < 0 {
		<-ctx.Done() // the callee did not accept telephone-event: INFO only
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	r := dtmfReceiver{payloadType: uint8(ans.EventType)}
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if ctx.Err() != nil || !(errors.As(err, &ne) && ne.Timeout()) {
				return
			}
			continue
		}
		if from.Addr().Unmap() != ans.Remote.Addr() {
			continue
		}
		p, err := ParseRTP(buf[:n])
		if err != nil {
			continue
		}
		if d := r.packet(p); d != 0 {
			ac.key(d)
		}
	}
}

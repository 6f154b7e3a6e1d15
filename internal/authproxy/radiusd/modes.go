package radiusd

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
	"github.com/assent-auth/assent/internal/authproxy/primary"
)

// process decides one Access-Request (spec §2.2 steps 5–7). A nil reply
// means: answer nothing (the server is shutting down mid-request).
func (s *Server) process(ctx context.Context, rq *request) *reply {
	p, sec := rq.pkt, rq.sec
	if v, ok := lookupAttr(p.Attributes, sec.ClientIPAttr); ok {
		rq.client = clientIP(v)
	}
	rq.mschap = isMSCHAP(p)
	rq.user = string(rfc2865.UserName_Get(p))

	if enc, ok := p.Lookup(rfc2865.UserPassword_Type); ok {
		rq.hasPass = true
		b, err := radius.UserPassword(enc, rq.net.Secret, p.Authenticator[:])
		if err == nil {
			rq.pass, err = sec.DecodePassword(b)
		}
		if err != nil {
			s.log.Warn("radius: cannot decode User-Password; is the shared secret the same on the client?",
				"request_id", rq.id, "section", sec.Name, "nas", rq.src.String(), "err", err)
			return s.reject(rq, msgCannotDecode, StageUnknown, StatusError, nil)
		}
	}
	if rq.user == "" {
		return s.reject(rq, msgNoUsername, StageUnknown, StatusReject, nil)
	}
	if _, ok := p.Lookup(79); ok { // EAP-Message
		s.log.Warn("radius: EAP request refused: EAP pass-through is not implemented",
			"request_id", rq.id, "section", sec.Name, "user", rq.user)
		return s.reject(rq, msgEAP, StagePrimary, StatusError, nil)
	}

	switch sec.Mode {
	case ModeAuto:
		if st, ok := p.Lookup(rfc2865.State_Type); ok {
			return s.answerChallenge(ctx, rq, string(st))
		}
		return s.auto(ctx, rq)
	case ModeChallenge:
		if st, ok := p.Lookup(rfc2865.State_Type); ok {
			return s.answerChallenge(ctx, rq, string(st))
		}
		return s.challenge(ctx, rq)
	case ModeConcat:
		return s.concat(ctx, rq)
	case ModeDuoOnly:
		return s.duoOnly(ctx, rq)
	}
	return nil
}

// auto is radius_server_auto (spec §2.3).
func (s *Server) auto(ctx context.Context, rq *request) *reply {
	sec := rq.sec
	var (
		res          primary.Result
		concatFactor string
		done         bool
	)
	if !rq.mschap {
		if rq.pass == "" {
			return s.reject(rq, msgBadPassword, StagePrimary, StatusReject, nil)
		}
		if sec.AllowConcat {
			if left, right, ok := splitPassword(rq.pass, sec.Delimiter, sec.DelimitedPasswordLength); ok && left != "" {
				var rep *reply
				if res, rep, done = s.primaryAuth(ctx, rq, left); done {
					return rep
				}
				if res.Accepted {
					concatFactor, done = right, true
				}
				// Otherwise retry with the whole password: it may contain
				// the delimiter itself.
			}
		}
	}
	if !done {
		var rep *reply
		if res, rep, done = s.primaryAuth(ctx, rq, rq.pass); done {
			return rep
		}
	}
	if !res.Accepted {
		return s.primaryRejected(ctx, rq, res)
	}
	attrs := res.Attributes
	if sec.exempt(rq.user) {
		return s.accept(rq, msgExempt, attrs, StageSecondary)
	}
	pre, rep := s.preauthGate(ctx, rq, attrs, false)
	if pre == nil {
		return rep
	}
	factor := concatFactor
	if factor == "" {
		factor = chooseFactor(sec.Factors, *pre)
	}
	switch factor {
	case "":
		return s.reject(rq, msgNoFactors, StageSecondary, StatusReject, nil)
	case "passcode":
		rq.factor = "passcode"
		return s.sendChallenge(rq, &pending{kind: pendingPasscode, attrs: attrs}, msgEnterPasscode)
	}
	return s.duoAuth(ctx, rq, factor, attrs)
}

// challenge is radius_server_challenge (spec §2.4), first round.
func (s *Server) challenge(ctx context.Context, rq *request) *reply {
	sec := rq.sec
	if !rq.mschap && rq.pass == "" {
		return s.reject(rq, msgNoPassword, StagePrimary, StatusReject, nil)
	}
	res, rep, done := s.primaryAuth(ctx, rq, rq.pass)
	if done {
		return rep
	}
	if !res.Accepted {
		return s.primaryRejected(ctx, rq, res)
	}
	attrs := res.Attributes
	if sec.exempt(rq.user) {
		return s.accept(rq, msgExempt, attrs, StageSecondary)
	}
	pre, rep := s.preauthGate(ctx, rq, attrs, sec.EnrollChallenge)
	if pre == nil {
		return rep
	}
	prompt := formatPrompt(sec.PromptFormat, pre.Prompt, pre.Factors)
	if pre.VerifyCode != "" && !strings.Contains(prompt, pre.VerifyCode) {
		// The short format lists factor names only: the code must show.
		prompt = strings.TrimSuffix(prompt, ":") + " (push verification code " + pre.VerifyCode + "):"
	}
	return s.sendChallenge(rq, &pending{kind: pendingPrompt, attrs: attrs, factors: pre.Factors, promptRM: prompt,
		txid: pre.TxID}, prompt)
}

// answerChallenge handles a request carrying a State (spec §2.3 step 8,
// §2.4 steps 5–7, §4.4).
func (s *Server) answerChallenge(ctx context.Context, rq *request, state string) *reply {
	pd, n, ok := s.states.take(state, rq.sec, rq.src.Addr(), rq.user, s.opts.Now())
	s.obs.PendingChallenges(n)
	if !ok {
		s.log.Warn("radius: reply to an unknown, expired or foreign challenge",
			"request_id", rq.id, "section", rq.sec.Name, "user", rq.user, "nas", rq.src.String())
		return s.reject(rq, msgUnknownChallenge, StageSecondary, StatusReject, nil)
	}
	if rq.client == "" {
		rq.client = pd.client
	}
	switch pd.kind {
	case pendingEnroll:
		return s.reject(rq, msgEnrollAgain, StageSecondary, StatusReject, nil)
	case pendingPasscode:
		rq.factor = "passcode"
		if rq.pass == "" {
			return s.reject(rq, msgBadPassword, StageSecondary, StatusReject, nil)
		}
		return s.duoAuth(ctx, rq, rq.pass, pd.attrs)
	}
	choice := rq.pass
	if f, ok := pd.factors[choice]; ok {
		choice = f
	}
	if choice == "" {
		return s.reject(rq, msgBadPassword, StageSecondary, StatusReject, nil)
	}
	rq.factor = factorLabel(choice)
	rq.txid = pd.txid
	res, err := s.callAuth(ctx, rq, choice)
	if err != nil {
		return s.duoFailed(ctx, rq, err, duoclient.CallAuth, pd.attrs)
	}
	if res.Result != "allow" && smsFactor.MatchString(choice) {
		// New SMS passcodes are on their way: ask again, same menu.
		next := *pd
		return s.sendChallenge(rq, &next, pd.promptRM)
	}
	return s.authDecided(rq, res, pd.attrs)
}

// concat is radius_server_concat (spec §2.5).
func (s *Server) concat(ctx context.Context, rq *request) *reply {
	sec := rq.sec
	left, right, ok := splitPassword(rq.pass, sec.Delimiter, sec.DelimitedPasswordLength)
	if !ok || left == "" || right == "" {
		s.log.Info("radius: Missing or improperly-formatted password - expected password"+sec.Delimiter+"factor",
			"request_id", rq.id, "section", sec.Name, "user", rq.user)
		return s.reject(rq, msgInvalidPassword, StagePrimary, StatusReject, nil)
	}
	res, rep, done := s.primaryAuth(ctx, rq, left)
	if done {
		return rep
	}
	if !res.Accepted {
		return s.primaryRejected(ctx, rq, res)
	}
	attrs := res.Attributes
	if sec.exempt(rq.user) {
		return s.accept(rq, msgExempt, attrs, StageSecondary)
	}
	pre, rep := s.preauthGate(ctx, rq, attrs, false)
	if pre == nil {
		return rep
	}
	return s.duoAuth(ctx, rq, right, attrs)
}

// duoOnly is radius_server_duo_only (spec §2.6): the password is the
// factor or passcode.
func (s *Server) duoOnly(ctx context.Context, rq *request) *reply {
	if rq.sec.exempt(rq.user) {
		return s.accept(rq, msgExempt, nil, StageSecondary)
	}
	if rq.pass == "" {
		return s.reject(rq, msgBadPassword, StageSecondary, StatusReject, nil)
	}
	pre, rep := s.preauth(ctx, rq, nil)
	if rep != nil || pre == nil {
		return rep
	}
	// As Duo's proxy: when preauth named groups, an Accept (preauth's
	// allow or auth's) carries Class "OU=<first group>;", which a VPN can
	// map to a group policy.
	var attrs radius.Attributes
	if len(pre.Groups) > 0 {
		attrs = radius.Attributes{{Type: rfc2865.Class_Type, Attribute: radius.Attribute("OU=" + pre.Groups[0] + ";")}}
	}
	if pre.Result != "auth" {
		return s.settlePreauth(rq, pre, attrs, false)
	}
	return s.duoAuth(ctx, rq, rq.pass, attrs)
}

// preauthGate asks preauth and settles the request when the answer is
// allow (Accept), deny (Reject) or enroll (Reject, or an enrollment
// challenge when enrollChallenge). Only when the user must authenticate
// does it return the preauth answer; otherwise rep is the reply (nil: answer
// nothing).
func (s *Server) preauthGate(ctx context.Context, rq *request, attrs radius.Attributes, enrollChallenge bool) (pre *duoclient.Preauth, rep *reply) {
	pre, rep = s.preauth(ctx, rq, attrs)
	if rep != nil || pre == nil {
		return nil, rep
	}
	if pre.Result != "auth" {
		return nil, s.settlePreauth(rq, pre, attrs, enrollChallenge)
	}
	return pre, nil
}

// settlePreauth answers a preauth of result allow, deny or enroll (see
// preauthGate); attrs go with an Accept.
func (s *Server) settlePreauth(rq *request, pre *duoclient.Preauth, attrs radius.Attributes, enrollChallenge bool) *reply {
	switch pre.Result {
	case "allow":
		return s.accept(rq, pre.StatusMsg, attrs, StageSecondary)
	case "enroll":
		if enrollChallenge {
			return s.sendChallenge(rq, &pending{kind: pendingEnroll}, enrollText(*pre))
		}
		return s.reject(rq, enrollText(*pre), StageSecondary, StatusReject, nil)
	}
	return s.reject(rq, pre.StatusMsg, StageSecondary, StatusReject, nil)
}

// primaryAuth runs the first factor. done reports that the request is
// decided (rep is then the answer, or nil to answer nothing).
func (s *Server) primaryAuth(ctx context.Context, rq *request, password string) (res primary.Result, rep *reply, done bool) {
	start := time.Now()
	res, err := rq.sec.Primary.Authenticate(ctx, primary.Request{
		Username: rq.user,
		Password: password,
		Packet:   rq.pkt,
		Forward:  s.forward(rq),
		ClientIP: rq.src.Addr().String(),
	})
	rq.primary += time.Since(start)
	if err == nil {
		return res, nil, false
	}
	if ctx.Err() != nil {
		s.log.Warn("radius: request abandoned during primary authentication (shutting down)", "request_id", rq.id)
		return res, nil, true
	}
	msg := msgPrimaryError
	if ue, ok := errors.AsType[*primary.UnavailableError](err); ok && ue.Message != "" {
		msg = ue.Message
	}
	s.log.Error("radius: primary authentication failed", "request_id", rq.id, "section", rq.sec.Name,
		"user", rq.user, "err", err)
	return res, s.reject(rq, msg, StagePrimary, StatusError, nil), true
}

// primaryRejected answers a first factor that failed. An MS-CHAPv2
// "password expired" (E=648) is passed on so the user can change it —
// unless Duo would refuse the user anyway, then it becomes E=691 so no
// change-password dialog appears (spec §2.3 step 3).
func (s *Server) primaryRejected(ctx context.Context, rq *request, res primary.Result) *reply {
	if res.PasswordExpired && rq.mschap {
		if pre, err := s.callPreauth(ctx, rq, false); err == nil && (pre.Result == "deny" || pre.Result == "enroll") {
			msg := pre.StatusMsg
			if pre.Result == "enroll" {
				msg = enrollText(pre)
			}
			return s.reject(rq, msg, StageSecondary, StatusReject, withMSCHAPError(res.Attributes))
		}
	}
	rep := s.reject(rq, res.Message, StagePrimary, StatusReject, res.Attributes)
	rep.reason = res.Reason
	return rep
}

// forward picks the request attributes passed through to the primary.
func (s *Server) forward(rq *request) radius.Attributes {
	sec := rq.sec
	if !sec.PassThroughAll && len(sec.PassThrough) == 0 {
		return nil
	}
	var out radius.Attributes
	for _, a := range rq.pkt.Attributes {
		if sec.PassThroughAll {
			switch a.Type {
			case 1, 2, 3, 24, 33, 60, 79, 80:
				// credentials, State, Proxy-State, CHAP, EAP and M-A belong to
				// this hop; the primary builds its own.
			default:
				out = append(out, a)
			}
			continue
		}
		for _, want := range sec.PassThrough {
			if matchAttr(a, want) {
				out = append(out, a)
				break
			}
		}
	}
	return out
}

// callPreauth calls preauth; menu asks for the text_prompt menu.
func (s *Server) callPreauth(ctx context.Context, rq *request, menu bool) (duoclient.Preauth, error) {
	start := time.Now()
	pre, err := rq.sec.Duo.Preauth(ctx, duoclient.PreauthRequest{
		Username: rq.user, IPAddr: rq.client, Failmode: rq.sec.Failmode, Menu: menu,
		// Only challenge mode shows the user a text before the push.
		VerifiedPush: menu && rq.sec.Mode == ModeChallenge,
	})
	rq.preauth += time.Since(start)
	return pre, err
}

// preauth calls preauth; on failure rep is the failmode answer (or nil,
// with pre nil, to answer nothing).
//
// Only auto mode (its "auto" factor is the menu's default) and challenge
// mode (which shows the menu) ask for the text_prompt menu; duo_only and
// concat take the factor from the password and never read it.
func (s *Server) preauth(ctx context.Context, rq *request, attrs radius.Attributes) (*duoclient.Preauth, *reply) {
	menu := rq.sec.Mode == ModeAuto || rq.sec.Mode == ModeChallenge
	pre, err := s.callPreauth(ctx, rq, menu)
	if err != nil {
		return nil, s.duoFailed(ctx, rq, err, duoclient.CallPreauth, attrs)
	}
	switch pre.Result {
	case "allow", "deny", "enroll", "auth":
		return &pre, nil
	}
	// duoclient refuses unknown results; any other Duo is held to the same rule.
	return nil, s.duoFailed(ctx, rq, &duoclient.Error{Call: duoclient.CallPreauth, Class: duoclient.ClassMalformed,
		Message: "unknown preauth result " + pre.Result}, duoclient.CallPreauth, attrs)
}

func (s *Server) callAuth(ctx context.Context, rq *request, choice string) (duoclient.AuthResult, error) {
	start := time.Now()
	ar := duoclient.AuthRequest{Username: rq.user, Choice: choice, IPAddr: rq.client}
	if strings.HasPrefix(choice, "verified_push") {
		ar.TxID = rq.txid
	}
	res, err := rq.sec.Duo.Auth(ctx, ar)
	rq.auth += time.Since(start)
	return res, err
}

// duoAuth runs the second factor with choice (a factor name or passcode).
func (s *Server) duoAuth(ctx context.Context, rq *request, choice string, attrs radius.Attributes) *reply {
	if rq.factor == "" {
		rq.factor = factorLabel(choice)
	}
	res, err := s.callAuth(ctx, rq, choice)
	if err != nil {
		return s.duoFailed(ctx, rq, err, duoclient.CallAuth, attrs)
	}
	return s.authDecided(rq, res, attrs)
}

func (s *Server) authDecided(rq *request, res duoclient.AuthResult, attrs radius.Attributes) *reply {
	if res.Result == "allow" {
		return s.accept(rq, res.StatusMsg, attrs, StageSecondary)
	}
	return s.reject(rq, res.StatusMsg, StageSecondary, StatusReject, nil)
}

// duoFailed applies the failmode rules (spec §3): only a failmode=safe
// section lets the user in, only after a preauth failure, and only for
// failures Duo classes as fail-open (or in primary-only mode). A failed
// auth call never fails open: the user may have been sent a push that a
// timeout or a server error must not turn into a bypass.
func (s *Server) duoFailed(ctx context.Context, rq *request, err error, call duoclient.Call, attrs radius.Attributes) *reply {
	if ctx.Err() != nil {
		s.log.Warn("radius: request abandoned during the Auth API call (shutting down)", "request_id", rq.id, "call", string(call))
		return nil
	}
	de, isDuo := errors.AsType[*duoclient.Error](err)
	failOpen := isDuo && de.FailOpen()
	args := []any{"request_id", rq.id, "section", rq.sec.Name, "user", rq.user, "nas", rq.src.String(),
		"call", string(call), "failmode", rq.sec.Failmode, "err", err}
	if call == duoclient.CallPreauth && rq.sec.Failmode == FailmodeSafe {
		primaryOnly := s.opts.PrimaryOnly()
		if failOpen || primaryOnly {
			msg := msgFailSafe
			if primaryOnly {
				msg = msgPrimaryOnly
			}
			s.log.Error("radius: Auth API unavailable: user let in WITHOUT a second factor (failmode=safe)", args...)
			rep := s.accept(rq, msg, attrs, StageSecondary)
			rep.fail = true
			return rep
		}
	}
	s.log.Error("radius: Auth API call failed: login denied", args...)
	return s.reject(rq, msgFailSecure, StageSecondary, StatusError, nil)
}

// sendChallenge stores pd under a fresh State and asks the user.
func (s *Server) sendChallenge(rq *request, pd *pending, msg string) *reply {
	now := s.opts.Now()
	pd.sec, pd.src, pd.user, pd.client, pd.mschap = rq.sec, rq.src.Addr(), rq.user, rq.client, rq.mschap
	pd.expires = now.Add(s.opts.StateTTL)
	state, n, err := s.states.put(pd, now)
	s.obs.PendingChallenges(n)
	if err != nil {
		s.log.Error("radius: cannot issue a challenge: too many pending challenges",
			"request_id", rq.id, "section", rq.sec.Name, "user", rq.user, "max", s.opts.MaxPendingChallenges)
		return s.reject(rq, msgBusy, StageSecondary, StatusError, nil)
	}
	return &reply{code: radius.CodeAccessChallenge, msg: msg, state: state, stage: StageSecondary}
}

func (s *Server) accept(rq *request, msg string, attrs radius.Attributes, stage string) *reply {
	return &reply{code: radius.CodeAccessAccept, msg: msg, attrs: attrs, stage: stage, status: StatusAllow}
}

// reject answers Access-Reject; rejects of MS-CHAP requests carry an
// MS-CHAP-Error, the primary's or the proxy's own.
func (s *Server) reject(rq *request, msg, stage, status string, attrs radius.Attributes) *reply {
	if rq.mschap && !hasMSCHAPError(attrs) {
		attrs = withMSCHAPError(attrs)
	}
	return &reply{code: radius.CodeAccessReject, msg: msg, attrs: attrs, stage: stage, status: status}
}

var factorName = regexp.MustCompile(`^(auto|push|phone|sms|verified_push)\d*$`)

// factorLabel is what logs and events show for a choice: the factor name,
// or "passcode" — never the passcode itself.
func factorLabel(choice string) string {
	if factorName.MatchString(choice) {
		return choice
	}
	return "passcode"
}

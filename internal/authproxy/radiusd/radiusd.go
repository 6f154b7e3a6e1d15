// Package radiusd is the authentication proxy's RADIUS server: one UDP
// socket serving one or more server sections (radius_server_auto,
// _challenge, _concat and _duo_only, spec authproxy.md §2), each with its
// own client networks and secrets, primary authenticator and Auth API
// client.
//
// Around the mode logic it does what a RADIUS server must (spec §4):
// secrets by the smallest CIDR containing the source, Message-Authenticator
// verified when present (and required per network), a duplicate cache keyed
// by (source address, Identifier) so a retransmit never starts a second
// push, State single-use and bound to the source IP and User-Name,
// Proxy-State echoed, and Message-Authenticator first in every response.
// Status-Server (RFC 5997) from a known client, with a valid
// Message-Authenticator, is answered with an Access-Accept without
// touching the primary or the Auth API.
package radiusd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"layeh.com/radius"

	"github.com/assent-auth/assent/internal/authproxy/duoclient"
	"github.com/assent-auth/assent/internal/authproxy/primary"
)

// Primary checks the first factor (an ad_client, radius_client or
// duo_only_client).
type Primary interface {
	Authenticate(ctx context.Context, r primary.Request) (primary.Result, error)
}

// Duo is the Auth API. Errors are *duoclient.Error; anything else is
// treated as a failure that must not fail open.
type Duo interface {
	Preauth(ctx context.Context, r duoclient.PreauthRequest) (duoclient.Preauth, error)
	Auth(ctx context.Context, r duoclient.AuthRequest) (duoclient.AuthResult, error)
}

// Mode is the kind of server section.
type Mode string

const (
	ModeAuto      Mode = "auto"      // radius_server_auto
	ModeChallenge Mode = "challenge" // radius_server_challenge
	ModeConcat    Mode = "concat"    // radius_server_concat
	ModeDuoOnly   Mode = "duo_only"  // radius_server_duo_only
)

// Prompt formats of radius_server_challenge.
const (
	PromptConsole = "console"
	PromptHTML    = "html"
	PromptShort   = "short"
)

// Failmodes.
const (
	FailmodeSafe   = "safe"
	FailmodeSecure = "secure"
)

// Network is one radius_ip_N / radius_secret_N pair.
type Network struct {
	Prefix netip.Prefix
	Secret []byte
	// RequireMessageAuthenticator drops Access-Requests from this network
	// that carry no Message-Authenticator (BlastRADIUS, CVE-2024-3596).
	// The configuration turns it on unless the administrator turns it off;
	// the zero value here is off.
	RequireMessageAuthenticator bool
	// Index is the N of the radius_ip_N this network comes from (0 when
	// unknown), so that logs can name the setting to change.
	Index int
}

// Attr names a request attribute: a plain one (Vendor 0, Type) or a
// vendor-specific one (Vendor, VendorType inside attribute 26).
type Attr struct {
	Type       radius.Type
	Vendor     uint32
	VendorType byte
}

// CallingStationID is the default client_ip_attr.
var CallingStationID = Attr{Type: 31}

// Section is one RADIUS server section. The configuration layer fills in
// Duo's defaults (failmode=safe, factors=auto, allow_concat=true,
// enroll_challenge=true, …); zero values here mean "off" for booleans.
type Section struct {
	Name     string // e.g. "radius_server_challenge2", for logs and events
	Mode     Mode
	IKey     string // for auth events only
	Networks []Network

	Primary Primary // nil only for ModeDuoOnly
	Duo     Duo

	Failmode string // FailmodeSafe (default) or FailmodeSecure

	// auto mode: factor preference list of "auto", "push", "phone",
	// "passcode" (default ["auto"]).
	Factors []string
	// auto and concat: split the password at the last Delimiter (default
	// ","), or after DelimitedPasswordLength characters when that is > 0.
	Delimiter               string
	DelimitedPasswordLength int
	AllowConcat             bool // auto mode only

	PromptFormat    string // challenge mode: PromptConsole (default), PromptHTML, PromptShort
	EnrollChallenge bool   // challenge mode: enrollment text in an Access-Challenge (true) or Access-Reject

	// Exempt users skip Duo (exempt_username_N); compared case-insensitively.
	Exempt []string

	// ClientIPAttr is the attribute sent to Duo as the user's IP
	// (client_ip_attr); zero means Calling-Station-Id.
	ClientIPAttr Attr

	// Request attributes forwarded to the primary (pass_through_attr_names /
	// pass_through_all); only meaningful with a radius_client primary.
	PassThrough    []Attr
	PassThroughAll bool

	// DecodePassword turns the decrypted User-Password into text (pw_codec);
	// nil means UTF-8, which rejects invalid sequences.
	DecodePassword func([]byte) (string, error)
}

// Options tune the server; zero values take the defaults noted.
type Options struct {
	Logger   *slog.Logger // default slog.Default()
	Observer Observer     // default: nothing
	// Hostname is reported in auth events (default os.Hostname()).
	Hostname string
	// PrimaryOnly, when it returns true, lets users of failmode=safe
	// sections in without the second factor whenever the Auth API fails
	// (Duo's --primary-only).
	PrimaryOnly func() bool

	StateTTL time.Duration // default 300 s
	CacheTTL time.Duration // duplicate/response cache, default 30 s
	// MaxPendingChallenges bounds the memory held by outstanding
	// Access-Challenges (default 100000). When it is reached, new
	// challenges are refused: the request is answered with an
	// Access-Reject "Too many pending logins, try again later" and logged
	// at ERROR. Existing challenges are never evicted early, so a flood of
	// logins cannot cancel users who are typing their passcode.
	MaxPendingChallenges int
	// MaxInFlight bounds the requests being answered at once on the
	// socket (default DefaultMaxInFlight), and so the goroutines and the
	// Auth API calls in progress: a pending push holds its place for up to
	// a minute. A datagram that arrives when all places are taken is
	// dropped unread — the NAS retransmits it — counted as dropped
	// "overloaded" and warned about like other drops (once per
	// DropLogInterval per client address).
	MaxInFlight   int
	ReadBuffer    int           // UDP receive buffer in bytes, default 4 MiB
	ShutdownGrace time.Duration // how long Serve waits for requests in progress, default 5 s
	// DropLogInterval is the least time between two warnings about packets
	// dropped for the same reason from the same client address (default
	// 1 minute); the metrics count every packet.
	DropLogInterval time.Duration
	Now             func() time.Time
}

// DefaultMaxInFlight is Options.MaxInFlight when it is 0: as many requests
// as the Auth API client opens connections by default
// (duoclient.DefaultMaxConns), so every request in progress can have its
// own.
const DefaultMaxInFlight = duoclient.DefaultMaxConns

// Observer receives what happened, for auth-event logs and metrics. Calls
// come from many goroutines at once.
type Observer interface {
	// Observe is called once per answered request.
	Observe(Event)
	// Dropped is called for every packet dropped without an answer.
	Dropped(reason string)
	// Duplicate is called for every retransmit: kind "in_flight" (ignored)
	// or "resent" (answered from the cache).
	Duplicate(kind string)
	// PendingChallenges reports the number of outstanding challenges.
	PendingChallenges(n int)
	// StatusServer is called for every Status-Server answered, with the
	// section of the client's network.
	StatusServer(section string)
}

// Auth stages and statuses of Event, as Duo's authevents.log names them.
const (
	StagePrimary   = "Primary authentication"
	StageSecondary = "Secondary authentication"
	StageUnknown   = "Unknown"

	StatusAllow  = "Allow"
	StatusReject = "Reject"
	StatusError  = "Error"
)

// Results of Event.
const (
	ResultAccept    = "accept"
	ResultReject    = "reject"
	ResultChallenge = "challenge"
)

// Event describes one answered request.
type Event struct {
	Time      time.Time
	RequestID string
	Msg       string // Reply-Message sent
	Username  string
	AuthStage string // StagePrimary, StageSecondary or StageUnknown
	// Status is StatusAllow, StatusReject or StatusError; empty for an
	// Access-Challenge, which decides nothing yet.
	Status            string
	Result            string // ResultAccept, ResultReject, ResultChallenge
	ClientIP          string // the user's IP from client_ip_attr, if any
	NASAddr           string // source of the packet
	ServerSection     string
	ServerSectionIKey string
	Factor            string // factor sent to Duo ("push1", "passcode", …)
	Hostname          string
	FailOpen          bool // let in because the Auth API failed
	// Reason says why the first factor was refused (primary.Result.Reason),
	// for logs only: the user is told Msg.
	Reason string
	// Stage latencies; zero when the stage did not run.
	Primary, Preauth, Auth time.Duration
	Total                  time.Duration
}

type nopObserver struct{}

func (nopObserver) Observe(Event)         {}
func (nopObserver) Dropped(string)        {}
func (nopObserver) Duplicate(string)      {}
func (nopObserver) PendingChallenges(int) {}
func (nopObserver) StatusServer(string)   {}

// route is one network of one section, for the longest-prefix match.
type route struct {
	net Network
	sec *Section
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	if o.Hostname == "" {
		o.Hostname, _ = os.Hostname()
	}
	if o.PrimaryOnly == nil {
		o.PrimaryOnly = func() bool { return false }
	}
	if o.StateTTL <= 0 {
		o.StateTTL = 300 * time.Second
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = 30 * time.Second
	}
	if o.MaxPendingChallenges <= 0 {
		o.MaxPendingChallenges = 100000
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.ReadBuffer <= 0 {
		o.ReadBuffer = 4 << 20
	}
	if o.ShutdownGrace <= 0 {
		o.ShutdownGrace = 5 * time.Second
	}
	if o.DropLogInterval <= 0 {
		o.DropLogInterval = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// check validates a section and fills its defaults.
func (s *Section) check() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if s.Name == "" {
		bad("section without a name")
	}
	switch s.Mode {
	case ModeAuto, ModeChallenge, ModeConcat:
		if s.Primary == nil {
			bad("mode %s needs a primary authenticator (client)", s.Mode)
		}
	case ModeDuoOnly:
	default:
		bad("unknown mode %q", s.Mode)
	}
	if s.Duo == nil {
		bad("no Auth API client")
	}
	switch s.Failmode {
	case "":
		s.Failmode = FailmodeSafe
	case FailmodeSafe, FailmodeSecure:
	default:
		bad("failmode %q: want safe or secure", s.Failmode)
	}
	if len(s.Factors) == 0 {
		s.Factors = []string{"auto"}
	}
	for _, f := range s.Factors {
		switch f {
		case "auto", "push", "phone", "passcode":
		default:
			bad("factor %q: want auto, push, phone or passcode", f)
		}
	}
	if s.Delimiter == "" {
		s.Delimiter = ","
	}
	if s.DelimitedPasswordLength < 0 {
		bad("delimited_password_length %d is negative", s.DelimitedPasswordLength)
	}
	switch s.PromptFormat {
	case "":
		s.PromptFormat = PromptConsole
	case PromptConsole, PromptHTML, PromptShort:
	default:
		bad("prompt_format %q: want console, html or short", s.PromptFormat)
	}
	if s.ClientIPAttr == (Attr{}) {
		s.ClientIPAttr = CallingStationID
	}
	if len(s.Networks) == 0 {
		bad("no client networks (radius_ip_N)")
	}
	for i, n := range s.Networks {
		if !n.Prefix.IsValid() {
			bad("network %d: invalid prefix", i+1)
		}
		if len(n.Secret) == 0 {
			bad("network %s: empty secret", n.Prefix)
		}
	}
	if s.DecodePassword == nil {
		s.DecodePassword = decodeUTF8
	}
	if len(errs) > 0 {
		return fmt.Errorf("section %s: %w", s.Name, errors.Join(errs...))
	}
	return nil
}

// buildRoutes orders every network of every section from the most to the
// least specific, so the first match is the smallest CIDR containing an
// address. The same prefix twice is ambiguous and refused.
func buildRoutes(sections []*Section) ([]route, error) {
	var rs []route
	seen := map[netip.Prefix]string{}
	for _, s := range sections {
		for _, n := range s.Networks {
			p := n.Prefix.Masked()
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
			}
			if other, dup := seen[p]; dup {
				return nil, fmt.Errorf("network %s is listed twice (sections %s and %s) on one socket", p, other, s.Name)
			}
			seen[p] = s.Name
			n.Prefix = p
			rs = append(rs, route{net: n, sec: s})
		}
	}
	slices.SortStableFunc(rs, func(a, b route) int {
		return cmp.Compare(b.net.Prefix.Bits(), a.net.Prefix.Bits())
	})
	return rs, nil
}

func (s *Server) route(a netip.Addr) (*route, bool) {
	a = a.Unmap()
	for i := range s.routes {
		if s.routes[i].net.Prefix.Contains(a) {
			return &s.routes[i], true
		}
	}
	return nil, false
}

func (s *Section) exempt(user string) bool {
	for _, e := range s.Exempt {
		if strings.EqualFold(e, user) {
			return true
		}
	}
	return false
}

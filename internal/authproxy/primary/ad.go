package primary

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Messages of the ad_client, Duo's texts.
const (
	MsgUserAuthFailed = "User Authentication Failed"
	MsgInvalidUser    = "Invalid User"
	MsgADUnavailable  = "Failed to communicate with any Active Directory server"
)

// ADConfig is an [ad_client] section.
type ADConfig struct {
	// Hosts are tried in order; each is a host name or IP, optionally
	// with ":port" (which overrides Port).
	Hosts []string
	// Port is 389, or 636 for ldaps, when zero.
	Port int
	// Transport is "clear" (default), "ldaps" or "starttls".
	Transport string
	// CAFile is the PEM bundle the server certificate must chain to
	// (ssl_ca_certs_file); empty means the system roots.
	CAFile string
	// SkipVerifyHostname is ssl_verify_hostname=false: the chain is still
	// verified, the name in the certificate is not.
	SkipVerifyHostname bool
	// AuthType is "plain", "ntlm1" or "ntlm2" (default). "sspi" is
	// Windows-only and refused.
	AuthType string
	// BindDN is the service account's DN for auth_type=plain.
	BindDN string
	// ServiceUsername is the service account for NTLM binds ("user" or
	// "DOMAIN\user").
	ServiceUsername string
	ServicePassword string
	NTLMDomain      string
	// NTLMWorkstation is accepted for compatibility; go-ldap's NTLM
	// negotiation does not send a workstation name.
	NTLMWorkstation string
	SearchDN        string
	// SecurityGroupDN, when set, must be in the user's memberOf or be the
	// user's primary group.
	SecurityGroupDN string
	// LDAPFilter is ANDed into the user search; parentheses are added
	// when missing.
	LDAPFilter string
	// UsernameAttribute is searched for plain names (default
	// sAMAccountName), AtAttribute for names with "@" (default
	// userPrincipalName).
	UsernameAttribute string
	AtAttribute       string
	// Timeout bounds the whole exchange with one host (default 10 s).
	Timeout time.Duration
	Logger  *slog.Logger
}

// ADClient authenticates against Active Directory or another LDAP server:
// bind as the service account, find the user, check the group, bind as the
// user. It is safe for concurrent use; every authentication uses its own
// connection.
type ADClient struct {
	cfg     ADConfig
	hosts   []adHost
	tls     *tls.Config // nil for clear
	group   *ldap.DN
	filter  string // ldap_filter, parenthesised, or ""
	timeout time.Duration
	log     *slog.Logger
}

type adHost struct {
	addr, name string // host:port, and the name the certificate must carry
}

// NewAD checks cfg and builds a client. It does not contact any server.
func NewAD(cfg ADConfig) (*ADClient, error) {
	c := &ADClient{cfg: cfg, timeout: cfg.Timeout, log: cfg.Logger}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.timeout <= 0 {
		c.timeout = 10 * time.Second
	}
	if c.cfg.UsernameAttribute == "" {
		c.cfg.UsernameAttribute = "sAMAccountName"
	}
	if c.cfg.AtAttribute == "" {
		c.cfg.AtAttribute = "userPrincipalName"
	}
	switch c.cfg.AuthType {
	case "":
		c.cfg.AuthType = "ntlm2"
	case "plain", "ntlm1", "ntlm2":
	case "sspi":
		return nil, errors.New("ad_client: auth_type sspi needs Windows integrated authentication, which Assent does not support; use ntlm2 or plain")
	default:
		return nil, fmt.Errorf("ad_client: unknown auth_type %q", cfg.AuthType)
	}
	if c.cfg.AuthType == "plain" && c.cfg.BindDN == "" {
		return nil, errors.New("ad_client: auth_type plain needs bind_dn")
	}
	if c.cfg.AuthType != "plain" && c.cfg.ServiceUsername == "" {
		return nil, errors.New("ad_client: service_account_username is required")
	}
	if c.cfg.ServicePassword == "" {
		return nil, errors.New("ad_client: service_account_password is required")
	}
	if c.cfg.SearchDN == "" {
		return nil, errors.New("ad_client: search_dn is required")
	}
	if _, err := ldap.ParseDN(c.cfg.SearchDN); err != nil {
		return nil, fmt.Errorf("ad_client: search_dn: %w", err)
	}
	if g := c.cfg.SecurityGroupDN; g != "" {
		dn, err := ldap.ParseDN(g)
		if err != nil {
			return nil, fmt.Errorf("ad_client: security_group_dn: %w", err)
		}
		c.group = dn
	}
	if f := strings.TrimSpace(c.cfg.LDAPFilter); f != "" {
		if !strings.HasPrefix(f, "(") {
			f = "(" + f + ")"
		}
		if _, err := ldap.CompileFilter(f); err != nil {
			return nil, fmt.Errorf("ad_client: ldap_filter: %w", err)
		}
		c.filter = f
	}
	for _, a := range []string{c.cfg.UsernameAttribute, c.cfg.AtAttribute} {
		if !validAttrName(a) {
			return nil, fmt.Errorf("ad_client: invalid attribute name %q", a)
		}
	}

	port := cfg.Port
	switch cfg.Transport {
	case "", "clear", "starttls":
		if port == 0 {
			port = 389
		}
	case "ldaps":
		if port == 0 {
			port = 636
		}
	default:
		return nil, fmt.Errorf("ad_client: unknown transport %q", cfg.Transport)
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("ad_client: port %d out of range", port)
	}
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("ad_client: host is required")
	}
	for _, h := range cfg.Hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, errors.New("ad_client: empty host")
		}
		name, addr := h, net.JoinHostPort(h, strconv.Itoa(port))
		if hh, p, err := net.SplitHostPort(h); err == nil {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 || hh == "" {
				return nil, fmt.Errorf("ad_client: invalid host %q", h)
			}
			name, addr = hh, h
		}
		c.hosts = append(c.hosts, adHost{addr: addr, name: name})
	}
	if cfg.Transport == "ldaps" || cfg.Transport == "starttls" {
		t, err := clientTLS(cfg.CAFile, cfg.SkipVerifyHostname)
		if err != nil {
			return nil, fmt.Errorf("ad_client: %w", err)
		}
		c.tls = t
	}
	return c, nil
}

func validAttrName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == ';' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// clientTLS trusts caFile (or the system roots) and, unless skipHostname,
// checks the server's name (set per host as ServerName).
func clientTLS(caFile string, skipHostname bool) (*tls.Config, error) {
	var roots *x509.CertPool
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading ssl_ca_certs_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ssl_ca_certs_file %s holds no PEM certificate", caFile)
		}
	}
	t := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if skipHostname {
		// Verify the chain ourselves, without a name.
		t.InsecureSkipVerify = true
		t.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return t, nil
}

// hostError is a failure that moves on to the next host.
type hostError struct {
	stage string
	err   error
}

func (e *hostError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *hostError) Unwrap() error { return e.err }

// Authenticate checks r.Username and r.Password. Hosts are tried in order;
// only a failure to connect, to bind as the service account or to search
// moves on to the next one. A wrong password or unknown user is a Result,
// not an error.
func (c *ADClient) Authenticate(ctx context.Context, r Request) (Result, error) {
	if r.Password == "" {
		// Never turn a login into an anonymous (unauthenticated) bind.
		return Result{Message: MsgUserAuthFailed, Reason: "empty password (never sent as an anonymous bind)"}, nil
	}
	if r.Username == "" {
		return Result{Message: MsgInvalidUser, Reason: "empty username"}, nil
	}
	var errs []error
	for _, h := range c.hosts {
		start := time.Now()
		res, err := c.tryHost(ctx, h, r.Username, r.Password)
		if err == nil {
			c.log.Debug("ad_client: answer", "host", h.addr, "user", r.Username, "accepted", res.Accepted,
				"message", res.Message, "latency", time.Since(start))
			return res, nil
		}
		c.log.Warn("ad_client: host failed", "host", h.addr, "user", r.Username, "error", err, "latency", time.Since(start))
		errs = append(errs, fmt.Errorf("%s: %w", h.addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return Result{}, &UnavailableError{Message: MsgADUnavailable, Err: errors.Join(errs...)}
}

func (c *ADClient) tryHost(ctx context.Context, h adHost, username, password string) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.connect(ctx, h)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	if err := c.serviceBind(conn); err != nil {
		return Result{}, &hostError{"service account bind", err}
	}
	entry, found, err := c.findUser(conn, username)
	if err != nil {
		return Result{}, &hostError{"user search", err}
	}
	if !found {
		return Result{Message: MsgInvalidUser, Reason: fmt.Sprintf("user not found on %s (search_dn, username_attribute)", h.addr)}, nil
	}
	if c.group != nil {
		ok, err := c.inGroup(conn, entry)
		if err != nil {
			return Result{}, &hostError{"group check", err}
		}
		if !ok {
			c.log.Info("ad_client: user not in security_group_dn", "user", username, "dn", entry.DN)
			return Result{Message: MsgUserAuthFailed, Reason: "user " + entry.DN + " is not in security_group_dn"}, nil
		}
	}
	if err := c.userBind(conn, entry, username, password); err != nil {
		if answered(err) {
			c.log.Info("ad_client: user bind refused", "user", username, "dn", entry.DN, "error", err)
			return Result{Message: MsgUserAuthFailed, Reason: "bind as " + entry.DN + " refused: " + err.Error()}, nil
		}
		return Result{}, &hostError{"user bind", err}
	}
	return Result{Accepted: true}, nil
}

// answered reports whether err is the server's LDAP result (for example
// invalidCredentials) rather than a network or client-side failure.
func answered(err error) bool {
	var le *ldap.Error
	return errors.As(err, &le) && le.ResultCode < ldap.ErrorNetwork
}

// connect dials h with the configured transport. The connection's
// deadline is ctx's, so a host that accepts and never answers costs at most
// the per-host timeout; cancelling ctx closes it.
func (c *ADClient) connect(ctx context.Context, h adHost) (*ldap.Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", h.addr)
	if err != nil {
		return nil, &hostError{"connect", err}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
	fail := func(stage string, err error) (*ldap.Conn, error) {
		stop()
		_ = raw.Close()
		return nil, &hostError{stage, err}
	}
	var conn net.Conn = raw
	isTLS := false
	if c.cfg.Transport == "ldaps" {
		tc := tls.Client(raw, c.tlsFor(h))
		if err := tc.HandshakeContext(ctx); err != nil {
			return fail("TLS handshake", err)
		}
		conn, isTLS = tc, true
	}
	l := ldap.NewConn(conn, isTLS)
	l.Start()
	if dl, ok := ctx.Deadline(); ok {
		l.SetTimeout(time.Until(dl))
	}
	if c.cfg.Transport == "starttls" {
		if err := l.StartTLS(c.tlsFor(h)); err != nil {
			l.Close()
			return fail("StartTLS", err)
		}
	}
	return l, nil
}

func (c *ADClient) tlsFor(h adHost) *tls.Config {
	t := c.tls.Clone()
	t.ServerName = h.name
	return t
}

// ntlmAccount splits "DOMAIN\user" when no domain is configured.
func ntlmAccount(domain, user string) (string, string) {
	if domain == "" {
		if i := strings.IndexByte(user, '\\'); i > 0 {
			return user[:i], user[i+1:]
		}
	}
	return domain, user
}

func (c *ADClient) serviceBind(l *ldap.Conn) error {
	if c.cfg.AuthType == "plain" {
		return l.Bind(c.cfg.BindDN, c.cfg.ServicePassword)
	}
	// ntlm1 and ntlm2 both use NTLMv2 (go-ntlmssp has no NTLMv1, which
	// domain controllers refuse by default anyway).
	domain, user := ntlmAccount(c.cfg.NTLMDomain, c.cfg.ServiceUsername)
	return l.NTLMBind(domain, user, c.cfg.ServicePassword)
}

// findUser searches for exactly one entry; more than one is treated as no
// such user, since binding as an arbitrary one of them would be wrong.
func (c *ADClient) findUser(l *ldap.Conn, username string) (*ldap.Entry, bool, error) {
	attr := c.cfg.UsernameAttribute
	if strings.Contains(username, "@") {
		attr = c.cfg.AtAttribute
	}
	filter := "(" + attr + "=" + ldap.EscapeFilter(username) + ")"
	if c.filter != "" {
		filter = "(&" + filter + c.filter + ")"
	}
	attrs := []string{"memberOf", "primaryGroupID", "objectSid", "sAMAccountName", c.cfg.UsernameAttribute}
	req := ldap.NewSearchRequest(c.cfg.SearchDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(c.timeout/time.Second), false, filter, attrs, nil)
	res, err := l.Search(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		c.log.Warn("ad_client: more than one entry matches", "user", username, "filter", filter)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	switch len(res.Entries) {
	case 0:
		return nil, false, nil
	case 1:
		return res.Entries[0], true, nil
	}
	c.log.Warn("ad_client: more than one entry matches", "user", username, "filter", filter)
	return nil, false, nil
}

// inGroup checks whether the user e is in security_group_dn, directly or
// through nested groups, in the ways directories record it:
//
//  1. memberOf on the user (Active Directory; OpenLDAP with the memberof
//     overlay);
//  2. Active Directory's LDAP_MATCHING_RULE_IN_CHAIN on memberOf, which
//     expands nested groups on the server (other servers do not know the
//     rule and match nothing);
//  3. the groups whose member or uniqueMember (groupOfNames,
//     groupOfUniqueNames) lists the user, and the groups that list those,
//     up to security_group_dn, each group looked at once (cycles end);
//     and security_group_dn's own uniqueMember values that carry the
//     optional unique identifier ("dn#'0101'B"), which an equality filter
//     without it does not match;
//  4. the AD primary group: primaryGroupID is the group's RID, the last
//     part of its objectSid (the primary group is never in memberOf).
func (c *ADClient) inGroup(l *ldap.Conn, e *ldap.Entry) (bool, error) {
	for _, v := range e.GetAttributeValues("memberOf") {
		if dn, err := ldap.ParseDN(v); err == nil && dn.EqualFold(c.group) {
			return true, nil
		}
	}
	if ok, err := c.inChain(l, e.DN); ok || err != nil {
		return ok, err
	}
	if ok, err := c.listedIn(l, e.DN); ok || err != nil {
		return ok, err
	}
	if ok, err := c.listedWithUID(l, e.DN); ok || err != nil {
		return ok, err
	}
	return c.inPrimaryGroup(l, e)
}

// MatchingRuleInChain is Active Directory's LDAP_MATCHING_RULE_IN_CHAIN.
const MatchingRuleInChain = "1.2.840.113556.1.4.1941"

// inChain asks the server whether userDN is in the group's chain. A
// server that refuses the filter (not AD) answers no.
func (c *ADClient) inChain(l *ldap.Conn, userDN string) (bool, error) {
	filter := "(memberOf:" + MatchingRuleInChain + ":=" + ldap.EscapeFilter(c.cfg.SecurityGroupDN) + ")"
	res, err := l.Search(ldap.NewSearchRequest(userDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, filter, []string{"1.1"}, nil))
	if err != nil {
		if answered(err) {
			return false, nil
		}
		return false, err
	}
	return len(res.Entries) == 1, nil
}

// maxGroupWalk bounds the groups listedIn looks at.
const maxGroupWalk = 1000

// listedIn walks up from userDN through the groups that list it as member
// or uniqueMember, under the naming context of security_group_dn, until
// it reaches security_group_dn.
func (c *ADClient) listedIn(l *ldap.Conn, userDN string) (bool, error) {
	base := namingContext(c.group)
	seen := map[string]bool{}
	queue := []string{userDN}
	for len(queue) > 0 && len(seen) < maxGroupWalk {
		dn := queue[0]
		queue = queue[1:]
		esc := ldap.EscapeFilter(dn)
		res, err := l.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, "(|(member="+esc+")(uniqueMember="+esc+"))", []string{"1.1"}, nil), 500)
		if err != nil {
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				return false, nil
			}
			return false, err
		}
		for _, g := range res.Entries {
			gdn, err := ldap.ParseDN(g.DN)
			if err != nil {
				continue
			}
			if gdn.EqualFold(c.group) {
				return true, nil
			}
			key := strings.ToLower(gdn.String())
			if !seen[key] {
				seen[key] = true
				queue = append(queue, g.DN)
			}
		}
	}
	return false, nil
}

// listedWithUID reads security_group_dn's uniqueMember values and looks
// for userDN among them, ignoring their optional unique identifier.
func (c *ADClient) listedWithUID(l *ldap.Conn, userDN string) (bool, error) {
	user, err := ldap.ParseDN(userDN)
	if err != nil {
		return false, nil
	}
	res, err := l.Search(ldap.NewSearchRequest(c.cfg.SecurityGroupDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(uniqueMember=*)", []string{"uniqueMember"}, nil))
	if err != nil {
		if answered(err) {
			return false, nil
		}
		return false, err
	}
	for _, e := range res.Entries {
		for _, v := range e.GetAttributeValues("uniqueMember") {
			i := strings.LastIndex(v, "#'")
			if i < 0 || !strings.HasSuffix(v, "'B") {
				continue
			}
			if dn, err := ldap.ParseDN(v[:i]); err == nil && dn.EqualFold(user) {
				return true, nil
			}
		}
	}
	return false, nil
}

// namingContext is the dc= suffix of dn (dc=example,dc=com), where its
// groups are searched; dn itself when it has none.
func namingContext(dn *ldap.DN) string {
	i := len(dn.RDNs)
	for i > 0 {
		r := dn.RDNs[i-1]
		if len(r.Attributes) != 1 || !strings.EqualFold(r.Attributes[0].Type, "dc") {
			break
		}
		i--
	}
	if i == len(dn.RDNs) {
		return dn.String()
	}
	return (&ldap.DN{RDNs: dn.RDNs[i:]}).String()
}

func (c *ADClient) inPrimaryGroup(l *ldap.Conn, e *ldap.Entry) (bool, error) {
	pg := e.GetAttributeValue("primaryGroupID")
	if pg == "" {
		return false, nil
	}
	rid, err := strconv.ParseUint(pg, 10, 32)
	if err != nil {
		return false, nil
	}
	res, err := l.Search(ldap.NewSearchRequest(c.cfg.SecurityGroupDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{"objectSid"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		c.log.Warn("ad_client: security_group_dn not found", "dn", c.cfg.SecurityGroupDN)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if len(res.Entries) != 1 {
		return false, nil
	}
	gdom, grid, ok := splitSID(res.Entries[0].GetRawAttributeValue("objectSid"))
	if !ok || uint64(grid) != rid {
		return false, nil
	}
	// The RID is only unique within a domain: compare the user's domain
	// when the entry carries its SID.
	if usid := e.GetRawAttributeValue("objectSid"); len(usid) > 0 {
		udom, _, ok := splitSID(usid)
		if !ok || udom != gdom {
			return false, nil
		}
	}
	return true, nil
}

// splitSID splits a binary SID into its domain part (everything but the
// last sub-authority) and its RID.
func splitSID(b []byte) (domain string, rid uint32, ok bool) {
	if len(b) < 8 {
		return "", 0, false
	}
	n := int(b[1])
	if n < 1 || len(b) != 8+4*n {
		return "", 0, false
	}
	return string(b[:len(b)-4]), binary.LittleEndian.Uint32(b[len(b)-4:]), true
}

func (c *ADClient) userBind(l *ldap.Conn, e *ldap.Entry, username, password string) error {
	if c.cfg.AuthType == "plain" {
		return l.Bind(e.DN, password)
	}
	name := e.GetAttributeValue("sAMAccountName")
	if name == "" {
		name = username
	}
	domain, user := ntlmAccount(c.cfg.NTLMDomain, name)
	return l.NTLMBind(domain, user, password)
}

// HostCheck is the connectivity test of one host.
type HostCheck struct {
	Host    string
	Err     error // nil: connected, bound as the service account, searched
	Elapsed time.Duration
}

// Check connects to every host, binds as the service account and reads
// search_dn, for `assent authproxy check`.
func (c *ADClient) Check(ctx context.Context) []HostCheck {
	out := make([]HostCheck, len(c.hosts))
	done := make(chan struct{})
	for i, h := range c.hosts {
		go func() {
			defer func() { done <- struct{}{} }()
			start := time.Now()
			out[i] = HostCheck{Host: h.addr, Err: c.checkHost(ctx, h)}
			out[i].Elapsed = time.Since(start)
		}()
	}
	for range c.hosts {
		<-done
	}
	return out
}

func (c *ADClient) checkHost(ctx context.Context, h adHost) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	conn, err := c.connect(ctx, h)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := c.serviceBind(conn); err != nil {
		return &hostError{"service account bind", err}
	}
	_, err = conn.Search(ldap.NewSearchRequest(c.cfg.SearchDN, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		return &hostError{"search of search_dn", err}
	}
	return nil
}

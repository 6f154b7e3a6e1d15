package authproxy

import (
	"context"
	"fmt"
	"sort"

	"github.com/assent-auth/assent/internal/authproxy/cfg"
	"github.com/assent-auth/assent/internal/authproxy/primary"
	"github.com/assent-auth/assent/internal/authproxy/radiusd"
)

// primary builds the primary authenticator of a server section's client.
func (p *Proxy) primary(s *cfg.Server) (radiusd.Primary, error) {
	switch s.ClientKind {
	case cfg.ClientAD:
		return newAD(p.cfg.ADClients[s.Client], p)
	case cfg.ClientRADIUS:
		return newRadiusClient(p.cfg.RadiusClients[s.Client], p)
	case cfg.ClientDuoOnly:
		return primary.DuoOnly{}, nil
	}
	return nil, fmt.Errorf("client %q of kind %q is not supported", s.Client, s.ClientKind)
}

func newAD(c *cfg.ADClient, p *Proxy) (*primary.ADClient, error) {
	if c == nil {
		return nil, fmt.Errorf("no such ad_client section")
	}
	ac := primary.ADConfig{
		Hosts:              c.Hosts,
		Port:               c.Port,
		Transport:          c.Transport,
		CAFile:             c.SSLCACertsFile,
		SkipVerifyHostname: !c.SSLVerifyHostname,
		AuthType:           c.AuthType,
		BindDN:             c.BindDN,
		ServiceUsername:    c.ServiceAccountUsername,
		ServicePassword:    c.ServiceAccountPassword.Reveal(),
		NTLMDomain:         c.NTLMDomain,
		NTLMWorkstation:    c.NTLMWorkstation,
		SearchDN:           c.SearchDN,
		SecurityGroupDN:    c.SecurityGroupDN,
		LDAPFilter:         c.LDAPFilter,
		UsernameAttribute:  c.UsernameAttribute,
		AtAttribute:        c.AtAttribute,
		Timeout:            c.Timeout,
	}
	if p != nil {
		ac.Logger = p.log.With("client", c.Name)
	}
	return primary.NewAD(ac)
}

func newRadiusClient(c *cfg.RadiusClient, p *Proxy) (*primary.RadiusClient, error) {
	if c == nil {
		return nil, fmt.Errorf("no such radius_client section")
	}
	rc := primary.RadiusConfig{
		Secret:         c.Secret.Reveal(),
		Retries:        c.Retries,
		RetryWait:      c.RetryWait,
		NASIP:          c.NASIP,
		PassThroughAll: c.PassThroughAll,
	}
	for _, h := range c.Hosts {
		rc.Hosts = append(rc.Hosts, h.Addr())
	}
	for _, name := range c.PassThroughAttrNames {
		a, err := lookupAttr(name)
		if err != nil {
			return nil, fmt.Errorf("pass_through_attr_names: %w", err)
		}
		rc.PassThrough = append(rc.PassThrough, primary.AttrID(a))
	}
	if p != nil {
		rc.Logger = p.log.With("client", c.Name)
	}
	return primary.NewRadius(rc)
}

// checkPrimaries adds the connectivity tests of every client section:
// connect, service-account bind and search per ad_client host, and
// Status-Server per radius_client host.
func checkPrimaries(c *cfg.Config, run func(check, section, target string, f func(context.Context) (string, error)),
	many func(check, section string, f func(context.Context) []CheckResult)) {
	hostResults := func(hs []primary.HostCheck, okText string) []CheckResult {
		out := make([]CheckResult, 0, len(hs))
		for _, h := range hs {
			r := CheckResult{Target: h.Host, OK: h.Err == nil, Detail: okText, Seconds: h.Elapsed.Seconds()}
			if h.Err != nil {
				r.Detail = h.Err.Error()
			}
			out = append(out, r)
		}
		return out
	}
	for _, name := range sortedKeys(c.ADClients) {
		ad, err := newAD(c.ADClients[name], nil)
		if err != nil {
			run(CheckLDAP, name, "", func(context.Context) (string, error) { return "", err })
			continue
		}
		many(CheckLDAP, name, func(ctx context.Context) []CheckResult {
			return hostResults(ad.Check(ctx), "connected, bound as the service account, searched search_dn")
		})
	}
	for _, name := range sortedKeys(c.RadiusClients) {
		rc, err := newRadiusClient(c.RadiusClients[name], nil)
		if err != nil {
			run(CheckRADIUS, name, "", func(context.Context) (string, error) { return "", err })
			continue
		}
		many(CheckRADIUS, name, func(ctx context.Context) []CheckResult {
			return hostResults(rc.Check(ctx), "Status-Server answered")
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

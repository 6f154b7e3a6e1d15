package duosig

import (
	"crypto/hmac"
	"hash"
	"sync"
)

// maxPooledKeys bounds the keys a MACPool keeps HMACs for; past it the
// pool starts over. A server has one key per integration.
const maxPooledKeys = 4096

// MACPool keeps keyed HMACs, with a canonical-string buffer each, for reuse
// by Verify across requests. A new HMAC hashes its key into two blocks and
// allocates half a dozen objects; a pooled one only restores the state
// crypto/hmac saved after its first use. Nothing about a request or its
// outcome is kept: the pooled HMACs are derived from the secret keys alone,
// live only in memory (like the unsealed keys the core caches) and are
// found by key, so a changed key never meets an HMAC of the old one.
//
// The zero value is an empty pool; a nil *MACPool makes a new HMAC for
// every request.
type MACPool struct {
	mu    sync.RWMutex
	pools map[macKey]*sync.Pool // of *keyedMAC
}

type macKey struct {
	digest Digest
	key    string
}

// maxKeptBuffer bounds the canonical-string buffer a pooled HMAC keeps.
const maxKeptBuffer = 4 << 10

// keyedMAC is an HMAC keyed with one secret key and the buffer that
// canonical strings are built in.
type keyedMAC struct {
	hash.Hash
	used bool // written to since hmac.New: reset before the next use
	buf  []byte
	out  [64]byte // the MAC, kept here so that it needs no allocation
}

// get returns an HMAC of digest d keyed with key.
func (p *MACPool) get(d Digest, key string) *keyedMAC {
	if p != nil {
		if m, ok := p.pool(macKey{d, key}).Get().(*keyedMAC); ok {
			return m
		}
	}
	return &keyedMAC{Hash: hmac.New(d.new(), []byte(key))}
}

// put returns m, keyed with key, to the pool.
func (p *MACPool) put(d Digest, key string, m *keyedMAC) {
	if p == nil {
		return
	}
	if cap(m.buf) > maxKeptBuffer { // grown by an unusually large request
		m.buf = nil
	}
	p.pool(macKey{d, key}).Put(m)
}

func (p *MACPool) pool(k macKey) *sync.Pool {
	p.mu.RLock()
	sp := p.pools[k]
	p.mu.RUnlock()
	if sp != nil {
		return sp
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if sp = p.pools[k]; sp == nil {
		if p.pools == nil || len(p.pools) >= maxPooledKeys {
			p.pools = make(map[macKey]*sync.Pool)
		}
		sp = &sync.Pool{}
		p.pools[k] = sp
	}
	return sp
}

// sum returns the MAC of the canonical string built from the pieces (see
// appendCanon), valid until the next call.
func (m *keyedMAC) sum(version int, date, method, host, path, params, bodyHash, hdrHash string) []byte {
	m.buf = appendCanon(m.buf[:0], version, date, method, host, path, params, bodyHash, hdrHash)
	if m.used {
		m.Reset()
	}
	m.used = true
	m.Write(m.buf)
	return m.Sum(m.out[:0])
}

package tlsutil

import (
	"crypto/tls"
	"sync/atomic"
)

// KeyPair serves a certificate and key from PEM files (tls_cert, tls_key)
// and can load them again while the server runs (SIGHUP): connections
// open keep the certificate they were made with, new handshakes get the
// new one.
type KeyPair struct {
	cur atomic.Pointer[keyPair]
}

type keyPair struct {
	certFile, keyFile string
	cert              *tls.Certificate
}

// LoadKeyPairFiles loads certFile and keyFile (see LoadKeyPair).
func LoadKeyPairFiles(certFile, keyFile string) (*KeyPair, error) {
	k := &KeyPair{}
	if err := k.Reload(certFile, keyFile); err != nil {
		return nil, err
	}
	return k, nil
}

// Reload loads certFile and keyFile and serves them from now on; on an
// error the certificate served so far stays.
func (k *KeyPair) Reload(certFile, keyFile string) error {
	cert, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	k.cur.Store(&keyPair{certFile: certFile, keyFile: keyFile, cert: &cert})
	return nil
}

// Files are the certificate and key files served.
func (k *KeyPair) Files() (certFile, keyFile string) {
	p := k.cur.Load()
	return p.certFile, p.keyFile
}

// Certificate is the certificate served now.
func (k *KeyPair) Certificate() *tls.Certificate { return k.cur.Load().cert }

// GetCertificate is tls.Config.GetCertificate.
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.cur.Load().cert, nil
}

// TLSConfig is the server's TLS configuration serving k.
func (k *KeyPair) TLSConfig() *tls.Config {
	c := baseConfig()
	c.GetCertificate = k.GetCertificate
	return c
}

package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// maxKeyFileSize bounds what LoadOrCreateKeyFile reads.
const maxKeyFileSize = 4096

// ParseKey decodes a master key given as base64 (standard or URL alphabet,
// padded or not) or as 64 hexadecimal characters. Surrounding white space
// is ignored. Errors describe the problem without repeating the value.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("secrets: master key is empty")
	}
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding,
		base64.URLEncoding, base64.RawURLEncoding,
	} {
		k, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("secrets: master key decodes to %d bytes, want %d (generate one with: openssl rand -base64 32)", len(k), KeySize)
		}
		return k, nil
	}
	return nil, fmt.Errorf("secrets: master key (%d characters) is neither base64 nor 64 hex characters (generate one with: openssl rand -base64 32)", len(s))
}

// LoadKeyFile reads the master key from path (see LoadOrCreateKeyFile);
// a missing file is an error satisfying errors.Is(err, fs.ErrNotExist).
func LoadKeyFile(path string) ([]byte, error) { return readKeyFile(path) }

// LoadOrCreateKeyFile reads the master key from path, or, if path does not
// exist, generates a random key and writes it there (base64 and a newline,
// mode 0600; a missing parent directory is created with mode 0700). created
// reports whether the key was generated. A key file that group or others can
// access is refused.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = readKeyFile(path)
	if err == nil {
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("secrets: creating directory for key file: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, fmt.Errorf("secrets: generating master key: %w", err)
	}
	content := []byte(base64.StdEncoding.EncodeToString(key) + "\n")

	won, err := createExclusive(path, content)
	if err != nil {
		return nil, false, fmt.Errorf("secrets: writing key file %s: %w", path, err)
	}
	if !won {
		// Another process created the file first: use its key.
		key, err = readKeyFile(path)
		return key, false, err
	}
	return key, true, nil
}

// createExclusive writes content to a temporary file and links it into place,
// so that path appears complete or not at all and an existing file is never
// replaced. It reports false if path already existed.
func createExclusive(path string, content []byte) (bool, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	err = os.Link(tmpName, path)
	if err == nil {
		syncDir(filepath.Dir(path))
		return true, nil
	}
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	// Hard links unsupported on this file system: fall back to O_EXCL.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		os.Remove(path)
		return false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return false, err
	}
	return true, f.Close()
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secrets: opening key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: key file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secrets: key file %s is accessible by group or others (mode %04o); restrict it with: chmod 600 %s", path, perm, path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("secrets: reading key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("secrets: key file %s is too large to hold a key", path)
	}
	key, err := ParseKey(string(data))
	if err != nil {
		return nil, fmt.Errorf("secrets: key file %s: %s", path, strings.TrimPrefix(err.Error(), "secrets: "))
	}
	return key, nil
}

package events

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// RotatingFile is an append-only log file that is rotated by size, as the
// Duo proxy does with log_max_size and log_max_files: when a write would
// take the file past MaxSize, NAME becomes NAME.1, NAME.1 becomes NAME.2,
// and so on; at most MaxFiles rotated files are kept (0 keeps them all).
type RotatingFile struct {
	path     string
	maxSize  int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotating opens (creating or appending to) path. maxSize ≤ 0 turns
// rotation off.
func OpenRotating(path string, maxSize int64, maxFiles int) (*RotatingFile, error) {
	if maxFiles < 0 {
		return nil, fmt.Errorf("log file %s: the number of files to keep must not be negative", path)
	}
	r := &RotatingFile{path: path, maxSize: maxSize, maxFiles: maxFiles}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	// 0600: authentication logs name users and client addresses.
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("opening log file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("opening log file: %w", err)
	}
	r.f, r.size = f, st.Size()
	return nil
}

// Write appends p, rotating first when p would not fit. A single write
// larger than MaxSize still goes into one (fresh) file: lines are never
// split.
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, errors.New("log file is closed")
	}
	if r.maxSize > 0 && r.size > 0 && r.size+int64(len(p)) > r.maxSize {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts NAME.i to NAME.i+1 (dropping what exceeds maxFiles) and
// starts an empty NAME.
func (r *RotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("rotating log file: %w", err)
	}
	r.f = nil
	nums, err := r.rotated()
	if err != nil {
		return err
	}
	// Highest first, so nothing is overwritten.
	sort.Sort(sort.Reverse(sort.IntSlice(nums)))
	for _, n := range nums {
		from := fmt.Sprintf("%s.%d", r.path, n)
		if r.maxFiles > 0 && n >= r.maxFiles {
			if err := os.Remove(from); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("rotating log file: %w", err)
			}
			continue
		}
		if err := os.Rename(from, fmt.Sprintf("%s.%d", r.path, n+1)); err != nil {
			return fmt.Errorf("rotating log file: %w", err)
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotating log file: %w", err)
	}
	return r.open()
}

// rotated lists the numbers N of the existing NAME.N files.
func (r *RotatingFile) rotated() ([]int, error) {
	dir, base := filepath.Split(r.path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("rotating log file: %w", err)
	}
	var nums []int
	for _, e := range entries {
		suffix, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(suffix)
		if err != nil || n < 1 || strconv.Itoa(n) != suffix {
			continue
		}
		nums = append(nums, n)
	}
	return nums, nil
}

// Close closes the file; later writes fail.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

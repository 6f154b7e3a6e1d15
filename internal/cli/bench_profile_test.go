package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchCPUProfile: --cpuprofile on a bench subcommand leaves a CPU
// profile (gzip-compressed protobuf, what `go tool pprof` reads) of the run.
func TestBenchCPUProfile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "cpu.prof")
	var stdout, stderr bytes.Buffer
	root := newRoot(&env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr})
	root.SetArgs([]string{"bench", "hello", "-c", "2", "-d", "300ms", "--warmup", "0s", "--cpuprofile", file})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("assent bench hello: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 100 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("%s is not a CPU profile (%d bytes)", file, len(b))
	}
}

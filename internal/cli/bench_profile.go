package cli

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"
)

// addCPUProfile gives every subcommand of bench a --cpuprofile flag that
// writes a CPU profile of the bench process while the subcommand runs.
// With --in-process the server runs in that process, so the profile holds
// the server's side and the load generator's; read it with
// `go tool pprof -top FILE` (the load generator's frames are
// internal/bench's client code and net/http's client side). A server of
// its own is profiled through its pprof_listen instead.
func addCPUProfile(bench *cobra.Command) {
	var file string
	bench.PersistentFlags().StringVar(&file, "cpuprofile", "", "write a CPU profile of this process (with --in-process: server and load generator) to `FILE`")
	for _, c := range bench.Commands() {
		run := c.RunE
		if run == nil {
			continue
		}
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return run(cmd, args)
			}
			stop, err := startCPUProfile(file)
			if err != nil {
				return err
			}
			err = run(cmd, args)
			return errors.Join(err, stop())
		}
	}
}

// startCPUProfile starts writing a CPU profile to file; stop ends it.
func startCPUProfile(file string) (stop func() error, err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		return nil
	}, nil
}

package cli

import "github.com/spf13/cobra"

// newBenchCmd drives load against a server (filled in by the benchmark work).
func newBenchCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "bench", Short: "Measure a server's throughput and latency"}
}

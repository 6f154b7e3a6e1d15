package cli

import "github.com/spf13/cobra"

// newDeviceCmd is the command-line authenticator (filled in by the device work).
func newDeviceCmd(e *env) *cobra.Command {
	return &cobra.Command{Use: "device", Short: "A command-line authenticator device"}
}

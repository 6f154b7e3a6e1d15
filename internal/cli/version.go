package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/buildinfo"
)

func newVersionCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, commit date and Go version of this binary",
		Long: `Print which Assent this is: its version (a release tag, or a Go
pseudo-version v0.0.0-<time>-<commit> for a build from a git checkout, or
"dev"), the commit it was built from ("(modified)" when the tree had
uncommitted changes), the commit's date, and the Go release and platform.
assent --version prints the same on one line.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := buildinfo.Read()
			if asJSON {
				return printJSON(e.stdout, info)
			}
			_, err := fmt.Fprint(e.stdout, info.Lines())
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/config"
)

func newConfigCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Describe the configuration settings",
	}
	var markdown, toml bool
	var update string
	ref := &cobra.Command{
		Use:   "reference",
		Short: "Print every setting: key, environment variable, flag, default and meaning",
		Long: `Print every setting of assent serve: its TOML key, environment variable,
flag, default and meaning.

--markdown prints the table of README.md's configuration reference;
--update FILE rewrites that table in FILE between its markers
(go generate ./internal/config does this for README.md). --toml prints a
configuration file with every setting commented out at its default.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case markdown && toml:
				return errors.New("--markdown and --toml: choose one")
			case update != "" && !markdown:
				return errors.New("--update needs --markdown")
			case update != "":
				return updateReference(update)
			case markdown:
				_, err := fmt.Fprint(e.stdout, config.MarkdownReference())
				return err
			case toml:
				_, err := fmt.Fprint(e.stdout, config.TOMLReference())
				return err
			}
			var rows [][]string
			for _, s := range config.Settings() {
				flag, def := "", s.Default
				if s.Flag != "" {
					flag = "--" + s.Flag
				}
				if s.DefaultDoc != "" {
					def = strings.ReplaceAll(s.DefaultDoc, "`", "") // Markdown in the README
				}
				rows = append(rows, []string{s.Key, s.EnvVar(), flag, def})
			}
			return table(e.stdout, []string{"KEY", "ENVIRONMENT", "FLAG", "DEFAULT"}, rows)
		},
	}
	ref.Flags().BoolVar(&markdown, "markdown", false, "print the Markdown table of README.md")
	ref.Flags().BoolVar(&toml, "toml", false, "print a commented configuration file")
	ref.Flags().StringVar(&update, "update", "", "with --markdown: rewrite the table between the markers in `FILE`")
	cmd.AddCommand(ref)
	return cmd
}

// updateReference rewrites the generated table of a Markdown file.
func updateReference(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := config.ReplaceGenerated(string(b), config.MarkdownReference())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if out == string(b) {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, []byte(out), fi.Mode().Perm())
}

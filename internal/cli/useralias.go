package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/auth"
)

// newUserAliasCmd is `assent user alias add|remove|list`: Duo's username
// aliases (alias1 to alias8), other names that reach the same user.
func newUserAliasCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "alias",
		Aliases: []string{"aliases"},
		Short:   "Add, remove and list a user's username aliases (other names that log in as the user)",
		Long: "A username alias is another name that reaches the user wherever a username is typed (Auth API,\n" +
			"pam_duo, the prompt, the RADIUS proxy) and in the Admin API's username filter. A user has up to\n" +
			"8 (Duo's alias1 to alias8). Aliases compare like usernames (ignoring case and character width), and\n" +
			"a name is either one user's username or one user's alias, never both.",
	}
	run := func(use, short string, nargs int, fn func(ctx context.Context, core *auth.Service, args []string) ([]string, error)) *cobra.Command {
		var asJSON bool
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(nargs),
			RunE: func(cmd *cobra.Command, args []string) error {
				a, err := openApp(cmd, e, true)
				if err != nil {
					return err
				}
				defer a.Close()
				list, err := fn(cmd.Context(), a.Core, args)
				if err != nil {
					return err
				}
				if asJSON {
					m := map[string]string{}
					for i, al := range list {
						if al != "" {
							m[fmt.Sprintf("alias%d", i+1)] = al
						}
					}
					return printJSON(e.stdout, map[string]any{"aliases": m})
				}
				var rows [][]string
				for i, al := range list {
					if al != "" {
						rows = append(rows, []string{fmt.Sprintf("alias%d", i+1), al})
					}
				}
				if len(rows) == 0 {
					fmt.Fprintf(e.stdout, "%s has no aliases.\n", args[0])
					return nil
				}
				return table(e.stdout, []string{"POSITION", "ALIAS"}, rows)
			},
		}
		c.Flags().BoolVar(&asJSON, "json", false, "print JSON (Duo's aliases object)")
		return c
	}
	cmd.AddCommand(
		run("add USER ALIAS", "Give a user one more alias (in the first free position)", 2,
			func(ctx context.Context, core *auth.Service, args []string) ([]string, error) {
				return core.AddUserAlias(ctx, args[0], strings.TrimSpace(args[1]))
			}),
		run("remove USER ALIAS", "Take an alias from a user", 2,
			func(ctx context.Context, core *auth.Service, args []string) ([]string, error) {
				return core.RemoveUserAlias(ctx, args[0], args[1])
			}),
		run("list USER", "List a user's aliases", 1,
			func(ctx context.Context, core *auth.Service, args []string) ([]string, error) {
				return core.UserAliases(ctx, args[0])
			}),
	)
	return cmd
}

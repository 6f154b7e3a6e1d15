package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// Groups (`assent group …`): Duo's groups, whose status applies to their
// members.

func newGroupCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Manage groups of users (a group's status bypasses or disables its active members)",
	}
	cmd.AddCommand(newGroupCreateCmd(e), newGroupListCmd(e), newGroupUpdateCmd(e), newGroupDeleteCmd(e),
		newGroupMemberCmd(e, "add-user", true), newGroupMemberCmd(e, "remove-user", false))
	return cmd
}

// groupJSON is how the CLI prints a group.
type groupJSON struct {
	GroupID     string   `json:"group_id"`
	Name        string   `json:"name"`
	Description string   `json:"desc"`
	Status      string   `json:"status"`
	Members     []string `json:"members,omitempty"`
}

func toGroupJSON(g store.Group) groupJSON {
	return groupJSON{GroupID: g.ID, Name: g.Name, Description: g.Description, Status: string(g.Status)}
}

func printGroup(e *env, g store.Group, asJSON bool, verb string) error {
	if asJSON {
		return printJSON(e.stdout, toGroupJSON(g))
	}
	fmt.Fprintf(e.stdout, "%s group %s (%s), status %s.\n", verb, g.Name, g.ID, g.Status)
	return nil
}

func newGroupCreateCmd(e *env) *cobra.Command {
	var (
		n      auth.NewGroup
		status string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				n.Name, n.Status = args[0], store.UserStatus(status)
				g, err := a.Core.CreateGroup(cmd.Context(), n)
				if err != nil {
					return err
				}
				return printGroup(e, g, asJSON, "Created")
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&n.Description, "desc", "", "description")
	f.StringVar(&status, "status", "active", "active, bypass (members skip the second factor) or disabled (members are denied)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newGroupUpdateCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "update GROUP",
		Short: "Change a group's name, description or status (GROUP: name or ID)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var up auth.GroupUpdate
			f := cmd.Flags()
			if f.Changed("name") {
				v, _ := f.GetString("name")
				up.Name = &v
			}
			if f.Changed("desc") {
				v, _ := f.GetString("desc")
				up.Description = &v
			}
			if f.Changed("status") {
				v, _ := f.GetString("status")
				st := store.UserStatus(v)
				up.Status = &st
			}
			if up == (auth.GroupUpdate{}) {
				return fmt.Errorf("nothing to change: give --name, --desc or --status")
			}
			return runApp(cmd, e, func(a *app.App) error {
				g, err := a.Core.ModifyGroup(cmd.Context(), args[0], up)
				if err != nil {
					return err
				}
				return printGroup(e, g, asJSON, "Updated")
			})
		},
	}
	f := cmd.Flags()
	f.String("name", "", "new name")
	f.String("desc", "", "new description")
	f.String("status", "", "active, bypass or disabled")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newGroupListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [GROUP]",
		Short: "List groups, or one group's members",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if len(args) == 1 {
					g, err := a.Core.Group(cmd.Context(), args[0])
					if err != nil {
						return err
					}
					members, err := a.Core.GroupMembers(cmd.Context(), g.ID)
					if err != nil {
						return err
					}
					j := toGroupJSON(g)
					j.Members = []string{}
					rows := make([][]string, 0, len(members))
					for _, u := range members {
						j.Members = append(j.Members, u.Username)
						rows = append(rows, []string{u.Username, u.ID, string(u.Status)})
					}
					if asJSON {
						return printJSON(e.stdout, j)
					}
					fmt.Fprintf(e.stdout, "Group %s (%s), status %s, %d members.\n", g.Name, g.ID, g.Status, len(members))
					if len(rows) == 0 {
						return nil
					}
					return table(e.stdout, []string{"USERNAME", "USER ID", "USER STATUS"}, rows)
				}
				list, err := a.Core.Groups(cmd.Context())
				if err != nil {
					return err
				}
				out := make([]groupJSON, 0, len(list))
				rows := make([][]string, 0, len(list))
				for _, g := range list {
					out = append(out, toGroupJSON(g))
					rows = append(rows, []string{g.Name, g.ID, string(g.Status), g.Description})
				}
				if asJSON {
					return printJSON(e.stdout, out)
				}
				return table(e.stdout, []string{"NAME", "GROUP ID", "STATUS", "DESCRIPTION"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newGroupDeleteCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "delete GROUP",
		Short: "Delete a group (its members stay, without it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.DeleteGroup(cmd.Context(), args[0]); err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, map[string]any{"group": args[0], "deleted": true})
				}
				fmt.Fprintf(e.stdout, "Deleted group %s.\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newGroupMemberCmd(e *env, use string, add bool) *cobra.Command {
	short, verb := "Take a user out of a group", "Removed"
	if add {
		short, verb = "Put a user in a group", "Added"
	}
	var asJSON bool
	cmd := &cobra.Command{
		Use:   use + " GROUP USERNAME",
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				change := a.Core.RemoveGroupMember
				if add {
					change = a.Core.AddGroupMember
				}
				if err := change(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				if asJSON {
					return printJSON(e.stdout, map[string]any{"group": args[0], "username": args[1], "member": add})
				}
				prep := "from"
				if add {
					prep = "to"
				}
				fmt.Fprintf(e.stdout, "%s %s %s group %s.\n", verb, args[1], prep, args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

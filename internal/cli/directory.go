package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/directory"
	"github.com/assent-auth/assent/internal/store"
)

// Directory sync (`assent directory …`): users and groups from LDAP and
// Active Directory. See docs/directory.md.

func newDirectoryCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "directory",
		Short: "Sync users and groups from LDAP or Active Directory",
	}
	cmd.AddCommand(newDirectoryAddCmd(e), newDirectoryListCmd(e), newDirectorySyncCmd(e), newDirectoryRemoveCmd(e),
		newDirectoryUsersCmd(e))
	return cmd
}

// readSecretLine reads a password from a file ("-": standard input), first
// line, without its line ending.
func readSecretLine(e *env, path string) (string, error) {
	var r io.Reader = e.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 64<<10)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func newDirectoryAddCmd(e *env) *cobra.Command {
	var (
		s            directory.Settings
		mapping      string
		passwordFile string
		update       bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Add (or with --update, change) a directory to sync from",
		Long: `Add a directory to sync users and groups from. The bind password is read from
--bind-password-file (a file, or - for standard input), never from the command line, and
is stored sealed with the master key.

Examples:
  assent directory add corp --schema ad --url ldaps://dc1.example.com --ca-file /etc/ssl/corp-ca.pem \
    --bind-dn 'CN=svc-assent,OU=Service,DC=example,DC=com' --bind-password-file - \
    --base-dn 'OU=Staff,DC=example,DC=com' --group 'CN=VPN Users,OU=Groups,DC=example,DC=com'
  assent directory add lab --url ldap://ldap.lab.example --start-tls --base-dn ou=people,dc=lab,dc=example \
    --map 'username=uid,aliases=mail,realname=cn' --delete-after-days 7`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var errs []error
			if mapping != "" {
				m, err := directory.ParseMapping(s.Attributes, mapping)
				errs = append(errs, err)
				s.Attributes = m
			}
			errs = append(errs, s.Check())
			if err := errors.Join(errs...); err != nil {
				return fmt.Errorf("directory %s:\n%w", args[0], err)
			}
			var pw *string
			if passwordFile != "" {
				p, err := readSecretLine(e, passwordFile)
				if err != nil {
					return fmt.Errorf("reading the bind password: %w", err)
				}
				pw = &p
			} else if s.BindDN != "" && !update {
				return errors.New("--bind-dn needs --bind-password-file (a file, or - for standard input)")
			}
			return runApp(cmd, e, func(a *app.App) error {
				for _, d := range a.Config.Directories {
					if d.Name == args[0] {
						return fmt.Errorf("directory %s is configured in the configuration file ([[directory]]); change it there", args[0])
					}
				}
				_, err := a.Core.Directory(cmd.Context(), args[0])
				exists := err == nil
				if exists && !update {
					return fmt.Errorf("directory %s exists; give --update to change it", args[0])
				}
				if !exists && update {
					return fmt.Errorf("no directory %s to update", args[0])
				}
				if _, err := a.Core.SaveDirectory(cmd.Context(), args[0], s.JSON(), pw); err != nil {
					return err
				}
				verb := "Added"
				if exists {
					verb = "Updated"
				}
				fmt.Fprintf(e.stdout, "%s directory %s. Preview with: assent directory sync %s --dry-run\n", verb, args[0], args[0])
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&s.URL, "url", "", "ldap://host[:port] or ldaps://host[:port]")
	f.BoolVar(&s.StartTLS, "start-tls", false, "upgrade an ldap:// connection with StartTLS")
	f.StringVar(&s.CAFile, "ca-file", "", "PEM CA bundle the server certificate must chain to (default: system roots)")
	f.StringVar(&s.BindDN, "bind-dn", "", "DN to bind as (empty: anonymous)")
	f.StringVar(&passwordFile, "bind-password-file", "", "file holding the bind password, - for standard input")
	f.StringVar(&s.BaseDN, "base-dn", "", "where users are searched (whole subtree)")
	f.StringVar(&s.UserFilter, "user-filter", "", "LDAP filter selecting users (default by --schema)")
	f.StringArrayVar(&s.GroupDNs, "group", nil, "DN of a group to sync (repeatable); when given, only its members (nested too) are synced")
	f.StringVar(&s.Schema, "schema", "ldap", "ldap (OpenLDAP, 389 DS, …) or ad (Active Directory): default attributes and filter")
	f.StringVar(&s.Nested, "nested", "", "nested groups: in_chain (AD), recursive (member/uniqueMember) or off; default by --schema")
	f.StringVar(&mapping, "map", "", "attribute mapping, e.g. username=sAMAccountName,aliases=userPrincipalName|mail,realname=displayName,email=mail,phone=mobile")
	f.IntVar(&s.PageSize, "page-size", 0, "paged-results page size (default 500)")
	f.IntVar(&s.DeleteAfterDays, "delete-after-days", 0, "days a user gone from the directory stays disabled before deletion (default 30, -1 never)")
	f.IntVar(&s.TimeoutSeconds, "timeout", 0, "seconds per LDAP operation (default 30)")
	f.BoolVar(&update, "update", false, "replace the settings of an existing directory (the password stays unless --bind-password-file is given)")
	return cmd
}

func newDirectoryListCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the directories, with their last sync",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				list, err := a.Core.Directories(cmd.Context())
				if err != nil {
					return err
				}
				type dirJSON struct {
					Name       string             `json:"name"`
					Source     string             `json:"source"`
					Settings   directory.Settings `json:"settings"`
					LastSync   string             `json:"last_sync,omitempty"`
					LastResult string             `json:"last_result,omitempty"`
				}
				out := make([]dirJSON, 0, len(list))
				rows := make([][]string, 0, len(list))
				for _, d := range a.Config.Directories {
					out = append(out, dirJSON{Name: d.Name, Source: "config", Settings: directory.Settings{URL: d.URL, BaseDN: d.BaseDN}})
					rows = append(rows, []string{d.Name, "config", d.URL, d.BaseDN, "(see the server log)", ""})
				}
				for _, d := range list {
					s, _ := directory.ParseSettings([]byte(d.Settings))
					j := dirJSON{Name: d.Name, Source: "database", Settings: s, LastResult: d.LastResult}
					last := "never"
					if !d.LastSync.IsZero() {
						j.LastSync = d.LastSync.UTC().Format(time.RFC3339)
						last = j.LastSync
					}
					out = append(out, j)
					rows = append(rows, []string{d.Name, "database", s.URL, s.BaseDN, last, d.LastResult})
				}
				if asJSON {
					return printJSON(e.stdout, out)
				}
				return table(e.stdout, []string{"NAME", "SOURCE", "URL", "BASE DN", "LAST SYNC", "RESULT"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newDirectorySyncCmd(e *env) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "sync [NAME]",
		Short: "Sync a directory (every directory without NAME) now; --dry-run prints what would change",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				r, err := a.NewDirectoryRunner()
				if err != nil {
					return err
				}
				names := args
				if len(names) == 0 {
					if names, err = r.Names(cmd.Context()); err != nil {
						return err
					}
					if len(names) == 0 {
						return errors.New("no directories; add one with assent directory add")
					}
				}
				var errs []error
				for _, n := range names {
					res, err := r.SyncStored(cmd.Context(), n, dryRun)
					if err != nil {
						errs = append(errs, err)
						continue
					}
					res.Print(e.stdout)
					for _, ce := range res.Errors {
						errs = append(errs, fmt.Errorf("directory %s: %w", n, ce))
					}
				}
				return errors.Join(errs...)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what would change and change nothing")
	return cmd
}

func newDirectoryRemoveCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove a directory (the users and groups it synced stay, as local ones)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				if err := a.Core.RemoveDirectory(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "Removed directory %s; its users and groups stay as local ones.\n", args[0])
				return nil
			})
		},
	}
}

func newDirectoryUsersCmd(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "users NAME",
		Short: "List the users a directory manages (their source), with the entry each comes from",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runApp(cmd, e, func(a *app.App) error {
				links, err := a.Core.DirectoryLinks(cmd.Context(), args[0], store.LinkUser)
				if err != nil {
					return err
				}
				users, err := a.Core.Users(cmd.Context())
				if err != nil {
					return err
				}
				byID := map[string]store.User{}
				for _, u := range users {
					byID[u.ID] = u
				}
				type managedJSON struct {
					UserID       string `json:"user_id"`
					Username     string `json:"username"`
					Status       string `json:"status"`
					Entry        string `json:"entry"`
					MissingSince *int64 `json:"missing_since"`
				}
				out := []managedJSON{}
				rows := [][]string{}
				for _, l := range links {
					u := byID[l.ObjectID]
					j := managedJSON{UserID: l.ObjectID, Username: u.Username, Status: string(u.Status), Entry: l.ExternalID}
					missing := ""
					if !l.MissingSince.IsZero() {
						t := l.MissingSince.Unix()
						j.MissingSince = &t
						missing = l.MissingSince.UTC().Format(time.RFC3339)
					}
					out = append(out, j)
					rows = append(rows, []string{u.Username, l.ObjectID, string(u.Status), l.ExternalID, missing})
				}
				if asJSON {
					return printJSON(e.stdout, out)
				}
				return table(e.stdout, []string{"USERNAME", "USER ID", "STATUS", "ENTRY", "GONE SINCE"}, rows)
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/app"
	"github.com/assent-auth/assent/internal/store"
)

func newLogCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Read the authentication log and the administrator log",
	}
	cmd.AddCommand(newLogAuthCmd(e), newLogAdminCmd(e))
	return cmd
}

// parseWhen reads a point in time: a duration back from now ("24h",
// "90m"), an RFC 3339 time, a date (UTC midnight) or Unix seconds.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: give a positive duration (how long ago)", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time: give a duration back from now (24h), an RFC 3339 time (2026-12-01T08:00:00Z), a date (2026-12-01) or Unix seconds", s)
}

// logOutput is how log rows are printed: a table, JSON Lines or CSV,
// flushed after each page so that --follow streams.
type logOutput struct {
	w      io.Writer
	format string // "table", "json", "csv"
	header []string
	tw     *tabwriter.Writer
	cw     *csv.Writer
	wrote  bool
}

func newLogOutput(w io.Writer, asJSON, asCSV bool, header []string) (*logOutput, error) {
	o := &logOutput{w: w, format: "table", header: header}
	switch {
	case asJSON && asCSV:
		return nil, errors.New("give --json or --csv, not both")
	case asJSON:
		o.format = "json"
	case asCSV:
		o.format = "csv"
		o.cw = csv.NewWriter(w)
	default:
		o.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	}
	return o, nil
}

func (o *logOutput) row(obj any, cells []string) error {
	switch o.format {
	case "json":
		b, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(o.w, "%s\n", b)
		return err
	case "csv":
		if !o.wrote {
			if err := o.cw.Write(o.header); err != nil {
				return err
			}
		}
		o.wrote = true
		return o.cw.Write(cells)
	}
	if !o.wrote {
		fmt.Fprintln(o.tw, strings.Join(o.header, "\t"))
	}
	o.wrote = true
	_, err := fmt.Fprintln(o.tw, strings.Join(cells, "\t"))
	return err
}

func (o *logOutput) flush() error {
	switch o.format {
	case "csv":
		o.cw.Flush()
		return o.cw.Error()
	case "table":
		return o.tw.Flush()
	}
	return nil
}

// authLogRow is a row as `assent log auth --json` prints it.
type authLogRow struct {
	Time        string `json:"time"`
	Timestamp   int64  `json:"timestamp"`
	TxID        string `json:"txid"`
	UserID      string `json:"user_id"`
	Username    string `json:"username"`
	Integration string `json:"integration_key"`
	Factor      string `json:"factor"`
	Result      string `json:"result"`
	Reason      string `json:"reason"`
	Device      string `json:"device"`
	IP          string `json:"ip"`
	Hostname    string `json:"hostname"`
	// Policy names the policy that decided (global, integration,
	// group:<name>), "" when none did.
	Policy string `json:"policy"`
}

// pollEvery is how often --follow looks for new rows.
const pollEvery = time.Second

func newLogAuthCmd(e *env) *cobra.Command {
	var since, until, user, result, integration string
	var asJSON, asCSV, follow bool
	cmd := &cobra.Command{
		Use:   "auth [--since 24h] [--until T] [--user U] [--result granted|denied] [--integration IKEY] [--json|--csv] [--follow]",
		Short: "Print the authentication log, oldest first",
		Long: "Print the authentication log, oldest first: a table, JSON Lines (--json) or CSV (--csv).\n" +
			"--since and --until take a duration back from now (24h), an RFC 3339 time, a date or Unix seconds.\n" +
			"--follow keeps printing rows as they are committed (within about a second) until interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			var problems []string
			from, err := parseWhen(since, now)
			if err != nil {
				problems = append(problems, "--since: "+err.Error())
			}
			var to time.Time
			if until != "" {
				if to, err = parseWhen(until, now); err != nil {
					problems = append(problems, "--until: "+err.Error())
				}
				if follow {
					problems = append(problems, "--follow and --until do not go together")
				}
			}
			q := store.AuthLogQuery{Min: from.Truncate(time.Second), Limit: 1000}
			if !to.IsZero() {
				q.Max = to.Truncate(time.Second).Add(time.Second)
			}
			switch result {
			case "":
			case "granted", "allow", "success":
				q.Results = []string{"allow"}
			case "denied", "deny", "failure":
				q.Results = []string{"deny"}
			default:
				problems = append(problems, "--result: must be granted or denied")
			}
			if integration != "" {
				q.IKeys = []string{integration}
			}
			out, err := newLogOutput(e.stdout, asJSON, asCSV,
				[]string{"TIME (UTC)", "USER", "RESULT", "FACTOR", "REASON", "INTEGRATION", "IP", "TXID"})
			if err != nil {
				problems = append(problems, err.Error())
			}
			if len(problems) > 0 {
				return errors.New(strings.Join(problems, "; "))
			}
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			if user != "" {
				u, err := a.Core.User(ctx, user)
				if err != nil {
					return fmt.Errorf("--user: %w", err)
				}
				q.UserIDs = []string{u.ID}
			}
			return followAuthLog(ctx, a, q, out, follow)
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "from this time on")
	f.StringVar(&until, "until", "", "up to this time (default: now)")
	f.StringVar(&user, "user", "", "only this user (username or user ID)")
	f.StringVar(&result, "result", "", "only granted or only denied authentications")
	f.StringVar(&integration, "integration", "", "only this integration key")
	f.BoolVar(&asJSON, "json", false, "print JSON Lines (one object per row)")
	f.BoolVar(&asCSV, "csv", false, "print CSV")
	f.BoolVar(&follow, "follow", false, "keep printing new rows until interrupted")
	return cmd
}

// followAuthLog prints q's rows page by page, resuming after the last row
// printed (the log clock guarantees that no row committed later lands
// before it), and with follow keeps polling.
func followAuthLog(ctx context.Context, a *app.App, q store.AuthLogQuery, out *logOutput, follow bool) error {
	for {
		rows, _, err := a.Core.QueryAuthLog(ctx, q)
		if err != nil {
			if follow && ctx.Err() != nil {
				return nil
			}
			return err
		}
		for _, l := range rows {
			r := authLogRow{Time: l.Time.UTC().Format(time.DateTime), Timestamp: l.Time.Unix(), TxID: l.TxID, UserID: l.UserID,
				Username: l.Username, Integration: l.IKey, Factor: l.Factor, Result: l.Result, Reason: l.Reason, Device: l.Device,
				IP: l.IP, Hostname: l.Hostname, Policy: l.Policy}
			if err := out.row(r, []string{r.Time, r.Username, r.Result, r.Factor, r.Reason, r.Integration, r.IP, r.TxID}); err != nil {
				return err
			}
		}
		if err := out.flush(); err != nil {
			return err
		}
		if len(rows) > 0 {
			last := rows[len(rows)-1]
			q.After = store.AuthLogCursor{Time: last.Time, TxID: last.TxID}
		}
		if len(rows) >= q.Limit {
			continue
		}
		if !follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(pollEvery):
		}
	}
}

// adminLogRow is a row as `assent log admin --json` prints it.
type adminLogRow struct {
	Time        string          `json:"time"`
	Timestamp   int64           `json:"timestamp"`
	Actor       string          `json:"actor"`
	Action      string          `json:"action"`
	Object      string          `json:"object"`
	Description json.RawMessage `json:"description"`
	IP          string          `json:"ip"`
}

func newLogAdminCmd(e *env) *cobra.Command {
	var since string
	var asJSON, asCSV, follow bool
	cmd := &cobra.Command{
		Use:   "admin [--since 24h] [--json|--csv] [--follow]",
		Short: "Print the administrator log (every change through the CLI or the Admin API), oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			from, err := parseWhen(since, time.Now())
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			out, err := newLogOutput(e.stdout, asJSON, asCSV, []string{"TIME (UTC)", "WHO", "IP", "ACTION", "OBJECT", "DESCRIPTION"})
			if err != nil {
				return err
			}
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			ctx := cmd.Context()
			const page = 1000
			var lastID int64
			since := from.Truncate(time.Second)
			for {
				rows, err := a.Core.AdminLogSince(ctx, since, page)
				if err != nil {
					if follow && ctx.Err() != nil {
						return nil
					}
					return err
				}
				printed := 0
				for _, l := range rows {
					// Rows get IDs in commit order, as their times: a
					// page resumes at the last row's second, after its ID.
					if l.ID <= lastID {
						continue
					}
					printed++
					r := adminLogRow{Time: l.Time.UTC().Format(time.DateTime), Timestamp: l.Time.Unix(), Actor: l.Actor,
						Action: l.Action, Object: l.Object, Description: json.RawMessage(l.Description), IP: l.IP}
					if err := out.row(r, []string{r.Time, r.Actor, r.IP, r.Action, r.Object, l.Description}); err != nil {
						return err
					}
					lastID, since = l.ID, l.Time
				}
				if err := out.flush(); err != nil {
					return err
				}
				if len(rows) >= page {
					if printed == 0 {
						since = since.Add(time.Second) // a whole page in one second, all seen
					}
					continue
				}
				if !follow {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(pollEvery):
				}
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "24h", "from this time on (a duration back from now, an RFC 3339 time, a date or Unix seconds)")
	f.BoolVar(&asJSON, "json", false, "print JSON Lines (one object per row)")
	f.BoolVar(&asCSV, "csv", false, "print CSV")
	f.BoolVar(&follow, "follow", false, "keep printing new rows until interrupted")
	return cmd
}

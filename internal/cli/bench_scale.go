package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/bench"
)

// Scale targets (issue 10), checked by `assent bench scale-summary`.
const (
	targetScaleP99Ratio = 1.5 // preauth p99 with the most users ÷ with the fewest
	targetNodesRatio    = 1.6 // logins/s of two nodes ÷ one node
)

func newBenchScaleSummaryCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "scale-summary FILE...",
		Short: "Summarize the --json results of scripts/bench-scale.sh and check the scale targets",
		Long: `Read "assent bench auth --users-file … --json" results labelled by
scripts/bench-scale.sh (--label engine=…, --label phase=users|nodes) and
print: preauth and passcode latency by number of users, one node against
two with the CPU time of the load generator, the servers and the database,
and the targets (preauth p99 with the most users at most 1.5× the p99 with
the fewest, per engine and load; two nodes at least 1.6× one node).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := readScaleRuns(args)
			if err != nil {
				return err
			}
			return scaleSummary(e.stdout, runs)
		},
	}
}

func readScaleRuns(files []string) ([]bench.Report, error) {
	var runs []bench.Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r bench.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Users == 0 || (r.Scenario != "auth" && r.Scenario != "passcode") {
			return nil, fmt.Errorf("%s: not a run of bench auth --users-file (scenario %q)", f, r.Scenario)
		}
		runs = append(runs, r)
	}
	return runs, nil
}

func endpoint(r bench.Report, name string) (bench.Result, bool) {
	for _, ep := range r.Endpoints {
		if ep.Name == name {
			return ep, true
		}
	}
	return bench.Result{}, false
}

func load(r bench.Report) string {
	if r.Rate > 0 {
		return fmt.Sprintf("paced %.0f/s", r.Rate)
	}
	return fmt.Sprintf("closed, %d conns", r.Concurrency)
}

// cpuOf sums the CPU seconds of the processes whose name starts with prefix.
func cpuOf(r bench.Report, prefix string) float64 {
	var s float64
	if r.CPU != nil {
		for _, p := range r.CPU.Procs {
			if strings.HasPrefix(p.Name, prefix) {
				s += p.Seconds
			}
		}
	}
	return s
}

// cpuPerLogin is the CPU time of the processes named prefix… per auth
// request during the window, or "-".
func cpuPerLogin(r bench.Report, prefix string) string {
	auth, ok := endpoint(r, "auth")
	c := cpuOf(r, prefix)
	if !ok || r.CPU == nil || c == 0 || auth.RPS <= 0 {
		return "-"
	}
	return strconv.FormatFloat(1000*c/(auth.RPS*r.CPU.WindowS), 'f', 2, 64) + " ms"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtS(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + " s" }

func scaleSummary(w io.Writer, runs []bench.Report) error {
	var userRows, nodeRows, checks [][]string
	for _, r := range runs {
		if r.Labels["phase"] == "nodes" {
			continue
		}
		row := []string{r.Labels["engine"], strconv.Itoa(r.Users), load(r), orDash(r.Labels["load"])}
		for _, name := range []string{"preauth", "auth"} {
			ep, ok := endpoint(r, name)
			if !ok {
				row = append(row, "-", "-", "-")
				continue
			}
			row = append(row, strconv.FormatFloat(ep.RPS, 'f', 0, 64), fmtMS(ep.P50), fmtMS(ep.P99))
		}
		row = append(row, strconv.FormatInt(r.Total.Errors+r.Total.NonAllow, 10), cpuPerLogin(r, "assent"), cpuPerLogin(r, "postgres"))
		userRows = append(userRows, row)
	}
	if len(userRows) > 0 {
		fmt.Fprintf(w, "Latency by number of users (each request picks a user at random; CPU per login = CPU time ÷ auth requests):\n\n")
		if err := table(w, []string{"ENGINE", "USERS", "LOAD", "LOAD AVG", "PREAUTH REQ/S", "PREAUTH P50", "PREAUTH P99",
			"AUTH REQ/S", "AUTH P50", "AUTH P99", "FAILED", "ASSENT CPU/LOGIN", "DB CPU/LOGIN"}, userRows); err != nil {
			return err
		}
	}
	for _, r := range runs {
		if r.Labels["phase"] != "nodes" {
			continue
		}
		auth, _ := endpoint(r, "auth")
		row := []string{r.Labels["engine"], strconv.Itoa(r.Nodes), strconv.Itoa(r.Users), orDash(r.Labels["load"]),
			strconv.FormatFloat(auth.RPS, 'f', 0, 64), fmtMS(auth.P99), strconv.FormatInt(r.Total.Errors, 10), "-", "-", "-", "-", "-"}
		if r.CPU != nil {
			srv, db := cpuOf(r, "assent"), cpuOf(r, "postgres")
			logins := auth.RPS * r.CPU.WindowS
			row[7], row[8], row[9] = fmtS(r.CPU.Generator), fmtS(srv), fmtS(db)
			if srv > 0 {
				row[10] = strconv.FormatFloat(logins/srv, 'f', 0, 64)
			}
			if srv+db > 0 {
				row[11] = strconv.FormatFloat(logins/(srv+db), 'f', 0, 64)
			}
		}
		nodeRows = append(nodeRows, row)
	}
	if len(nodeRows) > 0 {
		fmt.Fprintf(w, "\nOne node against two on one database (a login is preauth + auth; CPU seconds during the measured time):\n\n")
		if err := table(w, []string{"ENGINE", "NODES", "USERS", "LOAD AVG", "LOGINS/S", "AUTH P99", "ERRORS", "GENERATOR CPU", "ASSENT CPU", "DB CPU", "LOGINS/ASSENT CPU-S", "LOGINS/(ASSENT+DB) CPU-S"}, nodeRows); err != nil {
			return err
		}
	}

	checks = append(checks, scaleChecks(runs)...)
	checks = append(checks, nodeChecks(runs)...)
	fmt.Fprintf(w, "\nTargets:\n")
	if len(checks) == 0 {
		fmt.Fprintln(w, "  (nothing to check: give runs with different user counts, or of one and two nodes)")
		return nil
	}
	return table(w, []string{"TARGET", "MEASURED", "VERDICT"}, checks)
}

// scaleChecks compares, per engine and load, the preauth p99 with the most
// users against the p99 with the fewest.
func scaleChecks(runs []bench.Report) [][]string {
	type key struct{ engine, load string }
	lo, hi := map[key]bench.Report{}, map[key]bench.Report{}
	var order []key
	for _, r := range runs {
		if r.Labels["phase"] == "nodes" || r.Scenario != "auth" {
			continue
		}
		k := key{r.Labels["engine"], load(r)}
		if _, ok := lo[k]; !ok {
			order = append(order, k)
			lo[k], hi[k] = r, r
			continue
		}
		if r.Users < lo[k].Users {
			lo[k] = r
		}
		if r.Users > hi[k].Users {
			hi[k] = r
		}
	}
	var out [][]string
	for _, k := range order {
		a, b := lo[k], hi[k]
		pa, okA := endpoint(a, "preauth")
		pb, okB := endpoint(b, "preauth")
		if a.Users == b.Users || !okA || !okB || pa.P99 <= 0 {
			continue
		}
		ratio := float64(pb.P99) / float64(pa.P99)
		out = append(out, []string{
			fmt.Sprintf("%s preauth p99, %d users ≤ 1.5× %d users (%s)", k.engine, b.Users, a.Users, k.load),
			fmt.Sprintf("%s vs %s: %.2f×", fmtMS(pb.P99), fmtMS(pa.P99), ratio),
			verdict(ratio <= targetScaleP99Ratio && pa.Errors == 0 && pb.Errors == 0),
		})
	}
	return out
}

// nodeChecks compares two nodes with one, per engine: the logins/s
// measured, and the same projected onto servers that do not share their
// CPUs (two nodes' logins per Assent CPU-second against one node's).
func nodeChecks(runs []bench.Report) [][]string {
	one, two := map[string]bench.Report{}, map[string]bench.Report{}
	var engines []string
	for _, r := range runs {
		if r.Labels["phase"] != "nodes" {
			continue
		}
		e := r.Labels["engine"]
		if _, ok := one[e]; !ok {
			if _, ok := two[e]; !ok {
				engines = append(engines, e)
			}
		}
		switch r.Nodes {
		case 1:
			one[e] = r
		case 2:
			two[e] = r
		}
	}
	var out [][]string
	for _, e := range engines {
		a, okA := one[e]
		b, okB := two[e]
		if !okA || !okB {
			continue
		}
		la, _ := endpoint(a, "auth")
		lb, _ := endpoint(b, "auth")
		if la.RPS <= 0 {
			continue
		}
		r := lb.RPS / la.RPS
		ok := a.Total.Errors == 0 && b.Total.Errors == 0
		out = append(out, []string{e + ": two nodes ≥ 1.6× one node (logins/s, this machine)",
			fmt.Sprintf("%.0f vs %.0f: %.2f×", lb.RPS, la.RPS, r), verdict(ok && r >= targetNodesRatio)})
		if a.CPU == nil || b.CPU == nil {
			continue
		}
		sa, sb := cpuOf(a, "assent"), cpuOf(b, "assent")
		if sa <= 0 || sb <= 0 {
			continue
		}
		effA, effB := la.RPS*a.CPU.WindowS/sa, lb.RPS*b.CPU.WindowS/sb
		p := 2 * effB / effA
		out = append(out, []string{e + ": two nodes ≥ 1.6× one node, each node on CPUs of its own",
			fmt.Sprintf("projected %.2f× (logins per Assent CPU-second: %.0f with two nodes, %.0f with one)", p, effB, effA),
			verdict(ok && p >= targetNodesRatio) + " (projection)"})
	}
	return out
}

package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/bench"
)

func newBenchAuthCmd(e *env) *cobra.Command {
	var (
		lf                 loadFlags
		tf                 targetFlags
		username, passcode string
		passcodeOnly       bool
		usersFile          string
		users              int
		labels, cpus       []string
	)
	cmd := &cobra.Command{
		Use:   "auth --host H --ca F --ikey K --skey S (--username U --passcode P | --users-file F)",
		Short: "Signed preauth + passcode auth, as Duo's clients send them",
		Long: `Each worker repeats a signed POST /auth/v2/preauth and a POST /auth/v2/auth
factor=passcode, each a request of its own, reported per endpoint and
combined. Use an unlimited-use bypass code as the passcode:

  assent user bypass-codes alice --count 1 --uses 0

With --users-file (written by "assent bench seed"), each request picks its
user at random among the seeded users (the first --users of them) and
uses that user's bypass code instead. --host may then name several nodes
of one installation, separated by commas: each request picks one at
random (--ca may hold the CA certificates of all of them).

With --passcode-only the workers send only the auth request. --cpu
NAME=PID reports the CPU time the process PID and its children (e.g. a
server, or PostgreSQL's postmaster) used during the measured time, beside
this process's own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := lf.options()
			if err := o.Validate(); err != nil {
				return err
			}
			lbl, err := parseLabels(labels)
			if err != nil {
				return err
			}
			procs, err := parseCPUProcs(cpus)
			if err != nil {
				return err
			}
			if usersFile != "" {
				if username != "" || passcode != "" || tf.inProcess {
					return errors.New("--users-file replaces --username, --passcode and --in-process")
				}
				set, err := bench.LoadUserSet(usersFile)
				if err != nil {
					return err
				}
				if users < 0 || users > set.Count {
					return fmt.Errorf("--users must be between 1 and the %d users of %s (0: all)", set.Count, usersFile)
				}
				ds, done, err := tf.nodes(e, lf.conns, 30*time.Second)
				if err != nil {
					return err
				}
				defer done()
				sc := bench.UsersAuthScenario(ds, set, users)
				if passcodeOnly {
					sc = bench.UsersPasscodeScenario(ds, set, users)
				}
				rep, err := bench.RunWithCPU(cmd.Context(), sc, o, procs)
				rep.Users, rep.Nodes, rep.Labels = cmp0(users, set.Count), len(ds), lbl
				return printLoad(e, rep, lf.asJSON, err)
			}
			if users != 0 {
				return errors.New("--users needs --users-file")
			}
			if !tf.inProcess && (username == "" || passcode == "") {
				return errors.New("--username and --passcode are required (or --users-file, or --in-process)")
			}
			d, _, done, err := tf.duo(cmd.Context(), e, lf.conns, 30*time.Second, bench.AssentOptions{}, &username, &passcode)
			if err != nil {
				return err
			}
			defer done()
			sc := bench.AuthScenario(d, username, passcode)
			if passcodeOnly {
				sc = bench.PasscodeScenario(d, username, passcode)
			}
			rep, err := bench.RunWithCPU(cmd.Context(), sc, o, procs)
			rep.Labels = lbl
			return printLoad(e, rep, lf.asJSON, err)
		},
	}
	addLoadFlags(cmd, &lf)
	addTargetFlags(cmd, &tf)
	fl := cmd.Flags()
	fl.StringVar(&username, "username", "", "the user to authenticate")
	fl.StringVar(&passcode, "passcode", "", "a passcode that keeps working: an unlimited-use bypass code")
	fl.BoolVar(&passcodeOnly, "passcode-only", false, "send only /auth/v2/auth, no preauth")
	fl.StringVar(&usersFile, "users-file", "", `users seeded by "assent bench seed": each request picks one at random`)
	fl.IntVar(&users, "users", 0, "with --users-file: pick among the first N seeded users (0: all)")
	fl.StringArrayVar(&labels, "label", nil, "KEY=VALUE recorded in the --json report, e.g. engine=sqlite (repeatable)")
	fl.StringArrayVar(&cpus, "cpu", nil, "NAME=PID: report the CPU time of process PID and its children during the run (repeatable)")
	return cmd
}

// cmp0 is v, or def when v is 0.
func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func parseLabels(in []string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--label %q: want KEY=VALUE", kv)
		}
		out[k] = v
	}
	return out, nil
}

func parseCPUProcs(in []string) ([]bench.CPUProc, error) {
	var out []bench.CPUProc
	for _, kv := range in {
		name, p, ok := strings.Cut(kv, "=")
		pid, err := strconv.Atoi(p)
		if !ok || name == "" || err != nil || pid <= 0 {
			return nil, fmt.Errorf("--cpu %q: want NAME=PID", kv)
		}
		if _, err := bench.TreeCPU(pid); err != nil {
			return nil, fmt.Errorf("--cpu %s: %w", kv, err)
		}
		out = append(out, bench.CPUProc{Name: name, PID: pid})
	}
	return out, nil
}

// nodes connects to every host of --host (comma-separated), each through
// its own client with room for all conns connections.
func (f *targetFlags) nodes(e *env, conns int, timeout time.Duration) ([]*bench.Duo, func(), error) {
	if err := f.resolve(e); err != nil {
		return nil, nil, err
	}
	tlsCfg, err := bench.TLSConfig(f.ca, f.insecure)
	if err != nil {
		return nil, nil, fmt.Errorf("--ca: %w", err)
	}
	var ds []*bench.Duo
	done := func() {
		for _, d := range ds {
			bench.CloseClient(d.Client)
		}
	}
	for h := range strings.SplitSeq(f.host, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		ds = append(ds, &bench.Duo{Host: h, IKey: f.ikey, SKey: f.skey, Client: bench.NewClient(conns, tlsCfg, timeout)})
	}
	if len(ds) == 0 {
		return nil, nil, errors.New("--host names no host")
	}
	return ds, done, nil
}

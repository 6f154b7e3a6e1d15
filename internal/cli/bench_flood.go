package cli

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/bench"
	"github.com/assent-auth/assent/internal/device"
)

// Targets under an unauthenticated flood (issue 9).
const (
	targetFloodBytes = 100 << 20
	targetFloodP99   = 50 * time.Millisecond
)

func newBenchFloodCmd(e *env) *cobra.Command {
	var (
		tf         targetFlags
		o          bench.FloodOptions
		kind       string
		username   string
		deviceFile string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "flood --kind device|websdk --key KEY --host H --ca F --ikey K --skey S --username U [--pid PID]",
		Short: "Legitimate latency and server memory under an unauthenticated flood",
		Long: `Attack the server with what anyone can learn and garbage signatures, from
-c connections, while timing legitimate signed requests:

  --kind device  POST /push/v2/device/transactions/… with a device ID
                 (--key; preauth lists device IDs) and garbage RSA signatures;
  --kind websdk  POST /auth/v2/auth with a Web SDK integration key (--key;
                 browsers see it) and garbage HMAC signatures.

Every other attacking request carries --body bytes (more than any route
accepts), the others the largest body the route accepts. The legitimate
requests are a signed preauth of --username (--ikey/--skey) and, with
--device-file, the device's transaction list; with --pid the server's peak
memory is read from /proc. --source-ip sends the attack from another local
address (e.g. 127.0.0.2) so the server's per-address limit on failed
signatures does not hit the legitimate requests too; start the server with
rate_limit_bad_signatures = "off" to measure the worst case (an attacker
with many addresses).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if username == "" {
				return errors.New("--username is required")
			}
			if tf.inProcess {
				return errors.New("flood needs a separate server (--host), not --in-process")
			}
			if err := tf.resolve(e); err != nil {
				return err
			}
			tlsCfg, err := bench.TLSConfig(tf.ca, tf.insecure)
			if err != nil {
				return fmt.Errorf("--ca: %w", err)
			}
			c := bench.NewClient(2, tlsCfg, 30*time.Second)
			defer bench.CloseClient(c)
			duo := &bench.Duo{Host: tf.host, IKey: tf.ikey, SKey: tf.skey, Client: c}
			var phone *device.Client
			if deviceFile != "" {
				if phone, err = device.Load(deviceFile); err != nil {
					return err
				}
				phone.HTTPClient = c
			}
			o.Kind, o.Host, o.TLS = bench.FloodKind(kind), tf.host, tlsCfg
			o.Legit = bench.LegitSteps(duo, username, phone)
			rep, err := bench.RunFlood(cmd.Context(), o)
			if rep.Scenario == "" {
				return err
			}
			if asJSON {
				if jerr := printJSON(e.stdout, rep); jerr != nil {
					return jerr
				}
				return err
			}
			if perr := printFlood(e.stdout, rep); perr != nil {
				return perr
			}
			return err
		},
	}
	addTargetFlags(cmd, &tf)
	fl := cmd.Flags()
	fl.StringVar(&kind, "kind", "device", "device or websdk")
	fl.StringVar(&o.Name, "name", "", "a label for the run in reports (default: the kind)")
	fl.StringVar(&o.Key, "key", "", "the device ID (--kind device) or Web SDK integration key (--kind websdk) the attacker knows")
	fl.StringVar(&username, "username", "", "the user of the legitimate preauth requests")
	fl.StringVar(&deviceFile, "device-file", "", `a device saved by "assent device activate": its transaction list is timed too`)
	fl.IntVarP(&o.Conns, "connections", "c", bench.DefaultFloodConns, "attacking connections (max "+strconv.Itoa(bench.MaxConcurrency)+")")
	fl.DurationVarP(&o.Duration, "duration", "d", 10*time.Second, "how long the flood lasts (max "+bench.MaxDuration.String()+")")
	fl.IntVar(&o.BodyBytes, "body", bench.DefaultFloodBody, "the larger attacking body, in bytes (max "+strconv.Itoa(bench.MaxFloodBody)+")")
	fl.StringVar(&o.SourceIP, "source-ip", "", "the local address to attack from (e.g. 127.0.0.2)")
	fl.IntVar(&o.PID, "pid", 0, "the server's process ID, to read its memory from /proc (0: skip)")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func floodRow(r bench.FloodReport) []string {
	peak := "-"
	if r.Peak != nil {
		peak = fmtMB(r.Peak.HWM)
	}
	return []string{r.Name, strconv.Itoa(r.Conns), strconv.FormatInt(r.Attacks, 10), floodStatuses(r),
		strconv.FormatInt(r.Legit.Requests, 10), strconv.FormatInt(r.Legit.Errors, 10),
		fmtMS(r.Legit.P50), fmtMS(r.Legit.P99), fmtMS(r.Legit.Max), peak}
}

var floodHeader = []string{"FLOOD", "CONNS", "ATTACKS", "ANSWERS", "LEGIT", "ERRORS", "LEGIT P50", "LEGIT P99", "LEGIT MAX", "PEAK RSS"}

func floodStatuses(r bench.FloodReport) string {
	var out []string
	for _, s := range []string{"401", "403", "413", "429"} {
		if n := r.Statuses[s]; n > 0 {
			out = append(out, s+"×"+strconv.FormatInt(n, 10))
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}

func printFlood(w io.Writer, r bench.FloodReport) error {
	fmt.Fprintf(w, "%s: %s flood against %s: %d connections, bodies of %v bytes, %.1f s\n\n", r.Name, r.Kind, r.Target, r.Conns, r.BodyBytes, r.DurationS)
	if err := table(w, floodHeader, [][]string{floodRow(r)}); err != nil {
		return err
	}
	if r.LegitFirstError != "" {
		fmt.Fprintf(w, "\nfirst legitimate error: %s\n", r.LegitFirstError)
	}
	return nil
}

// summarizeFloods adds the flood table and target checks to a summary.
func summarizeFloods(w io.Writer, floods []bench.FloodReport) ([][]string, error) {
	if len(floods) == 0 {
		return nil, nil
	}
	fmt.Fprintf(w, "\nUnauthenticated floods (legitimate signed requests meanwhile):\n\n")
	var rows [][]string
	for _, f := range floods {
		rows = append(rows, floodRow(f))
	}
	if err := table(w, floodHeader, rows); err != nil {
		return nil, err
	}
	var checks [][]string
	for _, f := range floods {
		if f.Peak != nil {
			checks = append(checks, []string{"flood: server memory < 100 MB", fmt.Sprintf("%s: peak %s", f.Name, fmtMB(f.Peak.HWM)),
				verdict(f.Peak.HWM < targetFloodBytes)})
		}
		checks = append(checks, []string{"flood: legitimate p99 < 50 ms", fmt.Sprintf("%s: %s, %d errors", f.Name, fmtMS(f.Legit.P99), f.Legit.Errors),
			verdict(f.Legit.P99 < targetFloodP99 && f.Legit.Errors == 0 && f.Legit.Requests > 0)})
	}
	return checks, nil
}

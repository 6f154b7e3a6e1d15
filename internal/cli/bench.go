package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/assent-auth/assent/internal/bench"
	"github.com/assent-auth/assent/internal/device"
)

// Performance targets (the project brief), checked by `assent bench summary`.
const (
	targetRatio       = 0.50
	targetAuthP99     = 5 * time.Millisecond
	targetApproveP99  = 10 * time.Millisecond
	targetPushes      = 10_000
	targetPushesBytes = 256 << 20
)

func newBenchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a server's throughput, latency and memory",
		Long: `Drive load against an Assent server (or a Duo-compatible one) and report
requests/s and latency percentiles, or the server's memory with pending
pushes. Every run is bounded (at most ` + bench.MaxDuration.String() + `, ` + strconv.Itoa(bench.MaxConcurrency) + ` connections,
` + strconv.Itoa(bench.MaxPushes) + ` pushes) and talks only to --host or to servers it starts itself
on 127.0.0.1. scripts/bench.sh runs the whole set; docs/benchmarks.md has
the figures.`,
	}
	cmd.AddCommand(newBenchAuthCmd(e), newBenchHelloCmd(e), newBenchPushesCmd(e), newBenchApproveCmd(e),
		newBenchFloodCmd(e), newBenchSetupDeviceCmd(e), newBenchSummaryCmd(e),
		newBenchSeedCmd(e), newBenchScaleSummaryCmd(e))
	addCPUProfile(cmd)
	return cmd
}

// loadFlags are the flags of the throughput scenarios.
type loadFlags struct {
	conns       int
	duration    time.Duration
	warmup      time.Duration
	maxRequests int64
	rate        float64
	asJSON      bool
}

func addLoadFlags(cmd *cobra.Command, f *loadFlags) {
	fl := cmd.Flags()
	fl.IntVarP(&f.conns, "connections", "c", 64, "concurrent workers, each with its own keep-alive connection (max "+strconv.Itoa(bench.MaxConcurrency)+")")
	fl.DurationVarP(&f.duration, "duration", "d", 10*time.Second, "measured time (max "+bench.MaxDuration.String()+")")
	fl.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured warm-up before it (max "+bench.MaxWarmup.String()+")")
	fl.Int64VarP(&f.maxRequests, "requests", "n", 0, "stop after this many measured requests (0: the duration decides)")
	fl.Float64Var(&f.rate, "rate", 0, "pace the workers to this many requests/s in all, to measure latency below saturation (0: as fast as answered)")
	fl.BoolVar(&f.asJSON, "json", false, "print JSON")
}

func (f loadFlags) options() bench.Options {
	return bench.Options{Concurrency: f.conns, Duration: f.duration, Warmup: f.warmup, MaxRequests: f.maxRequests, Rate: f.rate}
}

// targetFlags say which server to call and with which integration.
type targetFlags struct {
	host, ca, ikey, skey string
	insecure             bool
	inProcess            bool
}

func addTargetFlags(cmd *cobra.Command, f *targetFlags) {
	fl := cmd.Flags()
	fl.StringVar(&f.host, "host", "", "API hostname, host[:port] (env DUO_HOST)")
	fl.StringVar(&f.ca, "ca", "", "PEM CA certificate to trust (e.g. assent-data/tls/ca.pem)")
	fl.BoolVar(&f.insecure, "insecure", false, "do not verify the server certificate (testing only)")
	fl.StringVar(&f.ikey, "ikey", "", "Auth API integration key (env DUO_IKEY)")
	fl.StringVar(&f.skey, "skey", "", "secret key (env DUO_SKEY; prefer it to the flag, which other users can see)")
	fl.BoolVar(&f.inProcess, "in-process", false, "start an Assent server in this process (temporary data directory) instead of calling --host")
}

// resolve fills the flags from the environment and checks them.
func (f *targetFlags) resolve(e *env) error {
	for _, p := range []struct {
		v         *string
		flag, env string
	}{{&f.host, "host", "DUO_HOST"}, {&f.ikey, "ikey", "DUO_IKEY"}, {&f.skey, "skey", "DUO_SKEY"}} {
		if *p.v == "" {
			*p.v = getenv(e.environ, p.env)
		}
		if *p.v == "" {
			return fmt.Errorf("--%s (or %s) is required, or --in-process", p.flag, p.env)
		}
	}
	return nil
}

// duo connects to the target, starting an in-process server if asked; the
// returned function releases what it opened.
func (f *targetFlags) duo(ctx context.Context, e *env, conns int, timeout time.Duration, o bench.AssentOptions, username, passcode *string) (*bench.Duo, *bench.Assent, func(), error) {
	if f.inProcess {
		a, err := bench.StartAssent(ctx, o)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("in-process server: %w", err)
		}
		tlsCfg, err := a.TLSConfig()
		if err != nil {
			_ = a.Close()
			return nil, nil, nil, err
		}
		c := bench.NewClient(conns, tlsCfg, timeout)
		*username, *passcode = a.Username, a.Passcode
		return a.Duo(c), a, func() { bench.CloseClient(c); _ = a.Close() }, nil
	}
	if err := f.resolve(e); err != nil {
		return nil, nil, nil, err
	}
	tlsCfg, err := bench.TLSConfig(f.ca, f.insecure)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("--ca: %w", err)
	}
	c := bench.NewClient(conns, tlsCfg, timeout)
	return &bench.Duo{Host: f.host, IKey: f.ikey, SKey: f.skey, Client: c}, nil, func() { bench.CloseClient(c) }, nil
}

func newBenchHelloCmd(e *env) *cobra.Command {
	var lf loadFlags
	cmd := &cobra.Command{
		Use:   "hello",
		Short: "The ceiling: a bare Go TLS handler with Assent's TLS settings, in this process",
		Long: `Start a bare Go HTTPS "hello" server on a random 127.0.0.1 port (a
self-signed ECDSA P-256 certificate, Assent's TLS settings and server
limits, no routing, middleware, signature or database) and drive GET /
against it. Compare "assent bench auth" with it at the same -c and -d.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o := lf.options()
			if err := o.Validate(); err != nil {
				return err
			}
			h, err := bench.StartHello()
			if err != nil {
				return err
			}
			defer h.Close()
			c := bench.NewClient(lf.conns, h.TLSConfig(), 30*time.Second)
			defer bench.CloseClient(c)
			rep, err := bench.Run(cmd.Context(), bench.HelloScenario(c, h.URL), o)
			return printLoad(e, rep, lf.asJSON, err)
		},
	}
	addLoadFlags(cmd, &lf)
	return cmd
}

func newBenchPushesCmd(e *env) *cobra.Command {
	var (
		tf       targetFlags
		username string
		deviceID string
		mode     string
		count    int
		parallel int
		pid      int
		settle   time.Duration
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "pushes --host H --ca F --ikey K --skey S --username U [--count 10000] [--mode sync|async] [--pid PID]",
		Short: "Open many pending pushes and report the server's memory",
		Long: `Open --count pushes to the first device of --username and, with --pid,
report the server process's memory (VmRSS and VmHWM from /proc/PID/status)
before and with them pending.

  --mode sync   hold --count synchronous POST /auth/v2/auth factor=push
                requests open, each on its own connection, waiting for the
                device (needs --count open files on both sides);
  --mode async  create --count async pushes (async=1); they stay pending
                in the database until they time out.

Sync requests are closed once measured; the server must not answer them
first, so keep the server's push_timeout longer than the run.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if mode != "sync" && mode != "async" {
				return errors.New("--mode must be sync or async")
			}
			if count < 1 || count > bench.MaxPushes {
				return fmt.Errorf("--count must be between 1 and %d", bench.MaxPushes)
			}
			if !tf.inProcess && username == "" {
				return errors.New("--username is required (or --in-process)")
			}
			conns := min(parallel, bench.MaxConcurrency)
			if mode == "sync" {
				conns = count
			}
			var passcode string
			d, a, done, err := tf.duo(cmd.Context(), e, conns, 0, bench.AssentOptions{Device: true, PushTimeout: 10 * time.Minute}, &username, &passcode)
			if err != nil {
				return err
			}
			defer done()
			o := bench.PushOptions{Count: count, Device: deviceID, Sync: mode == "sync", Parallel: parallel, PID: pid, Settle: settle}
			if a != nil {
				o.Pending = a.PendingCount
				if pid == 0 {
					o.PID = os.Getpid()
				}
			}
			rep, err := bench.OpenPushes(cmd.Context(), d, username, o)
			if rep.Requested == 0 {
				return err
			}
			return printPushes(e, rep, asJSON, err)
		},
	}
	addTargetFlags(cmd, &tf)
	fl := cmd.Flags()
	fl.StringVar(&username, "username", "", "a user with an activated device")
	fl.StringVar(&deviceID, "device", "", "the device ID to push to (default: the user's first device)")
	fl.StringVar(&mode, "mode", "sync", "sync (held-open requests) or async (pending transactions)")
	fl.IntVar(&count, "count", 10000, "pushes to open (max "+strconv.Itoa(bench.MaxPushes)+")")
	fl.IntVar(&parallel, "parallel", 64, "requests being sent at once")
	fl.IntVar(&pid, "pid", 0, "the server's process ID, to read its memory from /proc (0: skip)")
	fl.DurationVar(&settle, "settle", 10*time.Second, "sync: longest wait, after sending, for the server's memory to stop growing")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBenchApproveCmd(e *env) *cobra.Command {
	var (
		tf         targetFlags
		username   string
		deviceFile string
		via        string
		samples    int
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "approve --host H --ca F --ikey K --skey S --username U [--device-file F] [-n 200]",
		Short: "Latency from a device's approval to the waiting synchronous /auth answering",
		Long: `Repeat: a synchronous POST /auth/v2/auth factor=push to a device; the
device finds the push and approves it; the auth answers. Reports the time
from the start of the approval to the auth answer reaching the client, the
approval request alone, and the wake-up after it.

The device approves like a phone, over HTTPS through the device API
(/push/v2, RSA-signed requests): the one saved by "assent device activate"
in --device-file, or else a new one enrolled for --username through
/auth/v2/enroll and activated. With --in-process the server runs in this
process (temporary data directory) and --via core approves by calling the
core's Answer method directly, without the device's HTTPS request.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if samples < 1 || samples > bench.MaxApproveSamples {
				return fmt.Errorf("-n must be between 1 and %d", bench.MaxApproveSamples)
			}
			if via != "device" && via != "core" {
				return errors.New("--via must be device or core")
			}
			if via == "core" && !tf.inProcess {
				return errors.New("--via core needs --in-process")
			}
			if !tf.inProcess && username == "" {
				return errors.New("--username is required (or --in-process)")
			}
			ctx := cmd.Context()
			var passcode string
			d, a, done, err := tf.duo(ctx, e, 2, 30*time.Second, bench.AssentOptions{Device: true}, &username, &passcode)
			if err != nil {
				return err
			}
			defer done()
			var ap bench.Approver
			switch {
			case a != nil && via == "core":
				ap = &bench.CoreApprover{Core: a.App.Core, Device: a.DeviceID}
			case a != nil:
				ap = &bench.DeviceApprover{Client: a.Device}
			case deviceFile != "":
				c, err := device.Load(deviceFile)
				if err != nil {
					return err
				}
				if tf.ca != "" || tf.insecure {
					tlsCfg, err := bench.TLSConfig(tf.ca, tf.insecure)
					if err != nil {
						return err
					}
					c.HTTPClient = bench.NewClient(2, tlsCfg, 30*time.Second)
					defer bench.CloseClient(c.HTTPClient)
				}
				ap = &bench.DeviceApprover{Client: c}
			default:
				tlsCfg, err := bench.TLSConfig(tf.ca, tf.insecure)
				if err != nil {
					return err
				}
				hc := bench.NewClient(2, tlsCfg, 30*time.Second)
				defer bench.CloseClient(hc)
				c, err := bench.ActivateOverHTTPS(ctx, d, username, tf.ca, hc)
				if err != nil {
					return err
				}
				ap = &bench.DeviceApprover{Client: c}
			}
			if _, err := bench.MeasureApprove(ctx, d, username, ap, 3); err != nil { // warm up
				return err
			}
			rep, err := bench.MeasureApprove(ctx, d, username, ap, samples)
			return printApprove(e, rep, asJSON, err)
		},
	}
	addTargetFlags(cmd, &tf)
	fl := cmd.Flags()
	fl.StringVar(&username, "username", "", "the user to push to (the device's user)")
	fl.StringVar(&deviceFile, "device-file", "", `a device saved by "assent device activate" (default: enroll and activate a new one)`)
	fl.StringVar(&via, "via", "device", "device (the device API over HTTPS) or core (in-process Answer call)")
	fl.IntVarP(&samples, "samples", "n", 200, "approve cycles (max "+strconv.Itoa(bench.MaxApproveSamples)+")")
	fl.BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// newBenchSetupDeviceCmd activates a device for a user directly in the
// installation, for benchmarks that need one before a device client exists.
func newBenchSetupDeviceCmd(e *env) *cobra.Command {
	var (
		username string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:    "setup-device --username U",
		Short:  "Activate a benchmark device for a user (opens the installation like the admin commands)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if username == "" {
				return errors.New("--username is required")
			}
			a, err := openApp(cmd, e, true)
			if err != nil {
				return err
			}
			defer a.Close()
			id, err := bench.ActivateDevice(cmd.Context(), a.Core, username)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(e.stdout, map[string]string{"username": username, "device_id": id})
			}
			fmt.Fprintf(e.stdout, "Activated device %s for %s.\n", id, username)
			return nil
		},
	}
	cmd.Flags().StringVar(&username, "username", "", "the user (created if missing)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newBenchSummaryCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "summary FILE...",
		Short: "Summarize --json results of the bench commands and check them against the targets",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return summarize(e.stdout, args)
		},
	}
}

// --- output -----------------------------------------------------------------

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

func fmtMB(b uint64) string {
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64) + " MB"
}

func loadRow(name string, r bench.Result) []string {
	return []string{name, strconv.FormatInt(r.Requests, 10), strconv.FormatFloat(r.RPS, 'f', 0, 64),
		fmtMS(r.P50), fmtMS(r.P90), fmtMS(r.P99), fmtMS(r.Max),
		strconv.FormatInt(r.Errors, 10), strconv.FormatInt(r.NonAllow, 10)}
}

var loadHeader = []string{"ENDPOINT", "REQUESTS", "REQ/S", "P50", "P90", "P99", "MAX", "ERRORS", "NON-ALLOW"}

// printLoad prints a load report unless runErr means there is none.
func printLoad(e *env, rep bench.Report, asJSON bool, runErr error) error {
	if rep.Scenario == "" {
		return runErr
	}
	if asJSON {
		if err := printJSON(e.stdout, rep); err != nil {
			return err
		}
		return runErr
	}
	paced := ""
	if rep.Rate > 0 {
		paced = fmt.Sprintf(", paced at %.0f requests/s", rep.Rate)
	}
	fmt.Fprintf(e.stdout, "%s against %s: %d connections%s, %.1f s measured after %.1f s warm-up\n\n",
		rep.Scenario, rep.Target, rep.Concurrency, paced, rep.Total.Duration.Seconds(), rep.WarmupS)
	var rows [][]string
	for _, r := range rep.Endpoints {
		rows = append(rows, loadRow(r.Name, r))
	}
	if len(rep.Endpoints) > 1 {
		rows = append(rows, loadRow("total", rep.Total))
	}
	if err := table(e.stdout, loadHeader, rows); err != nil {
		return err
	}
	if rep.FirstError != "" {
		fmt.Fprintf(e.stdout, "\nfirst error: %s\n", rep.FirstError)
	}
	return runErr
}

func printPushes(e *env, rep bench.PushReport, asJSON bool, runErr error) error {
	if asJSON {
		if err := printJSON(e.stdout, rep); err != nil {
			return err
		}
		return runErr
	}
	fmt.Fprintf(e.stdout, "%s pushes against %s: %d requested, %d pending when measured, %d errors",
		rep.Mode, rep.Target, rep.Requested, rep.Opened, rep.Errors)
	if rep.Early > 0 {
		fmt.Fprintf(e.stdout, ", %d answered early", rep.Early)
	}
	fmt.Fprintf(e.stdout, "\nopened in %.2f s (%.0f pushes/s)\n", rep.OpenS, rep.Rate)
	if rep.Pending >= 0 {
		fmt.Fprintf(e.stdout, "the server counts %d pending (%d before)\n", rep.Pending, rep.PendingWas)
	}
	if rep.After != nil {
		fmt.Fprintf(e.stdout, "\n")
		rows := [][]string{{strconv.Itoa(rep.PID), fmtMB(rep.Before.RSS), fmtMB(rep.After.RSS), fmtMB(rep.After.HWM),
			strconv.FormatFloat(rep.PerPush/1024, 'f', 1, 64) + " KB"}}
		if err := table(e.stdout, []string{"PID", "RSS BEFORE", "RSS WITH PUSHES", "PEAK RSS (HWM)", "RSS PER PUSH"}, rows); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(e.stdout, "(no --pid: server memory not read)")
	}
	if rep.FirstError != "" {
		fmt.Fprintf(e.stdout, "\nfirst error: %s\n", rep.FirstError)
	}
	return runErr
}

func approveRow(name string, r bench.Result) []string {
	return []string{name, strconv.FormatInt(r.Requests, 10), fmtMS(r.P50), fmtMS(r.P90), fmtMS(r.P99), fmtMS(r.Max)}
}

func printApprove(e *env, rep bench.ApproveReport, asJSON bool, runErr error) error {
	if asJSON {
		if err := printJSON(e.stdout, rep); err != nil {
			return err
		}
		return runErr
	}
	fmt.Fprintf(e.stdout, "approve against %s, %d samples, %d errors, %d not allowed\napprovals: %s\n\n",
		rep.Target, rep.Samples, rep.Errors, rep.NonAllow, rep.Method)
	rows := [][]string{approveRow("approve → auth answered", rep.Latency), approveRow("approve call", rep.Answer), approveRow("wake-up → answer", rep.Wake)}
	if err := table(e.stdout, []string{"INTERVAL", "SAMPLES", "P50", "P90", "P99", "MAX"}, rows); err != nil {
		return err
	}
	if rep.FirstError != "" {
		fmt.Fprintf(e.stdout, "\nfirst error: %s\n", rep.FirstError)
	}
	return runErr
}

// --- summary ----------------------------------------------------------------

type summaryInput struct {
	hello, auth, passcode *bench.Report
	paced                 []bench.Report // load runs at a fixed rate
	pushes                []bench.PushReport
	approve               []bench.ApproveReport
	floods                []bench.FloodReport
}

func readSummaryInput(files []string) (summaryInput, error) {
	var in summaryInput
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return in, err
		}
		var kind struct {
			Scenario string `json:"scenario"`
		}
		if err := json.Unmarshal(b, &kind); err != nil {
			return in, fmt.Errorf("%s: %w", f, err)
		}
		switch kind.Scenario {
		case "hello", "auth", "passcode":
			var r bench.Report
			if err := json.Unmarshal(b, &r); err != nil {
				return in, fmt.Errorf("%s: %w", f, err)
			}
			switch {
			case r.Rate > 0:
				in.paced = append(in.paced, r)
			case r.Scenario == "hello":
				in.hello = &r
			case r.Scenario == "auth":
				in.auth = &r
			default:
				in.passcode = &r
			}
		case "pushes":
			var r bench.PushReport
			if err := json.Unmarshal(b, &r); err != nil {
				return in, fmt.Errorf("%s: %w", f, err)
			}
			in.pushes = append(in.pushes, r)
		case "approve":
			var r bench.ApproveReport
			if err := json.Unmarshal(b, &r); err != nil {
				return in, fmt.Errorf("%s: %w", f, err)
			}
			in.approve = append(in.approve, r)
		case "flood":
			var r bench.FloodReport
			if err := json.Unmarshal(b, &r); err != nil {
				return in, fmt.Errorf("%s: %w", f, err)
			}
			in.floods = append(in.floods, r)
		default:
			return in, fmt.Errorf("%s: not a bench result (scenario %q)", f, kind.Scenario)
		}
	}
	return in, nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func summarize(w io.Writer, files []string) error {
	in, err := readSummaryInput(files)
	if err != nil {
		return err
	}
	var rows [][]string
	if in.hello != nil {
		rows = append(rows, loadRow("hello (ceiling)", in.hello.Total))
	}
	if in.passcode != nil {
		rows = append(rows, loadRow("auth only (passcode)", in.passcode.Total))
	}
	if in.auth != nil {
		for _, r := range in.auth.Endpoints {
			rows = append(rows, loadRow("preauth+auth: "+r.Name, r))
		}
		rows = append(rows, loadRow("preauth+auth: total", in.auth.Total))
	}
	for _, p := range in.paced {
		for _, r := range p.Endpoints {
			rows = append(rows, loadRow(fmt.Sprintf("%s paced at %.0f/s: %s", p.Scenario, p.Rate, r.Name), r))
		}
	}
	if len(rows) > 0 {
		conns := 0
		for _, r := range []*bench.Report{in.hello, in.passcode, in.auth} {
			if r != nil {
				conns = r.Concurrency
			}
		}
		for _, p := range in.paced {
			conns = max(conns, p.Concurrency)
		}
		fmt.Fprintf(w, "Throughput and latency (%d connections):\n\n", conns)
		hdr := append([]string{"SCENARIO"}, loadHeader[1:]...)
		if err := table(w, hdr, rows); err != nil {
			return err
		}
	}
	for _, ap := range in.approve {
		fmt.Fprintf(w, "\nApprove → waiting auth answered, against %s (%d samples, %d errors)\n  approvals: %s\n\n",
			ap.Target, ap.Samples, ap.Errors, ap.Method)
		if err := table(w, []string{"INTERVAL", "SAMPLES", "P50", "P90", "P99", "MAX"}, [][]string{
			approveRow("approve → auth answered", ap.Latency),
			approveRow("approve call", ap.Answer),
			approveRow("wake-up → answer", ap.Wake),
		}); err != nil {
			return err
		}
	}
	if len(in.pushes) > 0 {
		fmt.Fprintf(w, "\nPending pushes and server memory:\n\n")
		var prow [][]string
		for _, p := range in.pushes {
			before, after, hwm, per := "-", "-", "-", "-"
			if p.After != nil && p.Before != nil {
				before, after, hwm = fmtMB(p.Before.RSS), fmtMB(p.After.RSS), fmtMB(p.After.HWM)
				per = strconv.FormatFloat(p.PerPush/1024, 'f', 1, 64) + " KB"
			}
			prow = append(prow, []string{p.Mode, strconv.Itoa(p.Requested), strconv.Itoa(p.Opened), strconv.Itoa(p.Errors),
				strconv.FormatFloat(p.OpenS, 'f', 2, 64) + " s", before, after, hwm, per})
		}
		if err := table(w, []string{"MODE", "REQUESTED", "PENDING", "ERRORS", "OPEN TIME", "RSS BEFORE", "RSS WITH PUSHES", "PEAK RSS", "RSS/PUSH"}, prow); err != nil {
			return err
		}
	}

	floodChecks, err := summarizeFloods(w, in.floods)
	if err != nil {
		return err
	}

	fmt.Fprintf(w, "\nTargets:\n")
	var checks [][]string
	if in.hello != nil && in.hello.Total.RPS > 0 {
		if in.passcode != nil {
			r := in.passcode.Total.RPS / in.hello.Total.RPS
			checks = append(checks, []string{"auth req/s ≥ 50 % of hello", fmt.Sprintf("%.1f %% (auth only)", 100*r), verdict(r >= targetRatio)})
		}
		if in.auth != nil {
			r := in.auth.Total.RPS / in.hello.Total.RPS
			checks = append(checks, []string{"preauth+auth req/s ≥ 50 % of hello", fmt.Sprintf("%.1f %% (both endpoints)", 100*r), verdict(r >= targetRatio)})
		}
	}
	if in.passcode != nil {
		p := in.passcode.Total.P99
		checks = append(checks, []string{"auth p99 ≤ 5 ms", fmtMS(p) + " (auth only)", verdict(p <= targetAuthP99 && in.passcode.Total.Errors == 0)})
	}
	if in.auth != nil {
		for _, r := range in.auth.Endpoints {
			if r.Name == "auth" {
				checks = append(checks, []string{"auth p99 ≤ 5 ms", fmtMS(r.P99) + " (in preauth+auth)", verdict(r.P99 <= targetAuthP99 && r.Errors == 0)})
			}
		}
	}
	for _, p := range in.paced {
		for _, r := range p.Endpoints {
			if r.Name == "auth" {
				checks = append(checks, []string{"auth p99 ≤ 5 ms", fmt.Sprintf("%s (paced at %.0f/s)", fmtMS(r.P99), p.Rate), verdict(r.P99 <= targetAuthP99 && r.Errors == 0)})
			}
		}
	}
	for _, ap := range in.approve {
		how := "device API"
		if strings.HasPrefix(ap.Method, "in-process") {
			how = "core Answer"
		}
		p := ap.Latency.P99
		checks = append(checks, []string{"approve → auth ≤ 10 ms", fmt.Sprintf("p99 %s, max %s (%s)", fmtMS(p), fmtMS(ap.Latency.Max), how),
			verdict(p <= targetApproveP99 && ap.Errors == 0 && ap.Samples > 0)})
	}
	for _, p := range in.pushes {
		if p.After == nil {
			continue
		}
		note := fmt.Sprintf("%d %s pending: RSS %s, peak %s", p.Opened, p.Mode, fmtMB(p.After.RSS), fmtMB(p.After.HWM))
		v := verdict(p.After.HWM <= targetPushesBytes)
		if p.Opened < targetPushes {
			v = "not measured (fewer than 10,000)"
		}
		checks = append(checks, []string{"10,000 pending pushes ≤ 256 MB", note, v})
	}
	checks = append(checks, floodChecks...)
	if len(checks) == 0 {
		fmt.Fprintln(w, "  (nothing to check: give hello, auth, approve, pushes or flood results)")
		return nil
	}
	return table(w, []string{"TARGET", "MEASURED", "VERDICT"}, checks)
}

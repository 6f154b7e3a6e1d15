package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/device"
)

// MaxApproveSamples bounds one approve run.
const MaxApproveSamples = 10_000

// Approver is the device side of the approve measurement.
type Approver interface {
	// DeviceID is the device pushes are sent to.
	DeviceID() string
	// Next waits for a push to the device that it has not returned before
	// and returns its txid.
	Next(ctx context.Context) (string, error)
	// Approve approves the push; it returns once the server has recorded it.
	Approve(ctx context.Context, txid string) error
	// Method says how approvals reach the server, for the report.
	Method() string
}

// CoreApprover approves through the core's Answer method, in the server's
// process: what the device API does once it has checked a device's
// signed request, without the HTTPS round trip of that request.
type CoreApprover struct {
	Core   *auth.Service
	Device string // device ID
	// Poll is how often Next looks for a new push (default 200 µs).
	Poll time.Duration
	seen map[string]bool
}

// DeviceID implements Approver.
func (c *CoreApprover) DeviceID() string { return c.Device }

// Method implements Approver.
func (c *CoreApprover) Method() string {
	return "in-process: auth.Service.Answer called directly (no device HTTPS request)"
}

// Next implements Approver by polling the device's pending pushes.
func (c *CoreApprover) Next(ctx context.Context) (string, error) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 200 * time.Microsecond
	}
	for {
		list, err := c.Core.Pending(ctx, c.Device)
		if err != nil {
			return "", err
		}
		ids := make([]string, len(list))
		for i, p := range list {
			ids[i] = p.ID
		}
		if id, ok := unseen(c.seen, ids); ok {
			return id, nil
		}
		if err := sleep(ctx, poll); err != nil {
			return "", err
		}
	}
}

// Approve implements Approver.
func (c *CoreApprover) Approve(ctx context.Context, txid string) error {
	return c.Core.Answer(ctx, c.Device, txid, true)
}

// DeviceApprover approves like a phone: through the device API over HTTPS
// with an activated internal/device Client (RSA-signed GET
// /push/v2/device/transactions to find the push, POST
// /push/v2/device/transactions/{txid} answer=approve to approve it). The
// approval time includes the device signing its request.
type DeviceApprover struct {
	Client *device.Client
	// Poll is the pause between two transaction listings (default 1 ms).
	Poll time.Duration
	seen map[string]bool
}

// DeviceID implements Approver.
func (c *DeviceApprover) DeviceID() string { return c.Client.PKey }

// Method implements Approver.
func (c *DeviceApprover) Method() string {
	return "device API over HTTPS (internal/device Client: signed POST /push/v2/device/transactions/{txid})"
}

// Next implements Approver by polling the device's transactions.
func (c *DeviceApprover) Next(ctx context.Context) (string, error) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	poll := c.Poll
	if poll <= 0 {
		poll = time.Millisecond
	}
	for {
		list, err := c.Client.Pending(ctx)
		if err != nil {
			return "", err
		}
		ids := make([]string, len(list))
		for i, t := range list {
			ids[i] = t.TxID
		}
		if id, ok := unseen(c.seen, ids); ok {
			return id, nil
		}
		if err := sleep(ctx, poll); err != nil {
			return "", err
		}
	}
}

// Approve implements Approver.
func (c *DeviceApprover) Approve(ctx context.Context, txid string) error {
	return c.Client.Answer(ctx, txid, true)
}

// unseen returns the newest id (the list is oldest first) not seen
// before, and marks it seen.
func unseen(seen map[string]bool, ids []string) (string, bool) {
	for i := len(ids) - 1; i >= 0; i-- {
		if !seen[ids[i]] {
			seen[ids[i]] = true
			return ids[i], true
		}
	}
	return "", false
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ActivateOverHTTPS enrolls a new device for username through the Auth API
// (/auth/v2/enroll) and activates it through the device API
// (/push/v2/activation), as a phone scanning the QR code would. The
// device sends its requests through hc (nil: its own client trusting
// caFile).
func ActivateOverHTTPS(ctx context.Context, d *Duo, username, caFile string, hc *http.Client) (*device.Client, error) {
	code, err := d.Enroll(ctx, username)
	if err != nil {
		return nil, fmt.Errorf("enroll %s: %w", username, err)
	}
	c, err := device.Activate(ctx, code, device.ActivateOptions{Name: "assent bench", CAFile: caFile, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ApproveReport is the outcome of an approve run. Latency is from the
// start of the approval to the waiting synchronous /auth/v2/auth having
// returned its answer to the client; Answer is the approval call alone
// (the server committing it); Wake is from the approval's return to the
// /auth answer (broker wake-up, re-read, HTTPS answer).
type ApproveReport struct {
	Scenario   string `json:"scenario"` // "approve"
	Method     string `json:"method"`
	Target     string `json:"target"`
	Samples    int    `json:"samples"`
	Errors     int    `json:"errors"`
	NonAllow   int    `json:"non_allow"`
	FirstError string `json:"first_error,omitempty"`
	Latency    Result `json:"latency"`
	Answer     Result `json:"answer"`
	Wake       Result `json:"wake"`
}

// MeasureApprove runs n cycles of: a synchronous push auth for username
// to the approver's device, the approver finding and approving it, the
// auth answer.
func MeasureApprove(ctx context.Context, d *Duo, username string, a Approver, n int) (ApproveReport, error) {
	if n < 1 || n > MaxApproveSamples {
		return ApproveReport{}, fmt.Errorf("the sample count must be between 1 and %d", MaxApproveSamples)
	}
	rep := ApproveReport{Scenario: "approve", Method: a.Method(), Target: "https://" + d.Host}
	var lat, ans, wake Histogram
	var errs int
	start := time.Now()
	fail := func(err error) {
		errs++
		if rep.FirstError == "" {
			rep.FirstError = err.Error()
		}
	}
	for range n {
		if ctx.Err() != nil {
			break
		}
		type outcome struct {
			result string
			err    error
			at     time.Time
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ch := make(chan outcome, 1)
		go func() {
			r, _, err := d.PushSync(cctx, username, a.DeviceID())
			ch <- outcome{r, err, time.Now()}
		}()
		txid, err := a.Next(cctx)
		if err != nil {
			cancel()
			o := <-ch
			fail(errors.Join(err, o.err))
			continue
		}
		t0 := time.Now()
		err = a.Approve(cctx, txid)
		t1 := time.Now()
		o := <-ch
		cancel()
		switch {
		case err != nil:
			fail(fmt.Errorf("approve: %w", err))
			continue
		case o.err != nil:
			fail(fmt.Errorf("auth: %w", o.err))
			continue
		case o.result != "allow":
			rep.NonAllow++
		}
		lat.Record(o.at.Sub(t0))
		ans.Record(t1.Sub(t0))
		wake.Record(o.at.Sub(t1))
	}
	rep.Samples, rep.Errors = int(lat.Count()), errs
	elapsed := time.Since(start)
	for _, x := range []struct {
		dst  *Result
		name string
		h    *Histogram
	}{{&rep.Latency, "approve→auth", &lat}, {&rep.Answer, "approve call", &ans}, {&rep.Wake, "wake", &wake}} {
		s := stepStats{requests: int64(x.h.Count())}
		*x.dst = summarize(x.name, &s, x.h, elapsed)
		x.dst.RPS = 0 // cycles are sequential; a rate means nothing here
	}
	rep.Latency.Errors, rep.Latency.NonAllow = int64(errs), int64(rep.NonAllow)
	return rep, ctx.Err()
}

package console

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/store"
)

// The dashboard's charts and lists (issue 15): authentications per hour
// over the last 24 hours and per day over the last 30 days as inline SVG
// drawn here (no script; colours from classes in the stylesheet, so the
// strict CSP holds), each with a text summary and a table; the top reasons
// of denials; locked-out users; users not enrolled.

type activityView struct {
	Hours, Days            chartView
	Reasons                []auth.ReasonCount
	LockedOut, NotEnrolled []store.User
	Pushes                 []pushRow
}

// pushRow is a push waiting for an answer.
type pushRow struct {
	User, UserLink, App, Sent, Expires, IP string
}

type chartView struct {
	ID, Title, Summary string
	Width, Height      int
	Bars               []barView
	Ticks              []tickView
	Labels             []labelView
	Rows               []chartRow
	Empty              bool
}

type barView struct {
	Title string
	Segs  []segView
}

type segView struct {
	Class      string
	X, Y, W, H string
}

type tickView struct {
	Y, Label   string
	X1, X2, TX string
}

type labelView struct{ X, Y, Text string }

type chartRow struct {
	Label                  string
	Allowed, Denied, Fraud int
}

// Chart geometry (the viewBox; CSS scales it to the page).
const (
	chartW, chartH      = 720, 220
	padLeft, padRight   = 44, 8
	padTop, padBottom   = 10, 30
	plotW, plotH        = chartW - padLeft - padRight, chartH - padTop - padBottom
	dashboardListLength = 10
)

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// niceMax rounds n up to 1, 2 or 5 times a power of ten (at least 1).
func niceMax(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if m*p >= n {
				return m * p
			}
		}
	}
}

// chart draws stacked bars (allowed at the bottom, then denied, then
// fraud) of the buckets; label names a bucket, every labelEvery-th one
// is written under the axis.
func chart(id, title, unit string, buckets []auth.AuthBucket, label func(time.Time) string, labelEvery int) chartView {
	v := chartView{ID: id, Title: title, Width: chartW, Height: chartH}
	var top, total auth.AuthBucket
	for _, b := range buckets {
		total.Allowed += b.Allowed
		total.Denied += b.Denied
		total.Fraud += b.Fraud
		if b.Total() > top.Total() {
			top = b
		}
	}
	maxN := niceMax(top.Total())
	scale := float64(plotH) / float64(maxN)
	slot := float64(plotW) / float64(len(buckets))
	barW := slot * 0.7
	base := float64(padTop + plotH)
	for _, frac := range []int{0, 1, 2} {
		n := maxN * frac / 2
		if frac == 1 && maxN%2 != 0 {
			continue
		}
		y := base - float64(n)*scale
		v.Ticks = append(v.Ticks, tickView{Y: f1(y), Label: strconv.Itoa(n), X1: strconv.Itoa(padLeft), X2: strconv.Itoa(chartW - padRight),
			TX: strconv.Itoa(padLeft - 6)})
	}
	for i, b := range buckets {
		x := float64(padLeft) + float64(i)*slot + (slot-barW)/2
		bar := barView{Title: fmt.Sprintf("%s: %d allowed, %d denied, %d reported as fraud", label(b.Start), b.Allowed, b.Denied, b.Fraud)}
		y := base
		for _, s := range []struct {
			class string
			n     int
		}{{"allow", b.Allowed}, {"deny", b.Denied}, {"fraud", b.Fraud}} {
			if s.n == 0 {
				continue
			}
			h := float64(s.n) * scale
			y -= h
			bar.Segs = append(bar.Segs, segView{Class: "bar-" + s.class, X: f1(x), Y: f1(y), W: f1(barW), H: f1(h)})
		}
		v.Bars = append(v.Bars, bar)
		if i%labelEvery == 0 {
			v.Labels = append(v.Labels, labelView{X: f1(x + barW/2), Y: strconv.Itoa(chartH - 8), Text: label(b.Start)})
		}
		v.Rows = append(v.Rows, chartRow{Label: label(b.Start), Allowed: b.Allowed, Denied: b.Denied, Fraud: b.Fraud})
	}
	v.Empty = total.Total() == 0
	v.Summary = fmt.Sprintf("%s: %d allowed, %d denied, %d reported as fraud.", title, total.Allowed, total.Denied, total.Fraud)
	if !v.Empty {
		v.Summary += fmt.Sprintf(" The busiest %s was %s, with %d.", unit, label(top.Start), top.Total())
	}
	return v
}

func (c *Console) activity(ctx context.Context, p *page) error {
	a, err := c.Core.ConsoleAuthActivity(ctx)
	if err != nil {
		return err
	}
	v := &activityView{Reasons: a.Reasons}
	v.Hours = chart("chart-hours", "Authentications per hour, last 24 hours (UTC)", "hour", a.Hours,
		func(t time.Time) string { return t.UTC().Format("15:04") }, 4)
	v.Days = chart("chart-days", "Authentications per day, last 30 days (UTC)", "day", a.Days,
		func(t time.Time) string { return t.UTC().Format("Jan 2") }, 5)
	if v.LockedOut, _, err = c.Core.ConsoleUsers(ctx, store.ConsoleUserQuery{Status: store.StatusLockedOut, Limit: dashboardListLength}); err != nil {
		return err
	}
	if v.NotEnrolled, _, err = c.Core.ConsoleUsers(ctx, store.ConsoleUserQuery{NotEnrolled: true, Limit: dashboardListLength}); err != nil {
		return err
	}
	txs, err := c.Core.PendingPushes(ctx, dashboardListLength)
	if err != nil {
		return err
	}
	if len(txs) > 0 {
		names, _, err := c.appNames(ctx)
		if err != nil {
			return err
		}
		for _, tx := range txs {
			row := pushRow{User: tx.DisplayUsername, App: names[tx.IKey], Sent: fmtSec(tx.Created), Expires: fmtSec(tx.Expires), IP: tx.IP}
			if tx.UserID != "" {
				row.UserLink = "/admin/users/" + tx.UserID
			}
			if row.App == "" {
				row.App = tx.IKey
			}
			v.Pushes = append(v.Pushes, row)
		}
	}
	p.Activity = v
	return nil
}

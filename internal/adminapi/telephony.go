package adminapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/assent-auth/assent/internal/auth"
	"github.com/assent-auth/assent/internal/httpapi"
	"github.com/assent-auth/assent/internal/store"
)

// TelephonyCore is what the telephony log endpoints need of the core.
type TelephonyCore interface {
	// TelephonyLog lists rows from since to until (zero: no bound),
	// oldest first, at most limit (0: all).
	TelephonyLog(ctx context.Context, since, until time.Time, limit int) ([]store.TelephonyLog, error)
	// SMSSettings are Duo's sms_* settings, from the configuration.
	SMSSettings() auth.SMSSettings
	// SendSMSPasscodes sends a new batch of SMS passcodes to a phone.
	SendSMSPasscodes(ctx context.Context, phoneID string) error
	// CheckPhoneSMS reports whether a message can be sent to a phone.
	CheckPhoneSMS(ctx context.Context, phoneID string) (auth.Phone, error)
	// SendPhoneMessages texts messages to a phone's number.
	SendPhoneMessages(ctx context.Context, phoneID, kind string, msgs []string) error
}

// sendSMSPasscodes is send_sms_passcodes: a new batch to the phone (its
// number and user required, SMS configured); Duo answers an empty string.
func (a *API) sendSMSPasscodes(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	if err := a.Core.SendSMSPasscodes(r.Context(), r.PathValue("phone_id")); err != nil {
		return err
	}
	httpapi.WriteOK(w, "")
	return nil
}

// smsSettings adds Duo's sms_* keys to the settings object:
// sms_expiration in minutes (null: until the next batch).
func (a *API) smsSettings(m map[string]any) {
	s := a.Core.SMSSettings()
	m["sms_batch"] = s.Batch
	m["sms_expiration"] = nil
	if s.Expiration > 0 {
		m["sms_expiration"] = int(s.Expiration / time.Minute)
	}
	m["sms_message"] = s.Message
	m["sms_refresh"] = 0
	if s.Refresh {
		m["sms_refresh"] = 1
	}
}

// telephonyV1 is an item of GET /admin/v1/logs/telephony. phone is the
// number as Assent keeps it: masked (XXX-XXX-1234).
type telephonyV1 struct {
	Context      string `json:"context"`
	Credits      int    `json:"credits"`
	ISOTimestamp string `json:"isotimestamp"`
	Phone        string `json:"phone"`
	Timestamp    int64  `json:"timestamp"`
	Type         string `json:"type"`
}

// telephonyLogV1 is GET /admin/v1/logs/telephony: rows from mintime
// (seconds), oldest first, at most 1000.
func (a *API) telephonyLogV1(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	since, err := parseMintime(c.Params.Values)
	if err != nil {
		return err
	}
	rows, err := a.Core.TelephonyLog(r.Context(), since, time.Time{}, maxLogLimit)
	if err != nil {
		return err
	}
	out := make([]telephonyV1, 0, len(rows))
	for _, l := range rows {
		out = append(out, telephonyV1{Context: l.Context, Credits: l.Credits, ISOTimestamp: l.Time.UTC().Format(time.RFC3339),
			Phone: l.Phone, Timestamp: l.Time.Unix(), Type: l.Type})
	}
	httpapi.WriteOK(w, out)
	return nil
}

// telephonyV2 is an item of GET /admin/v2/logs/telephony.
type telephonyV2 struct {
	Context     string `json:"context"`
	Credits     int    `json:"credits"`
	Phone       string `json:"phone"`
	TelephonyID string `json:"telephony_id"`
	TS          string `json:"ts"`
	TxID        string `json:"txid"`
	Type        string `json:"type"`
}

type telephonyV2Response struct {
	Items    []telephonyV2 `json:"items"`
	Metadata struct {
		NextOffset   *string      `json:"next_offset"`
		TotalObjects totalObjects `json:"total_objects"`
	} `json:"metadata"`
}

// telephonyLogV2 is GET /admin/v2/logs/telephony: the window of
// parseV2Window, paged by next_offset (the number of rows already read,
// as the previous page's metadata gave it).
func (a *API) telephonyLogV2(w http.ResponseWriter, r *http.Request, c *httpapi.Call) error {
	win, err := parseV2Window(c.Params.Values)
	if err != nil {
		return err
	}
	offset := 0
	if s := c.Params.Values.Get("next_offset"); s != "" {
		if offset, err = strconv.Atoi(s); err != nil || offset < 0 {
			return httpapi.InvalidParams("next_offset: must be the next_offset of the previous page")
		}
	}
	rows, err := a.Core.TelephonyLog(r.Context(), win.min, win.max, 0)
	if err != nil {
		return err
	}
	if win.desc {
		slices.Reverse(rows)
	}
	var out telephonyV2Response
	out.Items = []telephonyV2{}
	out.Metadata.TotalObjects = totalObjects{Relation: "eq", Value: len(rows)}
	page := rows[min(offset, len(rows)):min(offset+win.limit, len(rows))]
	for _, l := range page {
		out.Items = append(out.Items, telephonyV2{Context: l.Context, Credits: l.Credits, Phone: l.Phone,
			TelephonyID: strconv.FormatInt(l.ID, 10), TS: l.Time.UTC().Format("2006-01-02T15:04:05.000000+00:00"),
			TxID: l.TxID, Type: l.Type})
	}
	if next := offset + len(page); next < len(rows) {
		s := strconv.Itoa(next)
		out.Metadata.NextOffset = &s
	}
	httpapi.WriteOK(w, out)
	return nil
}

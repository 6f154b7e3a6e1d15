package storetest

import (
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/store"
)

func normSMS(c store.SMSPasscode) store.SMSPasscode {
	c.Created, c.Expires = sec(c.Created), sec(c.Expires)
	return c
}

func normTelephony(l store.TelephonyLog) store.TelephonyLog {
	l.Time = sec(l.Time)
	return l
}

// testTelephony covers devices' numbers, SMS passcode batches (replaced
// per device, spent once as a guarded write, gone with their device) and
// the telephony log.
func testTelephony(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := mkUser(1, "alice")
	createUsers(t, s, alice)
	d1, d2 := mkDevice(1, alice.ID, at(0)), mkDevice(2, alice.ID, at(time.Second))
	d1.Number, d1.Extension = "+15555550100", "12"
	d2.PublicKey, d2.HOTPSecretEnc, d2.Number = "", nil, "+442079460958"                         // a number without an app
	d2.PhoneType, d2.Extension, d2.Predelay, d2.Postdelay = store.PhoneLandline, "123#", "3", "" // a desk phone behind a PBX
	createDevices(t, s, d1, d2)
	got, err := s.GetDevice(ctx, d1.ID)
	must(t, "GetDevice", err)
	if got.Number != d1.Number || got.Extension != "12" {
		t.Errorf("device number %q ext %q", got.Number, got.Extension)
	}
	_, list, err := s.GetUserAndDevices(ctx, "alice", "")
	must(t, "GetUserAndDevices", err)
	if len(list) != 2 || list[0].Number != d1.Number || list[1].Number != d2.Number || list[1].PublicKey != "" {
		t.Errorf("GetUserAndDevices numbers: %+v", list)
	}
	if d := list[1]; d.PhoneType != store.PhoneLandline || d.Extension != "123#" || d.Predelay != "3" || d.Postdelay != "" || list[0].PhoneType != "" {
		t.Errorf("GetUserAndDevices phone fields: %+v", list)
	}
	byNumber, err := s.ListDevicesByNumber(ctx, "+442079460958")
	must(t, "ListDevicesByNumber", err)
	if len(byNumber) != 1 || byNumber[0].ID != d2.ID {
		t.Errorf("ListDevicesByNumber: %+v", byNumber)
	}
	got.Number = "+15555550101"
	got.PhoneType, got.Predelay, got.Postdelay = store.PhoneLandline, "2", "4"
	must(t, "UpdateDevice", s.UpdateDevice(ctx, got))
	if g, _ := s.GetDevice(ctx, d1.ID); g.Number != "+15555550101" || g.PhoneType != store.PhoneLandline || g.Predelay != "2" || g.Postdelay != "4" {
		t.Errorf("after UpdateDevice: %+v", g)
	}

	mk := func(id, dev string, seq int) store.SMSPasscode {
		return store.SMSPasscode{ID: id, UserID: alice.ID, DeviceID: dev, Hash: []byte("h-" + id), Seq: seq,
			Created: at(0), Expires: at(time.Hour)}
	}
	batch1 := []store.SMSPasscode{mk("S1", d1.ID, 0), mk("S2", d1.ID, 1)}
	must(t, "ReplaceSMSPasscodes", s.ReplaceSMSPasscodes(ctx, d1.ID, batch1))
	never := mk("S3", d2.ID, 0)
	never.Expires = time.Time{}
	must(t, "ReplaceSMSPasscodes d2", s.ReplaceSMSPasscodes(ctx, d2.ID, []store.SMSPasscode{never}))
	codes, err := s.ListSMSPasscodes(ctx, alice.ID)
	must(t, "ListSMSPasscodes", err)
	want := []store.SMSPasscode{batch1[0], batch1[1], never}
	if d2.ID < d1.ID {
		want = []store.SMSPasscode{never, batch1[0], batch1[1]}
	}
	checkList(t, "sms passcodes", codes, want, normSMS)

	// A new batch replaces the device's codes only.
	batch2 := []store.SMSPasscode{mk("S4", d1.ID, 0)}
	must(t, "ReplaceSMSPasscodes again", s.ReplaceSMSPasscodes(ctx, d1.ID, batch2))
	codes, _ = s.ListSMSPasscodes(ctx, alice.ID)
	if len(codes) != 2 {
		t.Errorf("after a new batch: %+v", codes)
	}
	wantErr(t, "UseSMSPasscode of a replaced code", s.UseSMSPasscode(ctx, "S1"), store.ErrConflict)
	must(t, "UseSMSPasscode", s.UseSMSPasscode(ctx, "S4"))
	wantErr(t, "UseSMSPasscode twice", s.UseSMSPasscode(ctx, "S4"), store.ErrConflict)
	wantErr(t, "ReplaceSMSPasscodes of an unknown device", s.ReplaceSMSPasscodes(ctx, deviceID(9), nil), store.ErrNotFound)
	must(t, "DeleteDevice", s.DeleteDevice(ctx, d2.ID))
	codes, _ = s.ListSMSPasscodes(ctx, alice.ID)
	if len(codes) != 0 {
		t.Errorf("codes after their device went: %+v", codes)
	}

	rows := []store.TelephonyLog{
		{TxID: "tx1", Time: at(0), UserID: alice.ID, Phone: "XXX-XXX-0100", Type: "sms", Context: "authentication", Credits: 1, Provider: "kannel", Status: "sent"},
		{TxID: "tx2", Time: at(time.Minute), Phone: "XXX-XXX-0958", Type: "sms", Context: "administrator test", Provider: "http", Status: "failed"},
	}
	for i := range rows {
		must(t, "AppendTelephonyLog", s.AppendTelephonyLog(ctx, &rows[i]))
		if rows[i].ID == 0 {
			t.Errorf("row %d got no ID", i)
		}
	}
	all, err := s.ListTelephonyLog(ctx, time.Time{}, time.Time{}, 0)
	must(t, "ListTelephonyLog", err)
	checkList(t, "telephony log", all, rows, normTelephony)
	page, _ := s.ListTelephonyLog(ctx, at(time.Second), time.Time{}, 0)
	checkList(t, "telephony log since", page, rows[1:], normTelephony)
	page, _ = s.ListTelephonyLog(ctx, time.Time{}, at(time.Minute), 0)
	checkList(t, "telephony log until", page, rows[:1], normTelephony)
	page, _ = s.ListTelephonyLog(ctx, time.Time{}, time.Time{}, 1)
	checkList(t, "telephony log limit", page, rows[:1], normTelephony)
}

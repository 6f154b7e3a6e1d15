package telephony

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/internal/testutil"
)

const driveSMPP = "/usr/lib/kannel/test/drive_smpp"

// TestSMPPDriveSMPP sends through Kannel's test SMSC drive_smpp (Debian
// kannel-extras), which answers bind_transmitter and submit_sm as an SMSC.
func TestSMPPDriveSMPP(t *testing.T) {
	_, err := os.Stat(driveSMPP)
	testutil.Require(t, driveSMPP+" (apt kannel-extras)", err == nil)
	dir := t.TempDir()
	port := testutil.FreePort(t)
	cmd := exec.Command(driveSMPP, "-v", "0", "-p", fmt.Sprint(port), "-m", "0")
	cmd.Dir = dir
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("drive_smpp:\n%s", out.String())
		}
	}()
	// No probe connection: drive_smpp serves the first ESME that connects.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "Starting drive_smpp test.") {
		if time.Now().After(deadline) {
			t.Fatal("drive_smpp did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s, err := New(Config{Provider: ProviderSMPP, URL: fmt.Sprintf("smpp://127.0.0.1:%d", port), Username: "foo", Password: "bar", From: "Assent"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		err = s.SendSMS(ctx, "+15555550123", "SMS passcodes: 1234567")
		if err == nil || !strings.Contains(err.Error(), "connection refused") || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(out.String(), "submit_sm: short_message = <SMS passcodes: 1234567>") {
		if ctx.Err() != nil {
			t.Fatal("drive_smpp logged no submit_sm with the message")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSMPPPDUs checks the PDUs against a loopback SMSC written here: the
// bind's fields, a long UCS2 message in message_payload, and a refusal.
func TestSMPPPDUs(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type seen struct {
		bind, submit []byte
	}
	got := make(chan seen, 4)
	refuse := make(chan uint32, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			var sn seen
			status := <-refuse
			for {
				p, err := readPDU(c)
				if err != nil {
					break
				}
				switch p.id {
				case smppBindTransmitter:
					sn.bind = p.body
					// An enquire_link first: the client must answer it and go on.
					_, _ = c.Write(pdu{id: smppEnquireLink, seq: 99}.encode())
					_, _ = c.Write(pdu{id: p.id | smppResp, seq: p.seq, body: []byte("SMSC\x00")}.encode())
				case smppSubmitSM:
					sn.submit = p.body
					_, _ = c.Write(pdu{id: p.id | smppResp, status: status, seq: p.seq, body: []byte("id1\x00")}.encode())
				case smppUnbind:
					_, _ = c.Write(pdu{id: p.id | smppResp, seq: p.seq}.encode())
				}
			}
			c.Close()
			got <- sn
		}
	}()
	s, err := New(Config{Provider: ProviderSMPP, URL: "smpp://" + l.Addr().String(), Username: "assent", Password: "pw", From: "+15555550100"})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 200) // 400 bytes of UCS2
	refuse <- 0
	if err := s.SendSMS(context.Background(), "+442079460958", long); err != nil {
		t.Fatal(err)
	}
	sn := <-got
	if want := "assent\x00pw\x00\x00\x34\x00\x00\x00"; string(sn.bind) != want {
		t.Errorf("bind body %q, want %q", sn.bind, want)
	}
	wantHead := "\x00\x01\x0115555550100\x00\x01\x01442079460958\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00\x00\x04\x24\x01\x90"
	if !strings.HasPrefix(string(sn.submit), wantHead) || len(sn.submit) != len(wantHead)+400 {
		t.Errorf("submit_sm body %q", sn.submit)
	}
	refuse <- 0x45 // ESME_RSUBMITFAIL
	err = s.SendSMS(context.Background(), "+442079460958", "x")
	<-got
	if !errors.Is(err, ErrRefused) || strings.Contains(err.Error(), "079460958") {
		t.Fatalf("refused submit_sm: %v", err)
	}
}

func FuzzParsePDU(f *testing.F) {
	f.Add(pdu{id: smppSubmitSM | smppResp, seq: 1, body: []byte("id\x00")}.encode())
	f.Add([]byte{0, 0, 0, 16, 0x80, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePDU(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.encode(), b) {
			t.Fatalf("parse then encode changed %x", b)
		}
		q, err := readPDU(bytes.NewReader(b))
		if err != nil || q.id != p.id || !bytes.Equal(q.body, p.body) {
			t.Fatalf("readPDU disagrees: %v", err)
		}
	})
}

package sipcall

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-auth/assent/internal/testutil"
)

// SoX (Debian sox) writes the files an administrator would: LoadPrompt reads
// its PCM, μ-law and A-law WAVs, refuses the rest, and the sox command its
// error prints (and the one docs/telephony-sip.md gives) converts them.
func TestLoadPromptFromSoX(t *testing.T) {
	_, err := exec.LookPath("sox")
	testutil.Require(t, "sox", err == nil)
	dir := t.TempDir()
	sox := func(args ...string) {
		t.Helper()
		cmd := exec.Command("sox", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sox %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	path := func(name string) string { return filepath.Join(dir, name) }

	for _, tc := range []struct {
		name    string
		args    []string // sox output options
		seconds string
		wantErr string // "" for accepted
	}{
		{"pcm16.wav", []string{"-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer"}, "1", ""},
		{"ulaw.wav", []string{"-r", "8000", "-c", "1", "-e", "u-law"}, "1", ""},
		{"alaw.wav", []string{"-r", "8000", "-c", "1", "-e", "a-law"}, "1", ""},
		{"float.wav", []string{"-r", "8000", "-c", "1", "-e", "floating-point", "-b", "32"}, "1", "IEEE float"},
		{"pcm8.wav", []string{"-r", "8000", "-c", "1", "-b", "8", "-e", "unsigned-integer"}, "1", "8-bit PCM"},
		{"pcm24.wav", []string{"-r", "8000", "-c", "1", "-b", "24", "-e", "signed-integer"}, "1", "24-bit PCM"},
		{"wideband.wav", []string{"-r", "16000", "-c", "1", "-e", "u-law"}, "1", "16000 Hz"},
		{"stereo.wav", []string{"-r", "8000", "-c", "2", "-e", "u-law"}, "1", "2 channels"},
		{"long.wav", []string{"-r", "8000", "-c", "1", "-e", "u-law"}, "61", "recording too long: 61.0 s, at most 60 s; keep the first 60 s with: sox"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sox(append(append([]string{"-n"}, tc.args...), tc.name, "synth", tc.seconds, "sine", "440", "gain", "-6")...)
			p, err := LoadPrompt(path(tc.name))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path(tc.name)) {
					t.Fatalf("LoadPrompt = %v, want an error naming the file and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Samples) != sampleRate || rms(p.Samples) < 10000 {
				t.Fatalf("%d samples, RMS %.0f: want 1 s of a sine at -6 dBFS", len(p.Samples), rms(p.Samples))
			}
		})
	}

	// A CD-quality stereo FLAC, as someone records it: refused, and the
	// command in the error converts it.
	sox("-n", "-r", "44100", "-c", "2", "recording.flac", "synth", "2", "sine", "300-900", "gain", "-10")
	if _, err := LoadPrompt(path("recording.flac")); err == nil || !strings.Contains(err.Error(), "malformed WAV") {
		t.Fatalf("a FLAC file: %v", err)
	}
	sox("-n", "-r", "44100", "-c", "2", "-b", "16", "cd.wav", "synth", "2", "sine", "300-900", "gain", "-10")
	_, err = LoadPrompt(path("cd.wav"))
	if !errors.Is(err, errPromptFormat) {
		t.Fatalf("a 44.1 kHz stereo WAV: %v", err)
	}
	_, command, ok := strings.Cut(err.Error(), "with: sox ")
	if !ok {
		t.Fatalf("no sox command in %q", err)
	}
	sox(strings.Fields(command)...)
	p, err := LoadPrompt(path("prompt.wav"))
	if err != nil || len(p.Samples) != 2*sampleRate {
		t.Fatalf("after the suggested conversion: %d samples, %v", len(p.Samples), err)
	}
	// The command of docs/telephony-sip.md, from the FLAC.
	sox("recording.flac", "-r", "8000", "-c", "1", "-e", "u-law", "documented.wav", "highpass", "120", "gain", "-n", "-3")
	if p, err := LoadPrompt(path("documented.wav")); err != nil || len(p.Samples) != 2*sampleRate || rms(p.Samples) < speechFloor {
		t.Fatalf("after the documented conversion: %d samples, %v", len(p.Samples), err)
	}
}

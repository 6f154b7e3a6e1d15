package sipcall

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wavFile builds a WAV file: a fmt chunk (fmtBody, or the classic 16 bytes
// from tag/channels/rate/bits), the extra chunks, then a data chunk.
type wavFile struct {
	tag, channels uint16
	rate          uint32
	bits          uint16
	fmtBody       []byte
	before        [][2]string // chunks (id, body) between fmt and data
	data          []byte
}

func (w wavFile) bytes() []byte {
	chunk := func(dst []byte, id string, body []byte) []byte {
		dst = append(dst, id...)
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(body)))
		dst = append(dst, body...)
		if len(body)%2 == 1 {
			dst = append(dst, 0)
		}
		return dst
	}
	f := w.fmtBody
	if f == nil {
		f = binary.LittleEndian.AppendUint16(f, w.tag)
		f = binary.LittleEndian.AppendUint16(f, w.channels)
		f = binary.LittleEndian.AppendUint32(f, w.rate)
		f = binary.LittleEndian.AppendUint32(f, w.rate*uint32(w.channels)*uint32(w.bits)/8)
		f = binary.LittleEndian.AppendUint16(f, w.channels*w.bits/8)
		f = binary.LittleEndian.AppendUint16(f, w.bits)
	}
	body := []byte("WAVE")
	body = chunk(body, "fmt ", f)
	for _, c := range w.before {
		body = chunk(body, c[0], []byte(c[1]))
	}
	body = chunk(body, "data", w.data)
	return chunk(nil, "RIFF", body)
}

// tone is n samples of a 440 Hz sine at half scale.
func tone(n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(16384 * math.Sin(2*math.Pi*440*float64(i)/sampleRate))
	}
	return s
}

func pcm16(s []int16) []byte {
	var b []byte
	for _, v := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	return b
}

func extensible(sub uint16, bits uint16) []byte {
	// The classic 16 bytes, then cbSize, valid bits, channel mask (front
	// centre) and the SubFormat GUID.
	f := append([]byte(nil), wavFile{tag: wavExtensible, channels: 1, rate: sampleRate, bits: bits}.bytes()[20:36]...)
	f = binary.LittleEndian.AppendUint16(f, 22)
	f = binary.LittleEndian.AppendUint16(f, bits)
	f = binary.LittleEndian.AppendUint32(f, 4)
	f = binary.LittleEndian.AppendUint16(f, sub)
	return append(f, "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"...)
}

func TestParseWAV(t *testing.T) {
	sine := tone(800)
	ulaw := Prompt{Samples: sine}.encode(ptPCMU)
	alaw := Prompt{Samples: sine}.encode(ptPCMA)
	mono := func(tag, bits uint16, data []byte) wavFile {
		return wavFile{tag: tag, channels: 1, rate: sampleRate, bits: bits, data: data}
	}
	badGUID := extensible(wavPCM, 16)
	badGUID[len(badGUID)-1] ^= 1
	truncated := mono(wavPCM, 16, pcm16(sine)).bytes()
	truncated = truncated[:len(truncated)-10]
	tooLong := mono(wavULaw, 8, bytes.Repeat([]byte{0x80}, MaxPromptSeconds*sampleRate+1))
	longest := mono(wavULaw, 8, bytes.Repeat([]byte{0x80}, MaxPromptSeconds*sampleRate))

	for _, tc := range []struct {
		name    string
		in      []byte
		want    []int16 // decoded samples, when checked
		n       int     // number of samples, when checked
		wantErr error   // errPromptFormat, errWAV or nil
		errText string
	}{
		{name: "16-bit PCM", in: mono(wavPCM, 16, pcm16(sine)).bytes(), want: sine},
		{name: "μ-law", in: mono(wavULaw, 8, ulaw).bytes(), want: Prompt{Samples: sine}.decoded(ptPCMU)},
		{name: "A-law", in: mono(wavALaw, 8, alaw).bytes(), want: Prompt{Samples: sine}.decoded(ptPCMA)},
		{name: "extensible PCM", in: wavFile{fmtBody: extensible(wavPCM, 16), data: pcm16(sine)}.bytes(), want: sine},
		{name: "extensible μ-law", in: wavFile{fmtBody: extensible(wavULaw, 8), data: ulaw}.bytes(), want: Prompt{Samples: sine}.decoded(ptPCMU)},
		{name: "fact, LIST and an odd-sized chunk skipped", in: wavFile{tag: wavPCM, channels: 1, rate: sampleRate, bits: 16,
			before: [][2]string{{"fact", "\x20\x03\x00\x00"}, {"LIST", "INFOISFT\x05\x00\x00\x00sox!\x00"}, {"odd ", "abc"}}, data: pcm16(sine)}.bytes(), want: sine},
		{name: "exactly 60 s", in: longest.bytes(), n: MaxPromptSeconds * sampleRate},
		{name: "44.1 kHz", in: wavFile{tag: wavPCM, channels: 1, rate: 44100, bits: 16, data: pcm16(sine)}.bytes(), wantErr: errPromptFormat, errText: "44100 Hz, want 8000 Hz"},
		{name: "16 kHz", in: wavFile{tag: wavPCM, channels: 1, rate: 16000, bits: 16, data: pcm16(sine)}.bytes(), wantErr: errPromptFormat, errText: "16000 Hz"},
		{name: "stereo", in: wavFile{tag: wavPCM, channels: 2, rate: sampleRate, bits: 16, data: pcm16(sine)}.bytes(), wantErr: errPromptFormat, errText: "2 channels"},
		{name: "8-bit PCM", in: mono(wavPCM, 8, ulaw).bytes(), wantErr: errPromptFormat, errText: "8-bit PCM"},
		{name: "24-bit PCM", in: mono(wavPCM, 24, pcm16(sine)[:1200]).bytes(), wantErr: errPromptFormat, errText: "24-bit PCM"},
		{name: "float", in: mono(3, 32, pcm16(sine)).bytes(), wantErr: errPromptFormat, errText: "0x0003 (IEEE float)"},
		{name: "GSM", in: mono(0x31, 0, ulaw).bytes(), wantErr: errPromptFormat, errText: "GSM 6.10"},
		{name: "extensible with a foreign GUID", in: wavFile{fmtBody: badGUID, data: pcm16(sine)}.bytes(), wantErr: errPromptFormat, errText: "SubFormat"},
		{name: "extensible, short fmt", in: wavFile{fmtBody: extensible(wavPCM, 16)[:30], data: pcm16(sine)}.bytes(), wantErr: errWAV},
		{name: "16-bit μ-law", in: mono(wavULaw, 16, pcm16(sine)).bytes(), wantErr: errWAV, errText: "16 bits per sample"},
		{name: "longer than 60 s", in: tooLong.bytes(), wantErr: errPromptLong, errText: "recording too long: 60.0 s, at most 60 s"},
		{name: "silence", in: mono(wavPCM, 16, make([]byte, 1600)).bytes(), wantErr: errPromptSilent, errText: "silent (peak 0 of 32767)"},
		{name: "empty data", in: mono(wavPCM, 16, nil).bytes(), wantErr: errWAV, errText: "no audio"},
		{name: "odd 16-bit data", in: mono(wavPCM, 16, pcm16(sine)[:7]).bytes(), wantErr: errWAV, errText: "odd length"},
		{name: "truncated data", in: truncated, wantErr: errWAV, errText: `"data" chunk of 1600 bytes, 1590 left in the file`},
		{name: "truncated data of a 44.1 kHz file: the rate is the news", in: wavFile{tag: wavPCM, channels: 1, rate: 44100, bits: 16, data: pcm16(sine)}.bytes()[:100], wantErr: errPromptFormat, errText: "44100 Hz"},
		{name: "truncated LIST", in: wavFile{tag: wavPCM, channels: 1, rate: sampleRate, bits: 16, before: [][2]string{{"LIST", "INFO"}}}.bytes()[:46], wantErr: errWAV, errText: `"LIST" chunk of 4 bytes, 2 left`},
		{name: "no data chunk", in: mono(wavPCM, 16, nil).bytes()[:36], wantErr: errWAV, errText: "no fmt or no data"},
		{name: "data before fmt", in: []byte("RIFF\x14\x00\x00\x00WAVEdata\x02\x00\x00\x00\x01\x02"), wantErr: errWAV, errText: "data before fmt"},
		{name: "short fmt", in: []byte("RIFF\x14\x00\x00\x00WAVEfmt \x02\x00\x00\x00\x01\x00"), wantErr: errWAV, errText: "fmt chunk of 2 bytes"},
		{name: "two fmt chunks", in: wavFile{tag: wavPCM, channels: 1, rate: sampleRate, bits: 16,
			before: [][2]string{{"fmt ", string(mono(wavPCM, 16, nil).bytes()[20:36])}}, data: pcm16(sine)}.bytes(), wantErr: errWAV, errText: "two fmt"},
		{name: "not RIFF", in: []byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb"), wantErr: errWAV, errText: "no RIFF/WAVE"},
		{name: "RIFF but AVI", in: []byte("RIFF\x04\x00\x00\x00AVI "), wantErr: errWAV},
		{name: "empty", in: nil, wantErr: errWAV},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseWAV(tc.in)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, tc.wantErr, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !equalSamples(p.Samples, tc.want) {
				t.Fatalf("%d samples decoded, not the %d written", len(p.Samples), len(tc.want))
			}
			if tc.n != 0 && len(p.Samples) != tc.n {
				t.Fatalf("%d samples, want %d", len(p.Samples), tc.n)
			}
		})
	}
}

// decoded is what the far end hears: the prompt through G.711 and back.
func (p Prompt) decoded(pt uint8) []int16 {
	out := make([]int16, len(p.Samples))
	for i, c := range p.encode(pt) {
		if pt == ptPCMA {
			out[i] = ALawDecode(c)
		} else {
			out[i] = ULawDecode(c)
		}
	}
	return out
}

func equalSamples(a, b []int16) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// LoadPrompt names the file in every error, and for audio in another form
// says which sox command converts it.
func TestLoadPrompt(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sine := tone(4000)
	good := write("good.wav", wavFile{tag: wavPCM, channels: 1, rate: sampleRate, bits: 16, data: pcm16(sine)}.bytes())
	p, err := LoadPrompt(good)
	if err != nil || !equalSamples(p.Samples, sine) {
		t.Fatalf("LoadPrompt(good) = %d samples, %v", len(p.Samples), err)
	}

	cd := write("cd.wav", wavFile{tag: wavPCM, channels: 2, rate: 44100, bits: 16, data: pcm16(sine)}.bytes())
	huge := write("huge.wav", make([]byte, maxPromptFile+1))
	// Larger than LoadPrompt reads: the header still explains.
	cdLong := write("cd-long.wav", wavFile{tag: wavPCM, channels: 2, rate: 44100, bits: 16, data: make([]byte, 44100*4*12)}.bytes())
	long := write("long.wav", wavFile{tag: wavPCM, channels: 1, rate: sampleRate, bits: 16, data: pcm16(tone(70 * sampleRate))}.bytes())
	broken := write("broken.wav", []byte("RIFF"))
	quiet := write("quiet.wav", wavFile{tag: wavULaw, channels: 1, rate: sampleRate, bits: 8, data: bytes.Repeat([]byte{0xff}, 800)}.bytes())
	for _, tc := range []struct {
		path string
		want []string
	}{
		{cd, []string{"sip prompt " + cd + ":", "2 channels", "sox " + cd + " -r 8000 -c 1 -e u-law prompt.wav"}},
		{huge, []string{"sip prompt " + huge + ":", fmt.Sprintf("larger than %d bytes, more than 60 s of 8 kHz audio can take", maxPromptFile)}},
		{cdLong, []string{"sip prompt " + cdLong + ":", "2 channels", "sox " + cdLong + " -r 8000 -c 1 -e u-law prompt.wav"}},
		{long, []string{"sip prompt " + long + ":", "recording too long: 70.0 s, at most 60 s", "sox " + long + " -r 8000 -c 1 -e u-law prompt.wav trim 0 60"}},
		{broken, []string{"sip prompt " + broken + ":", "malformed WAV file"}},
		{quiet, []string{"sip prompt " + quiet + ":", "the recording is silent"}},
		{filepath.Join(dir, "missing.wav"), []string{"sip prompt:", "missing.wav", "no such file"}},
	} {
		_, err := LoadPrompt(tc.path)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("LoadPrompt(%s) = %v, want an error containing %q", filepath.Base(tc.path), err, w)
			}
		}
	}
	for _, p := range []string{broken, quiet, huge} {
		if _, err := LoadPrompt(p); err != nil && strings.Contains(err.Error(), "sox") {
			t.Errorf("not a conversion problem: %v", err)
		}
	}
}

func FuzzParseWAV(f *testing.F) {
	sine := tone(160)
	f.Add(wavFile{tag: wavPCM, channels: 1, rate: sampleRate, bits: 16, data: pcm16(sine)}.bytes())
	f.Add(wavFile{tag: wavULaw, channels: 1, rate: sampleRate, bits: 8, before: [][2]string{{"fact", "\xa0\x00\x00\x00"}},
		data: Prompt{Samples: sine}.encode(ptPCMU)}.bytes())
	f.Add(wavFile{fmtBody: extensible(wavALaw, 8), data: Prompt{Samples: sine}.encode(ptPCMA)}.bytes())
	f.Add([]byte(promptWAV[:200]))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseWAV(b)
		if err != nil {
			return
		}
		if n := len(p.Samples); n == 0 || n > MaxPromptSeconds*sampleRate || n > len(b) {
			t.Fatalf("%d samples from %d bytes", n, len(b))
		}
	})
}

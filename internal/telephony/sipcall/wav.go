package sipcall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxPromptSeconds bounds a prompt loaded from a file: the prompt repeats
// until the callee presses a key, so a long one only delays the question.
const MaxPromptSeconds = 60

// maxPromptFile bounds what LoadPrompt reads: 60 s of 16-bit PCM plus room
// for the header and metadata chunks (LIST, bext, …).
const maxPromptFile = MaxPromptSeconds*sampleRate*2 + 64<<10

// WAV format tags (RFC 2361; mmreg.h).
const (
	wavPCM        = 0x0001
	wavALaw       = 0x0006
	wavULaw       = 0x0007
	wavExtensible = 0xfffe
)

// errPromptFormat marks audio that is a valid WAV file in a form Assent does
// not play: LoadPrompt then tells how to convert it.
var errPromptFormat = errors.New("unsupported audio format")

var errWAV = errors.New("malformed WAV file")

// errPromptLong marks a recording longer than MaxPromptSeconds.
var errPromptLong = errors.New("recording too long")

var errPromptSilent = errors.New("the recording is silent")

// LoadPrompt reads an administrator's recording: a WAV (RIFF) file, 8000 Hz
// mono, 16-bit linear PCM, G.711 μ-law or G.711 A-law, at most
// MaxPromptSeconds long and not silent. The error names the file and, for
// audio in another form, the sox command that converts it.
func LoadPrompt(path string) (Prompt, error) {
	f, err := os.Open(path)
	if err != nil {
		return Prompt{}, fmt.Errorf("sip prompt: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPromptFile+1))
	if err != nil {
		return Prompt{}, fmt.Errorf("sip prompt %s: %w", path, err)
	}
	// A larger file is no prompt, but its header still says why: parseWAV
	// checks the form and the declared length before the data is complete.
	large := len(b) > maxPromptFile
	p, err := parseWAV(b)
	switch {
	case errors.Is(err, errPromptLong):
		return Prompt{}, fmt.Errorf("sip prompt %s: %w; keep the first %d s with: sox %s -r 8000 -c 1 -e u-law prompt.wav trim 0 %d",
			path, err, MaxPromptSeconds, path, MaxPromptSeconds)
	case errors.Is(err, errPromptFormat):
		return Prompt{}, fmt.Errorf("sip prompt %s: %w; convert it to 8 kHz mono G.711 μ-law with: sox %s -r 8000 -c 1 -e u-law prompt.wav",
			path, err, path)
	case large:
		return Prompt{}, fmt.Errorf("sip prompt %s: larger than %d bytes, more than %d s of 8 kHz audio can take", path, maxPromptFile, MaxPromptSeconds)
	case err != nil:
		return Prompt{}, fmt.Errorf("sip prompt %s: %w", path, err)
	}
	return p, nil
}

// parseWAV decodes a WAV file from untrusted input (see LoadPrompt for what
// it accepts). Chunks other than fmt and data (fact, LIST, …) are skipped;
// every size is checked against the bytes present.
func parseWAV(b []byte) (Prompt, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return Prompt{}, fmt.Errorf("%w: no RIFF/WAVE header", errWAV)
	}
	var (
		haveFmt          bool
		format, channels uint16
		rate             uint32
		bits             uint16
		data             []byte // the bytes of the data chunk present in b
		dataSize         uint32 // the size its header declares
		haveData         bool
	)
	for off := 12; off+8 <= len(b) && !haveData; {
		id, size := string(b[off:off+4]), binary.LittleEndian.Uint32(b[off+4:])
		off += 8
		left := len(b) - off
		if uint64(size) > uint64(left) && id != "data" {
			return Prompt{}, fmt.Errorf("%w: %q chunk of %d bytes, %d left in the file", errWAV, id, size, left)
		}
		body := b[off : off+min(int(size), left)] // a short data chunk is reported after its format
		off += int(size) + int(size&1)            // chunks are padded to an even length
		switch id {
		case "fmt ":
			if haveFmt {
				return Prompt{}, fmt.Errorf("%w: two fmt chunks", errWAV)
			}
			if len(body) < 16 {
				return Prompt{}, fmt.Errorf("%w: fmt chunk of %d bytes", errWAV, len(body))
			}
			haveFmt = true
			format = binary.LittleEndian.Uint16(body[0:])
			channels = binary.LittleEndian.Uint16(body[2:])
			rate = binary.LittleEndian.Uint32(body[4:])
			bits = binary.LittleEndian.Uint16(body[14:])
			if format == wavExtensible {
				sub, err := extensibleFormat(body)
				if err != nil {
					return Prompt{}, err
				}
				format = sub
			}
		case "data":
			if !haveFmt {
				return Prompt{}, fmt.Errorf("%w: data before fmt", errWAV)
			}
			data, dataSize, haveData = body, size, true
		}
	}
	if !haveFmt || !haveData {
		return Prompt{}, fmt.Errorf("%w: no fmt or no data chunk", errWAV)
	}
	// The form first, then the length the header declares, then whether
	// the data is all there: a recording in the wrong form or too long gets
	// the error that says how to fix it even when LoadPrompt read only the
	// start of a large file.
	if channels != 1 {
		return Prompt{}, fmt.Errorf("%w: %d channels, want mono", errPromptFormat, channels)
	}
	if rate != sampleRate {
		return Prompt{}, fmt.Errorf("%w: %d Hz, want %d Hz", errPromptFormat, rate, sampleRate)
	}
	var decode func([]byte) int16
	width := 1
	switch {
	case format == wavPCM && bits == 16:
		width = 2
		decode = func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) }
	case format == wavULaw && bits == 8:
		decode = func(b []byte) int16 { return ULawDecode(b[0]) }
	case format == wavALaw && bits == 8:
		decode = func(b []byte) int16 { return ALawDecode(b[0]) }
	case format == wavPCM:
		return Prompt{}, fmt.Errorf("%w: %d-bit PCM, want 16-bit PCM, μ-law or A-law", errPromptFormat, bits)
	case format == wavULaw || format == wavALaw:
		return Prompt{}, fmt.Errorf("%w: G.711 with %d bits per sample, want 8", errWAV, bits)
	default:
		return Prompt{}, fmt.Errorf("%w: WAV format %#04x (%s), want 16-bit PCM, μ-law or A-law", errPromptFormat, format, formatName(format))
	}
	if err := checkLength(int(dataSize) / width); err != nil {
		return Prompt{}, err
	}
	if len(data) < int(dataSize) {
		return Prompt{}, fmt.Errorf("%w: \"data\" chunk of %d bytes, %d left in the file", errWAV, dataSize, len(data))
	}
	if len(data)%width != 0 {
		return Prompt{}, fmt.Errorf("%w: 16-bit data of odd length %d", errWAV, len(data))
	}
	samples := make([]int16, len(data)/width)
	for i := range samples {
		samples[i] = decode(data[i*width:])
	}
	var peak int
	for _, s := range samples {
		peak = max(peak, abs(int(s)))
	}
	if peak < silencePeak {
		return Prompt{}, fmt.Errorf("%w (peak %d of 32767)", errPromptSilent, peak)
	}
	return Prompt{Samples: samples}, nil
}

// silencePeak: a recording whose every sample stays below this (about
// −54 dBFS) is taken for a mistake, not a prompt.
const silencePeak = 64

func checkLength(n int) error {
	if n == 0 {
		return fmt.Errorf("%w: no audio (empty data chunk)", errWAV)
	}
	if n > MaxPromptSeconds*sampleRate {
		return fmt.Errorf("%w: %.1f s, at most %d s", errPromptLong, float64(n)/sampleRate, MaxPromptSeconds)
	}
	return nil
}

// extensibleFormat returns the format tag inside a WAVE_FORMAT_EXTENSIBLE
// fmt chunk: the first two bytes of its SubFormat GUID, whose other bytes
// are those of KSDATAFORMAT_SUBTYPE_* {XXXXXXXX-0000-0010-8000-00aa00389b71}.
func extensibleFormat(fmtChunk []byte) (uint16, error) {
	if len(fmtChunk) < 40 {
		return 0, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes", errWAV, len(fmtChunk))
	}
	guid := fmtChunk[24:40]
	const suffix = "\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
	if string(guid[2:]) != suffix {
		return 0, fmt.Errorf("%w: WAVE_FORMAT_EXTENSIBLE with an unknown SubFormat %x", errPromptFormat, guid)
	}
	return binary.LittleEndian.Uint16(guid), nil
}

func formatName(tag uint16) string {
	switch tag {
	case 0x0002:
		return "Microsoft ADPCM"
	case 0x0003:
		return "IEEE float"
	case 0x0011:
		return "IMA ADPCM"
	case 0x0031:
		return "GSM 6.10"
	case 0x0055:
		return "MPEG layer 3"
	}
	return "unknown"
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

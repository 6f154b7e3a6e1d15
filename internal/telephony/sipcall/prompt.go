package sipcall

import _ "embed" // prompt-en.wav

// Prompt is audio as 16-bit linear PCM at 8000 Hz, encoded to the
// negotiated G.711 law when sent.
type Prompt struct {
	Samples []int16
}

const sampleRate = 8000

// promptWAV is the spoken prompt shipped with Assent, "This is a login
// request from Assent. Press 1 to approve. Press any other key to deny.",
// as 8 kHz mono G.711 μ-law in a WAV file. scripts/gen-voice-prompt.sh
// makes it with free text-to-speech; README.md beside it has the licences.
//
//go:embed prompt-en.wav
var promptWAV string

// DefaultPrompt is the spoken prompt shipped with Assent (promptWAV),
// about 6 seconds of speech. It is decoded anew on each call, so callers
// may keep or change the samples they get.
func DefaultPrompt() Prompt {
	p, err := parseWAV([]byte(promptWAV))
	if err != nil {
		// The file is part of the binary and checked by TestDefaultPrompt.
		panic("sipcall: the embedded prompt-en.wav is broken: " + err.Error())
	}
	return p
}

// encode returns the prompt in the given G.711 payload type.
func (p Prompt) encode(pt uint8) []byte {
	out := make([]byte, len(p.Samples))
	for i, v := range p.Samples {
		if pt == ptPCMA {
			out[i] = ALawEncode(v)
		} else {
			out[i] = ULawEncode(v)
		}
	}
	return out
}

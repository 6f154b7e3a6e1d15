package sipcall

import "math"

// Prompt is audio as 16-bit linear PCM at 8000 Hz, encoded to the
// negotiated G.711 law when sent.
type Prompt struct {
	Samples []int16
}

const sampleRate = 8000

// DefaultPrompt is the prompt shipped with Assent. It is synthesized by this
// code, not recorded speech: a rising three-note chime (C5, E5, G5, 150 ms
// each), 300 ms of silence, then two short 1 kHz beeps — the cue "press 1"
// that docs/telephony-sip.md asks deployments to explain to their users
// (or to replace with a recorded prompt through Config.Prompt).
func DefaultPrompt() Prompt {
	var s []int16
	tone := func(freq float64, ms int) {
		n := sampleRate * ms / 1000
		ramp := sampleRate * 10 / 1000 // 10 ms fade in/out: no clicks
		for i := 0; i < n; i++ {
			env := 1.0
			if i < ramp {
				env = float64(i) / float64(ramp)
			} else if n-i < ramp {
				env = float64(n-i) / float64(ramp)
			}
			v := 0.3 * env * math.Sin(2*math.Pi*freq*float64(i)/sampleRate)
			s = append(s, int16(v*32767))
		}
	}
	silence := func(ms int) { s = append(s, make([]int16, sampleRate*ms/1000)...) }
	tone(523.25, 150)
	tone(659.25, 150)
	tone(783.99, 150)
	silence(300)
	tone(1000, 120)
	silence(120)
	tone(1000, 120)
	silence(200)
	return Prompt{Samples: s}
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

#!/bin/sh
# Regenerates the spoken prompt Assent plays on phone callbacks
# (internal/telephony/sipcall/prompt-en.wav, see its README.md).
#
# Speech: Festival with the CMU ARCTIC "slt" HTS voice (Debian: festival,
# festvox-us-slt-hts; permissive licences, see the README). Conversion: SoX
# (Debian: sox) to 8 kHz mono G.711 mu-law, the form Assent sends as PCMU, in
# repeatable mode without dither, so the same packages give the same bytes.
#
#   apt-get install festival festvox-us-slt-hts sox
#   scripts/gen-voice-prompt.sh [OUTPUT.wav]
set -eu

text="This is a login request from Assent. Press 1 to approve. Press any other key to deny."
out=${1:-"$(dirname "$0")/../internal/telephony/sipcall/prompt-en.wav"}

for tool in text2wave sox; do
	command -v "$tool" >/dev/null || { echo "$0: $tool missing: apt-get install festival festvox-us-slt-hts sox" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%s\n' "$text" >"$tmp/text.txt"
text2wave -eval '(voice_cmu_us_slt_arctic_hts)' -o "$tmp/speech.wav" "$tmp/text.txt"

# Trim the synthesizer's leading and trailing silence, cut rumble below the
# telephone band, resample to 8 kHz (SoX's
# rate effect low-passes below 4 kHz), normalise the peak to -3 dBFS and keep 250 ms of silence before the
# words: the first packets of a call are often lost while media paths open.
sox -R -D "$tmp/speech.wav" -r 8000 -c 1 -e u-law -t wav "$tmp/prompt.wav" \
	silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
	highpass 120 rate 8000 gain -n -3 pad 0.25 0.1
mv "$tmp/prompt.wav" "$out"
echo "$out: $(soxi -D "$out") s, $(wc -c <"$out") bytes"

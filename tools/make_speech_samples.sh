#!/usr/bin/env bash
# Make the short speech recordings of data/speech/ with the espeak-ng speech synthesizer.
#
#   sudo apt-get install -y espeak-ng sox     # Debian / Ubuntu packages
#   bash tools/make_speech_samples.sh         # writes data/speech/*.wav
#
# Each clip is spoken by espeak-ng (22.05 kHz), then converted by sox to 16 kHz, mono,
# 16-bit PCM WAV without dither, so the same tool versions give the same files.
# The lessons only read the committed WAV files: they never need espeak-ng or sox.
# data/speech/README.md lists the exact texts, voices and tool versions; keep it in step.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=data/speech
RATE=16000
SPEED=150   # words per minute

for tool in espeak-ng sox; do
    command -v "$tool" >/dev/null || { echo "error: $tool is not installed (apt-get install -y espeak-ng sox)" >&2; exit 1; }
done
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# name | espeak-ng voice | text
while IFS='|' read -r name voice text; do
    [ -z "$name" ] && continue
    espeak-ng -v "$voice" -s "$SPEED" -w "$tmp/$name.wav" "$text"
    sox -D -V1 "$tmp/$name.wav" -r "$RATE" -c 1 -b 16 -e signed-integer "$OUT/$name.wav"
    printf '%-16s %-8s %6s bytes  "%s"\n' "$name.wav" "$voice" "$(stat -c %s "$OUT/$name.wav")" "$text"
done <<'CLIPS'
fox|en|The quick brown fox jumps over the lazy dog.
red_star|en+f3|A small red star sits next to a big blue square.
windows|en-us|Short windows see the clicks, long windows see the pitch.
counting|en+m3|One, two, three, four, five.
CLIPS

echo "espeak-ng: $(espeak-ng --version | head -n 1)"
echo "sox: $(sox --version | head -n 1)"
du -cb "$OUT"/*.wav | tail -n 1

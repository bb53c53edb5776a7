#!/usr/bin/env bash
# Writes the JPEG seeds of fuzz/corpus/decode: one small file of every kind of JPEG picday's
# tests decode, written by libjpeg-turbo's `cjpeg` and `jpegtran` (Debian: libjpeg-turbo-progs)
# and python3 (to cut the pixels)
# from a portrait of the test fixtures, cut small so that the fuzzers run fast. Both fuzz targets
# start from these (fuzz/run.sh, fuzz/campaign.sh). Run again to rewrite them; the other seeds
# in that folder (crash inputs, CMYK, EXIF orientation, PNG) are kept as they are.
set -euo pipefail
cd "$(dirname "$0")"
out=corpus/decode
src=../tests/fixtures/portraits/0100200.jpg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Odd sizes, so that the last MCU row and column are partial; one larger for 1/8 scale.
# cut W H GREY: the centre W x H of the portrait at 1/4 scale, as a PPM (or PGM) on stdout.
cut() {
  djpeg -scale 1/4 "$src" | python3 -c '
import sys
w, h, grey = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "grey"
data = sys.stdin.buffer.read()
fields, at = [], 0
while len(fields) < 4:
    while data[at:at + 1].isspace(): at += 1
    start = at
    while not data[at:at + 1].isspace(): at += 1
    fields.append(data[start:at])
at += 1
sw, sh = int(fields[1]), int(fields[2])
x0, y0 = (sw - w) // 2, (sh - h) // 3
rows = []
for y in range(y0, y0 + h):
    row = data[at + (y * sw + x0) * 3: at + (y * sw + x0 + w) * 3]
    rows.append(bytes((row[i] * 30 + row[i + 1] * 59 + row[i + 2] * 11) // 100 for i in range(0, len(row), 3)) if grey else row)
sys.stdout.buffer.write(b"%s %d %d 255\n" % (b"P5" if grey else b"P6", w, h) + b"".join(rows))
' "$@"
}
cut 37 45 colour >"$tmp/small.ppm"
cut 90 118 colour >"$tmp/large.ppm"
cut 37 45 grey >"$tmp/small.pgm"

jpeg() { name=$1; shift; cjpeg "$@" >"$out/$name.jpg"; }
jpeg seq-444-37x45 -quality 75 -sample 1x1 "$tmp/small.ppm"
jpeg seq-422-37x45 -quality 75 -sample 2x1 "$tmp/small.ppm"
jpeg seq-420-37x45 -quality 75 -sample 2x2 "$tmp/small.ppm"
jpeg seq-440-37x45 -quality 75 -sample 1x2 "$tmp/small.ppm"
jpeg seq-411-37x45 -quality 75 -sample 4x1 "$tmp/small.ppm"
jpeg seq-420-q100-37x45 -quality 100 -sample 2x2 "$tmp/small.ppm"
jpeg seq-420-q10-37x45 -quality 10 -sample 2x2 "$tmp/small.ppm"
jpeg seq-420-optimized-37x45 -optimize -sample 2x2 "$tmp/small.ppm"
jpeg seq-420-restart-1mcu-37x45 -restart 1B -sample 2x2 "$tmp/small.ppm"
jpeg seq-444-restart-1row-37x45 -restart 1 -sample 1x1 "$tmp/small.ppm"
jpeg seq-rgb-no-transform-37x45 -rgb "$tmp/small.ppm"
jpeg seq-grey-37x45 -quality 75 "$tmp/small.pgm"
jpeg seq-grey-restart-1mcu-37x45 -restart 1B "$tmp/small.pgm"
jpeg seq-420-90x118 -quality 85 -sample 2x2 "$tmp/large.ppm"
jpeg seq-422-restart-2mcu-90x118 -quality 85 -sample 2x1 -restart 2B "$tmp/large.ppm"
jpeg prog-420-37x45 -progressive -sample 2x2 "$tmp/small.ppm"
jpeg prog-444-restart-1mcu-37x45 -progressive -restart 1B -sample 1x1 "$tmp/small.ppm"
jpeg prog-grey-37x45 -progressive "$tmp/small.pgm"
# Not decoded by jpeg-decoder (an error, which must stay an error).
jpeg arithmetic-420-37x45 -arithmetic -sample 2x2 "$tmp/small.ppm"
ls "$out" | wc -l | xargs echo "seeds in $out:"

#!/usr/bin/env bash
# picday's photo pipeline vs vipsthumbnail (and ImageMagick, if installed) on the same 24 MP
# portraits, on one core, interleaved rounds: first one process per photo, then each tool on all
# the photos in one process. Prints ms per photo (median), peak RSS and the ratios for each
# chroma subsampling of the input: 4:2:2 (what most cameras write), 4:2:0 (phones) and 4:4:4
# (top-quality studio exports: the most data to decode). See docs/photos.md for the method and
# the last results.
#
#   bench/pipeline.sh                 # default (pure Rust) build
#   FEATURES=turbojpeg bench/pipeline.sh
#   N=20 ROUNDS=3 CORE=1 SAMPLINGS="444" bench/pipeline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-12}
ROUNDS=${ROUNDS:-3}
CORE=${CORE:-1}
SAMPLINGS=${SAMPLINGS:-422 420 444}
WORK=${WORK:-${TMPDIR:-/tmp}/picday-bench}
FEATURES=${FEATURES:-}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

feat=()
[ -n "$FEATURES" ] && feat=(--features "$FEATURES")
cargo build --quiet --release -p picday-core --example pipeline_bench "${feat[@]}"
BIN="$TARGET_DIR/release/examples/pipeline_bench"

have_vips=$(command -v vipsthumbnail || true)
IM=""
if [ -x /usr/bin/convert ] && /usr/bin/convert -version 2>/dev/null | grep -q ImageMagick; then IM=/usr/bin/convert
elif command -v magick >/dev/null; then IM=$(command -v magick); fi
export VIPS_CONCURRENCY=1

# Runs one command per photo; appends "wall_us cpu_s rss_kb" to the file named first.
# CPU time (user + sys, from wait4 in microseconds: GNU time would round each to 10 ms) is the
# fair figure on a shared machine; wall time includes waiting.
measure() { # out-file cmd...
  local out=$1; shift
  python3 - taskset -c "$CORE" "$@" >> "$out" <<'PY'
import os, sys, time
t0 = time.perf_counter_ns()
pid = os.fork()
if pid == 0:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, ru = os.wait4(pid, 0)
wall_us = (time.perf_counter_ns() - t0) // 1000
if status != 0:
    sys.exit(f"{' '.join(sys.argv[1:])} failed ({status})")
print(wall_us, ru.ru_utime + ru.ru_stime, ru.ru_maxrss)
PY
}

stat() { # file [photos per line] -> "median_wall_ms mean_cpu_ms max_rss_mb", per photo
  awk -v n="${2:-1}" '{print $1/1000/n, $2*1000/n, $3/1024}' "$1" | sort -n |
    awk '{ms[NR]=$1; cpu+=$2; if ($3>rss) rss=$3} END {printf "%.1f %.1f %.1f", ms[int((NR+1)/2)], cpu/NR, rss}'
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; pinned to core $CORE; $(date -u +%F)"
echo "picday build: ${FEATURES:-default (pure Rust)}; output 640x640 Q85 face crop; $ROUNDS rounds, one process per photo"

for s in $SAMPLINGS; do
  dir="$WORK/$s"
  mkdir -p "$dir/in" "$dir/out-picday" "$dir/out-vips" "$dir/out-im"
  if [ "$(ls "$dir/in" | wc -l)" -lt "$N" ]; then
    echo "generating $N 4000x6000 4:${s:1:1}:${s:2:1} portraits in $dir/in ..."
    "$BIN" generate tests/fixtures/portraits/0100205.jpg "$dir/in" "$N" "$s" >/dev/null
  fi
  mapfile -t FILES < <(ls "$dir/in"/*.jpg | head -n "$N")
  rm -f "$dir"/{picday,vips,magick}.txt
  for r in $(seq "$ROUNDS"); do
    for f in "${FILES[@]}"; do
      b=$(basename "$f")
      measure "$dir/picday.txt" "$BIN" run --out "$dir/out-picday" "$f"
      [ -n "$have_vips" ] && measure "$dir/vips.txt" vipsthumbnail "$f" --size 640x640 --smartcrop centre -o "$dir/out-vips/%s.jpg[Q=85,strip]"
      [ -n "$IM" ] && measure "$dir/magick.txt" "$IM" -limit thread 1 -define jpeg:size=1280x1280 "$f" -resize '640x640^' -gravity center -extent 640x640 -strip -quality 85 "$dir/out-im/$b"
    done
  done
  # Then each tool once on all the photos, in one process: how a delivery is really run (a push,
  # or `vipsthumbnail *.jpg`), with no start-up per photo. Interleaved rounds again.
  rm -f "$dir"/{picday,vips}-batch.txt
  for r in $(seq "$ROUNDS"); do
    measure "$dir/picday-batch.txt" "$BIN" run --out "$dir/out-picday" "${FILES[@]}"
    [ -n "$have_vips" ] && measure "$dir/vips-batch.txt" vipsthumbnail "${FILES[@]}" --size 640x640 --smartcrop centre -o "$dir/out-vips/%s.jpg[Q=85,strip]"
  done
  # picday's own per-photo timing of one more batch (median, excluding process start).
  batch=$(taskset -c "$CORE" "$BIN" run "${FILES[@]}")

  read -r P_MS P_CPU P_RSS <<<"$(stat "$dir/picday.txt")"
  echo
  echo "input: ${#FILES[@]} x 4000x6000 JPEG Q90 4:${s:1:1}:${s:2:1} (avg $(du -cb "${FILES[@]}" | tail -1 | awk -v n=${#FILES[@]} '{printf "%.1f", $1/n/1048576}') MB); load average $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '%-36s %12s %10s %12s %10s %10s\n' tool "wall ms (med)" "CPU ms" "peak RSS MB" "wall/vips" "CPU/vips"
  V_MS=1; V_CPU=1
  if [ -n "$have_vips" ]; then read -r V_MS V_CPU V_RSS <<<"$(stat "$dir/vips.txt")"; fi
  ratio() { [ -n "$have_vips" ] && awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}' || echo "-"; }
  row() { printf '%-36s %12s %10s %12s %10s %10s\n' "$1" "$2" "$3" "$4" "$(ratio "$2" "$V_MS")" "$(ratio "$3" "$V_CPU")"; }
  row "picday (${FEATURES:-default build})" "$P_MS" "$P_CPU" "$P_RSS"
  [ -n "$have_vips" ] && row "vipsthumbnail $(vipsthumbnail --version | awk '{print $1}' | sed 's/vips-//')" "$V_MS" "$V_CPU" "$V_RSS"
  if [ -n "$IM" ]; then read -r M_MS M_CPU M_RSS <<<"$(stat "$dir/magick.txt")"; row "ImageMagick (jpeg:size 2x)" "$M_MS" "$M_CPU" "$M_RSS"; fi
  echo "all ${#FILES[@]} photos in one process per tool (per photo, median of $ROUNDS rounds):"
  read -r PB_MS PB_CPU PB_RSS <<<"$(stat "$dir/picday-batch.txt" "${#FILES[@]}")"
  if [ -n "$have_vips" ]; then read -r V_MS V_CPU V_RSS <<<"$(stat "$dir/vips-batch.txt" "${#FILES[@]}")"; fi
  row "picday, one process" "$PB_MS" "$PB_CPU" "$PB_RSS"
  [ -n "$have_vips" ] && row "vipsthumbnail, one process" "$V_MS" "$V_CPU" "$V_RSS"
  echo "picday's own timing of a batch (no process start): $batch"
done

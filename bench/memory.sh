#!/usr/bin/env bash
# Peak memory (RSS) of whole `picday push` runs, for issue 24 item 9: the bundled demo (13
# photos, one of them 24 MP), a 60-person push cycling through the test portraits, and a push
# with two 10000x10000 RGBA PNGs (389 KB each, under the pixel limit: decompression bombs that
# took 1.07 GB each before the memory budget). Prints seconds, peak RSS and the exit code.
#
#   bench/memory.sh
#   WORKERS=4 bench/memory.sh      # [run] workers for every run (default: one per core)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-${TMPDIR:-/tmp}/picday-memory-bench}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
# PROFILE=dev uses the test build (picday-core and dependencies are optimised there too).
PROFILE=${PROFILE:-release}
WORKERS=${WORKERS:-0}

cargo build --quiet --profile "$PROFILE" -p picday
BIN="$(pwd)/$TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/picday"
rm -rf "$WORK" && mkdir -p "$WORK"
PORTRAITS="$(pwd)/tests/fixtures/portraits"

# A config pushing `$1`'s mapping to two folders (the demo's two shapes).
config() {
  cat > "$1/picday.toml" <<TOML
[source]
mapping = "photos.csv"

[run]
workers = $WORKERS

[targets.directory]
type = "folder"
dir = "out/directory"
file_name = "{mail}.jpg"
size = 648

[targets.yearbook]
type = "folder"
dir = "out/yearbook"
file_name = "{student_id}.jpg"
width = 240
height = 300
TOML
}

mkdir -p "$WORK/demo" "$WORK/sixty" "$WORK/bombs"
cp examples/demo/photos.csv "$WORK/demo/"
sed -i "s#\.\./\.\./tests/fixtures/portraits#$PORTRAITS#" "$WORK/demo/photos.csv"
config "$WORK/demo"

python3 - "$PORTRAITS" "$WORK/sixty/photos.csv" <<'PY'
import os, sys
portraits, out = sys.argv[1], sys.argv[2]
good = sorted(f for f in os.listdir(portraits)
              if f.endswith((".jpg", ".png")) and f[:2] not in ("06", "07"))
with open(out, "w") as f:
    f.write("path,mail,student_id\n")
    for i in range(60):
        f.write(f"{portraits}/{good[i % len(good)]},s{i}@school.example,{900000 + i}\n")
PY
config "$WORK/sixty"

python3 - "$WORK/bombs" <<'PY'
import struct, sys, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
w = h = 10000
row = b"\0" + b"\xff" * (w * 4)
z = zlib.compressobj(9)
idat = b"".join(z.compress(row) for _ in range(h)) + z.flush()
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)) \
    + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
out = sys.argv[1]
with open(f"{out}/photos.csv", "w") as f:
    f.write("path,mail,student_id\n")
    for i in range(2):
        open(f"{out}/bomb{i}.png", "wb").write(png)
        f.write(f"bomb{i}.png,b{i}@school.example,80000{i}\n")
print(f"bomb PNG: {len(png)} bytes", file=sys.stderr)
PY
config "$WORK/bombs"

printf "%-8s %8s %9s %5s\n" run seconds rss_mb exit
for run in demo sixty bombs; do
  python3 - "$run" "$BIN" "$WORK/$run/picday.toml" <<'PY'
import resource, subprocess, sys, time
run, binary, config = sys.argv[1:4]
t0 = time.perf_counter()
# The sixty cycle through the portraits and the two bombs are one file twice: not placeholders.
p = subprocess.run([binary, "push", "--allow-shared-photos", "--config", config],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{run:<8} {t:8.2f} {rss:9.0f} {p.returncode:5d}")
PY
done

#!/usr/bin/env bash
# How long `picday check --no-photos` takes to load a mapping of N rows, for several N: the
# load must grow linearly (issue 24 item 11: it was quadratic, 166 s for 100,000 rows). Every
# row names the same small photo file, so the figures measure reading, not the disk. Prints
# rows, seconds, microseconds per row and peak RSS.
#
#   bench/mapping.sh                      # 25k 100k 1M rows
#   SIZES="50000 200000" bench/mapping.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-25000 100000 1000000}
WORK=${WORK:-${TMPDIR:-/tmp}/picday-mapping-bench}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
# PROFILE=dev uses the test build (picday-core and dependencies are optimised there too).
PROFILE=${PROFILE:-release}

cargo build --quiet --profile "$PROFILE" -p picday
BIN="$TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/picday"
mkdir -p "$WORK"
cp tests/fixtures/portraits/0100200.jpg "$WORK/a.jpg"
cat > "$WORK/picday.toml" <<'TOML'
[source]
mapping = "photos.csv"

[targets.directory]
type = "folder"
dir = "out"
file_name = "{mail}.jpg"
TOML

printf "%10s %9s %9s %9s\n" rows seconds us/row rss_mb
for n in $SIZES; do
  python3 - "$n" "$WORK/photos.csv" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w", newline="") as f:
    f.write("path,mail,first_name,last_name,grade\r\n")
    for i in range(n):
        f.write(f"a.jpg,student{i:07d}@school.example,Student{i},\"Example, Jr\",{9 + i % 4}\r\n")
PY
  python3 - "$n" "$BIN" "$WORK/picday.toml" <<'PY'
import os, subprocess, sys, time, resource
n, binary, config = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = time.perf_counter()
p = subprocess.run([binary, "check", "--no-photos", "--config", config],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(f"{n:10d} {t:9.2f} {t / n * 1e6:9.2f} {rss:9.0f}   (exit {p.returncode})")
PY
done

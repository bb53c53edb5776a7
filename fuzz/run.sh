#!/usr/bin/env bash
# Runs the `decode` fuzz target (libFuzzer, coverage-guided) for a while. CI runs it for a minute;
# run it longer by hand after touching the pipeline:
#
#   fuzz/run.sh                 # 60 s
#   FUZZ_SECONDS=600 fuzz/run.sh
#
# With a nightly toolchain and cargo-fuzz installed, `cargo +nightly fuzz run decode` does the
# same with AddressSanitizer on top. This script needs only the stable toolchain: it builds the
# target with the same SanitizerCoverage instrumentation cargo-fuzz uses (all stable `-C` flags)
# and no sanitizer, which finds panics, aborts, hangs and runaway allocations. libfuzzer-sys
# turns a panic into an abort, so a panic that the pipeline's `catch_unwind` would recover from
# in production is still reported here.
#
# The committed seeds in fuzz/corpus/decode are never modified: new inputs go to a scratch
# corpus, and a crashing input is written to fuzz/artifacts/decode/ with the command to replay it.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
. ./flags.sh
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-target}
echo "== building the decode fuzz target ($host, stable, no sanitizer)"
cargo build --quiet --release --target "$host" --bin decode
bin="$CARGO_TARGET_DIR/$host/release/decode"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/corpus" artifacts/decode
echo "== fuzzing for ${FUZZ_SECONDS}s from $(ls corpus/decode | wc -l) seeds"
# -rss_limit_mb: the target caps images at 4 MP, so anything near this is a runaway allocation.
# -timeout: one input taking over 10 s is a hang.
status=0
"$bin" "$scratch/corpus" corpus/decode \
  -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=1024 -timeout=10 \
  -artifact_prefix=artifacts/decode/ -print_final_stats=1 >"$scratch/log" 2>&1 || status=$?
# The summary, not the thousands of "NEW" lines.
grep -Ev '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$scratch/log" | tail -n 40
if [ "$status" -ne 0 ]; then
  echo "fuzz: the decode target failed (exit $status); the input is in fuzz/artifacts/decode/"
  echo "      replay it with: fuzz/$bin fuzz/artifacts/decode/<file>"
  exit 1
fi
echo "fuzz: no crash in ${FUZZ_SECONDS}s"

#!/usr/bin/env bash
# The fuzz campaign of picday's copy of jpeg-decoder (vendor/jpeg-decoder): the differential
# target (fuzz/differential) at each DCT scale, 1/8, 1/4, 1/2 and 1/1, coverage-guided, every
# input decoded by the copy and by the published 0.3.2 and their pixels compared. Its figures
# go in vendor/jpeg-decoder/PICDAY.md. Not part of CI (CI runs fuzz/run.sh for a minute).
#
#   fuzz/campaign.sh                          # 30 minutes per scale, one scale at a time
#   CAMPAIGN_SECONDS=60 PARALLEL=2 fuzz/campaign.sh
#   SCALES="4 8" fuzz/campaign.sh
#
# Each scale grows its own corpus under fuzz/differential/target/campaign/<scale>/ from the
# seeds of fuzz/corpus/decode (fuzz/seeds.sh), which are never modified; a failing input is
# written to fuzz/artifacts/differential-<scale>/. The summary of each run, with libFuzzer's
# figures and the count of each outcome, is in fuzz/differential/target/campaign/<scale>.log.
set -euo pipefail
cd "$(dirname "$0")"
CAMPAIGN_SECONDS=${CAMPAIGN_SECONDS:-1800}
PARALLEL=${PARALLEL:-1}
SCALES=${SCALES:-"8 4 2 1"}
. ./flags.sh
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$PWD/differential/target}
echo "== building the differential fuzz target ($host, stable, no sanitizer)"
(cd differential && cargo build --quiet --release --target "$host" --bin jpeg_differential)
bin="$CARGO_TARGET_DIR/$host/release/jpeg_differential"
runs="$CARGO_TARGET_DIR/campaign"
mkdir -p "$runs"

one() {
  local scale=$1
  mkdir -p "$runs/$scale" "artifacts/differential-$scale"
  local status=0
  PICDAY_FUZZ_SCALE=$scale "$bin" "$runs/$scale" corpus/decode \
    -max_total_time="$CAMPAIGN_SECONDS" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="artifacts/differential-$scale/" -print_final_stats=1 \
    >"$runs/$scale.full.log" 2>&1 || status=$?
  grep -Ev '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$runs/$scale.full.log" | tail -n 40 >"$runs/$scale.log"
  echo "exit $status" >>"$runs/$scale.log"
  echo "== 1/$scale: exit $status"
  cat "$runs/$scale.log"
  return "$status"
}

failed=0
running=0
for scale in $SCALES; do
  one "$scale" &
  running=$((running + 1))
  if [ "$running" -ge "$PARALLEL" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
if [ "$failed" -ne 0 ]; then
  echo "campaign: a scale failed; the input is in fuzz/artifacts/differential-<scale>/"
  echo "          replay it with: PICDAY_FUZZ_SCALE=<scale> $bin <file>"
  exit 1
fi
echo "campaign: no difference and no crash at scales $SCALES (${CAMPAIGN_SECONDS}s each)"

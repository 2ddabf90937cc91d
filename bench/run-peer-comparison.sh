#!/usr/bin/env bash
# Runs our throughput scenario and the original Zart (crates.io zart 0.2.0, built from
# bench/peer-zart02) on the same PostgreSQL, one after the other in one run, with the
# same number of executions of the same 3-step no-op workflow, and prints both
# executions/s and the ratio as one JSON object (progress on stderr).
#
#   bench/run-peer-comparison.sh [EXECUTIONS] [POSTGRES_URL]
#
# Environment: CARGO_TARGET_DIR (our build), PEER_TARGET_DIR (the peer's build,
# default bench/peer-zart02/target), PEER_ARGS (extra flags for the peer, e.g.
# "--poll-ms 1 --batch 128 --concurrency 128"), ROUNDS (default 1: each engine runs
# ROUNDS times, alternating, and the best round of each is reported).
set -euo pipefail
cd "$(dirname "$0")/.."

executions="${1:-2000}"
url="${2:-postgres://postgres@127.0.0.1:5432/test}"
rounds="${ROUNDS:-1}"
ours_target="${CARGO_TARGET_DIR:-target}"
peer_target="${PEER_TARGET_DIR:-bench/peer-zart02/target}"

command -v jq >/dev/null || { echo "jq is required" >&2; exit 1; }

echo "== building zart-bench and peer-zart02 (release)" >&2
cargo build --release -q -p zart-bench
CARGO_TARGET_DIR="$peer_target" cargo build --release -q --manifest-path bench/peer-zart02/Cargo.toml

best_ours=""
best_peer=""
for round in $(seq 1 "$rounds"); do
    echo "== round $round/$rounds: ours" >&2
    ours=$("$ours_target/release/zart-bench" --backend postgres --db "$url" \
        --executions "$executions" --concurrency 64 --json)
    echo "== round $round/$rounds: zart 0.2.0" >&2
    # shellcheck disable=SC2086
    peer=$("$peer_target/release/peer-zart02" --db "$url" --executions "$executions" \
        --json ${PEER_ARGS:-})
    best_ours=$(jq -n --argjson a "${best_ours:-null}" --argjson b "$ours" \
        'if $a == null or $b.executions_per_sec > $a.executions_per_sec then $b else $a end')
    best_peer=$(jq -n --argjson a "${best_peer:-null}" --argjson b "$peer" \
        'if $a == null or $b.executions_per_sec > $a.executions_per_sec then $b else $a end')
done

jq -n --argjson ours "$best_ours" --argjson peer "$best_peer" '{
    executions: $ours.executions,
    steps_per_execution: $ours.steps_per_execution,
    ours_executions_per_sec: $ours.executions_per_sec,
    peer_executions_per_sec: $peer.executions_per_sec,
    ratio: ($ours.executions_per_sec / $peer.executions_per_sec),
    ours: $ours,
    peer: $peer
}'

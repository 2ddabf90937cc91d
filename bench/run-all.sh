#!/usr/bin/env bash
# Runs every scenario on both backends at the issue's sizes (http also with 64
# clients; scaleout on PostgreSQL), then the peer comparison,
# and writes one JSON object per run (one per line) to OUT (default
# bench/results/latest.jsonl), with the machine description first. Progress goes to
# stderr.
#
#   bench/run-all.sh [OUT] [POSTGRES_URL]
#
# Environment: CARGO_TARGET_DIR, PEER_TARGET_DIR (as for run-peer-comparison.sh),
# QUICK=1 for small sizes (a smoke run of everything in about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-bench/results/latest.jsonl}"
mkdir -p "$(dirname "$out")"
url="${2:-postgres://postgres@127.0.0.1:5432/test}"
target="${CARGO_TARGET_DIR:-target}"
bench="$target/release/zart-bench"

if [ "${QUICK:-0}" = 1 ]; then
    throughput=(--executions 1000) suspended=(--executions 2000) samples=(--samples 50)
    http_concurrent=(--samples 500)
    peer_executions=500
else
    throughput=() suspended=() samples=() http_concurrent=()
    peer_executions=10000
fi

cargo build --release -q -p zart-bench
jq -nc --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    --arg cpu "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')" \
    --arg cores "$(nproc)" --arg kernel "$(uname -r)" \
    --arg postgres "$(psql "$url" -Atc 'show server_version' 2>/dev/null || echo unknown)" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    '{machine: {date: $date, cpu: $cpu, cores: ($cores | tonumber), kernel: $kernel,
      postgres: $postgres, loadavg_at_start: $load, commit: $commit}}' >"$out"

for backend in sqlite postgres; do
    db=()
    [ "$backend" = postgres ] && db=(--db "$url")
    for scenario in throughput latency suspended http; do
        extra=()
        case "$scenario" in
            throughput) extra=("${throughput[@]}") ;;
            latency | http) extra=("${samples[@]}") ;;
            suspended) extra=("${suspended[@]}") ;;
        esac
        echo "== $backend $scenario" >&2
        "$bench" --backend "$backend" "${db[@]}" --scenario "$scenario" "${extra[@]}" --json \
            | jq -c --arg scenario "$scenario" '. + {scenario: $scenario}' >>"$out"
    done
    echo "== $backend http, 64 clients" >&2
    "$bench" --backend "$backend" "${db[@]}" --scenario http --http-clients 64 "${http_concurrent[@]}" --json \
        | jq -c '. + {scenario: "http-64"}' >>"$out"
done

echo "== postgres scaleout" >&2
"$bench" --backend postgres --db "$url" --scenario scaleout "${throughput[@]}" --json \
    | jq -c '. + {scenario: "scaleout"}' >>"$out"

echo "== peer comparison" >&2
bench/run-peer-comparison.sh "$peer_executions" "$url" \
    | jq -c '{scenario: "peer", executions, ours_executions_per_sec, peer_executions_per_sec, ratio, peer_config: {poll_ms: .peer.poll_ms, batch: .peer.batch, concurrency: .peer.concurrency, pool_size: .peer.pool_size}}' >>"$out"
jq -nc --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '{loadavg_at_end: $load}' >>"$out"
echo "results in $out" >&2

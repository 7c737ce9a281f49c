#!/bin/sh
# Runs the proxy benchmark (benches/proxy.rs): builds the release `lunaroute-server` and the bench,
# runs about a minute of load against 127.0.0.1 only, prints the table and writes
# target/bench-proxy.json. Extra arguments go to cargo, e.g. `benches/run.sh --no-default-features`
# to measure the slim build. Figures are proxied-vs-direct from one run; on a busy machine the p99s
# mostly measure the scheduler, so compare ratios across runs, not absolute microseconds.
set -eu
cd "$(dirname "$0")/.."
exec cargo bench --bench proxy "$@"

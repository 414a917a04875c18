#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md and prints the figures:
#   1. goodput of put/get against the line rate, in simulated time
#   2. tokenizer instructions per byte (callgrind), ours and atat's
#   3. the driver's flash / RAM / stack share in the QEMU firmware image
# Needs valgrind and qemu-system-arm (Debian packages) for 2 and 3.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== goodput (simulated time)"
cargo run --quiet --release -p quectel-ftp-goodput
echo
echo "== tokenizer cost (callgrind, instructions per input byte)"
bash benches/parser.sh
echo
bash benches/size-report.sh

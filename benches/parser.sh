#!/usr/bin/env bash
# Instructions per input byte of the tokenizer (callgrind: repeatable on a
# noisy machine). Prints one line per mode.
set -euo pipefail
cd "$(dirname "$0")/parser"
cargo build --release --quiet
bin=target/release/quectel-ftp-parser-bench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for mode in at atat exact confirmed confirmed-hostile; do
  out=$(valgrind --tool=callgrind --callgrind-out-file="$tmp/$mode.out" \
        --toggle-collect='quectel_ftp_parser_bench::process*' "$bin" "$mode" 2>/dev/null)
  bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$out")
  ir=$(grep -E '^(summary|totals):' "$tmp/$mode.out" | head -1 | awk '{print $2}')
  awk -v m="$mode" -v ir="$ir" -v b="$bytes" \
    'BEGIN { printf "tokenizer %-17s %9d bytes %11d instructions %6.2f instructions/byte\n", m, b, ir, ir / b }'
done

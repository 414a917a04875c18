#!/usr/bin/env bash
# The driver's footprint in a firmware image that calls every client
# operation (examples/qemu-mps2, opt-level "s", LTO, thumbv7em-none-eabihf):
# flash (.text + .rodata) and static RAM (.data + .bss) of the image with the
# driver and of the same image built with `--features no-driver` (the same
# non-driver work: UART, timers, generator, CRC), the difference being the
# driver's share; then the peak stack, measured in QEMU by stack painting.
#
#   benches/size-report.sh [--no-run]      (--no-run: sizes only, no QEMU)
#
# Needs the thumbv7em-none-eabihf target, binutils' `size` and `nm`, and for
# the stack figures qemu-system-arm (see examples/qemu-mps2/run.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fw="$root/examples/qemu-mps2"
run=1
[[ ${1:-} == --no-run ]] && run=0

(cd "$fw" && cargo build --quiet --release)
(cd "$fw" && cargo build --quiet --release --features no-driver --target-dir target/no-driver)
with="$fw/target/thumbv7em-none-eabihf/release/qemu-mps2"
without="$fw/target/no-driver/thumbv7em-none-eabihf/release/qemu-mps2"

# section sizes: "<flash> <ram>"
sizes() {
    size -A "$1" | awk '$1 == ".text" || $1 == ".rodata" { f += $2 } $1 == ".data" || $1 == ".bss" { r += $2 }
        END { print f, r }'
}
read -r flash_with ram_with < <(sizes "$with")
read -r flash_without ram_without < <(sizes "$without")

kib() { awk -v b="$1" 'BEGIN { printf "%6d B (%5.1f KiB)", b, b / 1024 }'; }
echo "== quectel-ftp size report (mps2-an386 image, opt-level s, LTO)"
printf '%-28s flash %s   RAM %s\n' "with the driver" "$(kib "$flash_with")" "$(kib "$ram_with")"
printf '%-28s flash %s   RAM %s\n' "without (--features no-driver)" "$(kib "$flash_without")" "$(kib "$ram_without")"
printf '%-28s flash %s   RAM %s\n' "driver's share" "$(kib $((flash_with - flash_without)))" \
    "$(kib $((ram_with - ram_without)))"
echo "(both images hold the same chunk buffer, BUF_LEN in examples/qemu-mps2/src/main.rs, in .bss)"
echo "targets: driver flash <= 16 KiB, driver static RAM <= 1 KiB beyond the chunk buffer, peak stack <= 4 KiB"

echo
echo "== largest symbols with the driver (nm --size-sort)"
nm -C --size-sort -S "$with" | tail -n 15 |
    while read -r _addr size kind name; do printf '%6d %s %s\n' "$((16#$size))" "$kind" "${name:0:110}"; done

if [[ $run == 1 ]]; then
    echo
    echo "== peak stack (painted, measured after the session, reported over semihosting)"
    log=$("$fw/run.sh" 2>&1) || { echo "$log"; echo "size-report: the QEMU session failed" >&2; exit 1; }
    grep -E 'session ok' <<<"$log"
    echo "with the driver:    $(grep -o 'peak stack: .*' <<<"$log")"
    base=$(timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial null \
        -semihosting-config enable=on,target=native,arg=127.0.0.1,arg=21 -kernel "$without" | grep -o 'peak stack: .*')
    echo "without the driver: $base"
fi

#!/usr/bin/env bash
# Runs the firmware image on QEMU's mps2-an386 against the simulated modem:
# builds qftp-sim and the image, starts the simulator (with its FTP server)
# on a free loopback port, wires QEMU's UART0 to it and exits with QEMU's
# status (0 only if the whole session and the CRC check passed).
#
#   examples/qemu-mps2/run.sh [--release-sim] [-- extra cargo args for the image]
#
# Needs qemu-system-arm and the thumbv7em-none-eabihf rustup target; installs
# nothing. QEMU_TIMEOUT (default 300 s) bounds the emulation. IMAGE_TARGET_DIR
# (default examples/qemu-mps2/target) is the image's cargo target directory,
# e.g. for another build of it:
#   IMAGE_TARGET_DIR=$PWD/examples/qemu-mps2/target/variants \
#       examples/qemu-mps2/run.sh -- --features upload-only
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sim_profile=dev sim_dir=debug
if [[ ${1:-} == --release-sim ]]; then sim_profile=release sim_dir=release; shift; fi
[[ ${1:-} == -- ]] && shift

command -v qemu-system-arm >/dev/null || { echo "run.sh: qemu-system-arm not found" >&2; exit 2; }

echo "run.sh: building qftp-sim and the image" >&2
(cd "$root" && cargo build --quiet --profile "$sim_profile" -p quectel-ftp-sim --bin qftp-sim)
image_dir=$(realpath -m "${IMAGE_TARGET_DIR:-$here/target}")
(cd "$here" && cargo build --quiet --release --target-dir "$image_dir" "$@")
sim="$root/target/$sim_dir/qftp-sim"
elf="$image_dir/thumbv7em-none-eabihf/release/qemu-mps2"

work=$(mktemp -d)
sim_pid=
cleanup() {
    if [[ -n $sim_pid ]]; then
        kill "$sim_pid" 2>/dev/null || true
        wait "$sim_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Port 0: the simulator binds a free port and prints the address on stdout;
# its FTP server's port goes to stderr.
"$sim" --tcp 127.0.0.1:0 --with-server >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 100); do
    [[ -s $work/sim.out ]] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$work/sim.err" >&2; echo "run.sh: simulator died" >&2; exit 2; }
    sleep 0.1
done
modem=$(head -n1 "$work/sim.out")
ftp_port=$(sed -n 's/.*FTP server on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/sim.err")
[[ -n $modem && -n $ftp_port ]] || { cat "$work/sim.err" >&2; echo "run.sh: simulator did not start" >&2; exit 2; }
echo "run.sh: modem on $modem, FTP server on 127.0.0.1:$ftp_port" >&2

status=0
timeout "${QEMU_TIMEOUT:-300}" qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config "enable=on,target=native,arg=127.0.0.1,arg=$ftp_port" \
    -serial "tcp:$modem" -kernel "$elf" || status=$?
if [[ $status -eq 124 ]]; then
    echo "run.sh: QEMU timed out" >&2
fi
if [[ $status -ne 0 ]]; then
    echo "run.sh: simulator log:" >&2
    tail -n 20 "$work/sim.err" >&2
fi
exit "$status"

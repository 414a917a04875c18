#!/usr/bin/env bash
# The driver's footprint in firmware images (examples/qemu-mps2, opt-level
# "z", LTO, thumbv7em-none-eabihf), and the size gates of the "client
# redesign" issue.
#
# Two images, each against a baseline built with `--features no-driver` that
# does the same non-driver work (UART, timers, generator, CRC) without the
# driver; the difference is the driver's share of flash (.text + .rodata) and
# static RAM (.data + .bss; the chunk buffer is in both images, so the RAM
# share is what the driver needs beyond it):
#   every operation  the session calls every client operation
#                    (ftp_session::run)
#   upload only      `--features upload-only`: init, activate, configure,
#                    open, put, close (ftp_session::upload). A firmware links
#                    only what it calls: the report lists the driver
#                    functions (out of line or inlined, from the DWARF) the
#                    upload-only image does not link, and any download,
#                    listing or answer-parsing function it does.
# Then the peak stack of each session, measured in QEMU by stack painting
# (the whole image's stack: the firmware's own frames included).
#
# Gates (one `gate: ...` line each; with --check a failed gate exits 1):
#   every-operation driver flash      <= 32 KiB (32768 B); aim: <= 28 KiB
#   driver static RAM beyond the chunk buffer <= 1 KiB (1024 B)
#   peak stack of each session run    <= 4 KiB (4096 B)
#   the upload-only image links no download, listing or answer function
#   it never uses (0 of them)
#
#   benches/size-report.sh [--check] [--no-run] [--session-log FILE]
#     --check             exit 1 if a gate fails
#     --no-run            sizes only, no QEMU (the stack gate is skipped)
#     --session-log FILE  the output of `examples/qemu-mps2/run.sh` (the
#                         every-operation session) already run on this build:
#                         its peak stack is taken from there, not run again
#
# Needs the thumbv7em-none-eabihf target, binutils (size, nm, readelf,
# c++filt), and for the stack figures qemu-system-arm (see
# examples/qemu-mps2/run.sh).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
fw="$root/examples/qemu-mps2"
run=1 check=0 session_log=
while (($#)); do
    case $1 in
        --no-run) run=0 ;;
        --check) check=1 ;;
        --session-log)
            session_log=$(realpath "${2:?size-report: --session-log needs a file}")
            shift
            ;;
        *) echo "usage: benches/size-report.sh [--check] [--no-run] [--session-log FILE]" >&2; exit 2 ;;
    esac
    shift
done

FLASH_MAX=32768 FLASH_AIM=28672 RAM_MAX=1024 STACK_MAX=4096
# Driver functions of downloads, listings and answers an upload never reads
# (AT+QFTPGET, LIST/NLST/MLSD, MDTM, SIZE, PWD, STAT, setting queries): a
# word of the function's path.
UNUSED='(^|[:<_ ])(qftp)?(get|fetch|download|list|Listing|nlst|mlsd|mdtm|size|pwd|stat|setting|cfg_query)([:_>( ]|$)'

# Builds the image with the given features; prints the ELF's path. The
# every-operation image keeps the default target directory (the one run.sh
# builds in); the others share target/variants, so each is copied out.
out="$fw/target/size-report"
mkdir -p "$out"
build() {
    local name=$1 features=$2
    if [[ -z $features ]]; then
        (cd "$fw" && cargo build --quiet --release) >&2
        echo "$fw/target/thumbv7em-none-eabihf/release/qemu-mps2"
    else
        (cd "$fw" && cargo build --quiet --release --features "$features" --target-dir target/variants) >&2
        cp "$fw/target/variants/thumbv7em-none-eabihf/release/qemu-mps2" "$out/$name.elf"
        echo "$out/$name.elf"
    fi
}
all=$(build every "")
all_base=$(build every-no-driver no-driver)
up_base=$(build upload-no-driver upload-only,no-driver)
up=$(build upload upload-only) # last: run.sh's build of it in target/variants is then fresh

# section sizes: "<flash> <ram>"
sizes() {
    size -A "$1" | awk '$1 == ".text" || $1 == ".rodata" { f += $2 } $1 == ".data" || $1 == ".bss" { r += $2 }
        END { print f, r }'
}
kib() { awk -v b="$1" 'BEGIN { printf "%6d B (%5.1f KiB)", b, b / 1024 }'; }
row() { printf '  %-42s flash %s   RAM %s\n' "$1" "$(kib "$2")" "$(kib "$3")"; }
# report <title> <image> <baseline> <baseline's label>; sets share_flash, share_ram
report() {
    local fw_flash fw_ram base_flash base_ram
    read -r fw_flash fw_ram < <(sizes "$2")
    read -r base_flash base_ram < <(sizes "$3")
    share_flash=$((fw_flash - base_flash)) share_ram=$((fw_ram - base_ram))
    echo "$1"
    row "with the driver" "$fw_flash" "$fw_ram"
    row "without ($4)" "$base_flash" "$base_ram"
    row "driver's share" "$share_flash" "$share_ram"
}

echo "== quectel-ftp size report (mps2-an386 image, opt-level z, LTO)"
report "every operation (ftp_session::run)" "$all" "$all_base" "--features no-driver"
all_flash=$share_flash all_ram=$share_ram
report "upload only (--features upload-only: init, activate, configure, open, put, close)" \
    "$up" "$up_base" "--features upload-only,no-driver"
up_flash=$share_flash up_ram=$share_ram
echo "(every image holds the same chunk buffer, BUF_LEN in examples/qemu-mps2/src/main.rs, in .bss)"

# The driver's functions that have code in an image, out of line or inlined
# (LTO inlines most of them, so `nm` alone misses them): every DWARF
# subprogram or inlined subroutine with an address, by its linkage name,
# demangled, without the hash; one a line.
driver_functions() {
    readelf --debug-dump=info "$1" | awk '
        function flush() {
            if (tag == "DW_TAG_subprogram") { link[off] = lname; plain[off] = path name; from[off] = origin }
            if ((tag == "DW_TAG_subprogram" || tag == "DW_TAG_inlined_subroutine") && code)
                used[off] = (origin != "" ? origin : off)
            if (tag == "DW_TAG_namespace" || tag == "DW_TAG_structure_type" || tag == "DW_TAG_enumeration_type")
                ns[depth] = name
        }
        /^ *<[0-9]+><[0-9a-f]+>: Abbrev Number/ {
            flush()
            match($0, /<[0-9]+>/); depth = substr($0, RSTART + 1, RLENGTH - 2) + 0
            rest = substr($0, RSTART + RLENGTH)
            match(rest, /<[0-9a-f]+>/); off = substr(rest, RSTART + 1, RLENGTH - 2)
            tag = ""; if (match($0, /\(DW_TAG_[a-z_]+\)/)) tag = substr($0, RSTART + 1, RLENGTH - 2)
            name = ""; lname = ""; origin = ""; code = 0
            path = ""; for (i = 1; i < depth; i++) if (ns[i] != "") path = path ns[i] "::"
            next
        }
        /DW_AT_name/ { name = $NF }
        /DW_AT_linkage_name/ { lname = $NF }
        /DW_AT_abstract_origin|DW_AT_specification/ {
            if (match($0, /<0x[0-9a-f]+>/)) origin = substr($0, RSTART + 3, RLENGTH - 4)
        }
        /DW_AT_low_pc|DW_AT_ranges/ { code = 1 }
        END {
            flush()
            for (u in used) {
                o = used[u]
                for (k = 0; k < 16 && link[o] == "" && from[o] != ""; k++) o = from[o]
                print (link[o] != "" ? link[o] : plain[o])
            }
        }' | c++filt | sed 's/::h[0-9a-f]\{16\}$//' | grep 'quectel_ftp::' | sort -u || true
}
driver_functions "$all" >"$out/every.fns"
driver_functions "$up" >"$out/upload.fns"
unused=$(grep -E "$UNUSED" "$out/upload.fns" || true)
unused_all=$(grep -Ec "$UNUSED" "$out/every.fns" || true)

echo
echo "== what the upload-only image links of the driver (functions with code, inlined or not: DWARF)"
echo "driver functions: every operation $(wc -l <"$out/every.fns"), upload only $(wc -l <"$out/upload.fns")"
echo "in the every-operation image, not in the upload-only image:"
comm -23 "$out/every.fns" "$out/upload.fns" | sed 's/^/  /'
echo "in the upload-only image whose name is a download, listing or answer it never reads" \
    "($unused_all such in the every-operation image):"
if [[ -n $unused ]]; then sed 's/^/  /' <<<"$unused"; else echo "  none"; fi

echo
echo "== largest symbols, every-operation image (nm --size-sort)"
nm -C --size-sort -S "$all" | tail -n 15 |
    while read -r _addr size kind name; do printf '%6d %s %s\n' "$((16#$size))" "$kind" "${name:0:110}"; done

# peak stack of a QEMU log ("peak stack: N bytes"), empty if none
peak() { sed -n 's/.*peak stack: \([0-9]*\) bytes.*/\1/p' <<<"$1" | tail -n1; }
# the baseline's stack: no modem, no server needed
baseline_stack() {
    timeout 60 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial null \
        -semihosting-config enable=on,target=native,arg=127.0.0.1,arg=21 -kernel "$1" 2>&1 || true
}
all_stack= up_stack=
if [[ -n $session_log || $run == 1 ]]; then
    echo
    echo "== peak stack (painted, measured after the session, reported over semihosting)"
    if [[ -n $session_log ]]; then
        log=$(<"$session_log")
        echo "every operation: from $session_log"
    else
        log=$("$fw/run.sh" 2>&1) || { echo "$log"; echo "size-report: the QEMU session failed" >&2; exit 1; }
    fi
    grep -q 'session ok' <<<"$log" || { echo "$log"; echo "size-report: the every-operation session did not pass" >&2; exit 1; }
    all_stack=$(peak "$log")
    printf '  %-36s %s\n' "every operation, with the driver:" "$(grep -m1 -o 'session ok.*' <<<"$log"); peak stack ${all_stack:-?} B"
    if [[ $run == 1 ]]; then
        log=$(IMAGE_TARGET_DIR="$fw/target/variants" "$fw/run.sh" -- --features upload-only 2>&1) ||
            { echo "$log"; echo "size-report: the upload-only QEMU session failed" >&2; exit 1; }
        up_stack=$(peak "$log")
        printf '  %-36s %s\n' "upload only, with the driver:" "$(grep -m1 -o 'session ok.*' <<<"$log"); peak stack ${up_stack:-?} B"
        printf '  %-36s peak stack %s B\n' "every operation, without:" "$(peak "$(baseline_stack "$all_base")")"
        printf '  %-36s peak stack %s B\n' "upload only, without:" "$(peak "$(baseline_stack "$up_base")")"
    fi
fi

echo
echo "== gates (client redesign)"
failed=0
gate() { # gate <what> <value> <limit>
    if [[ -z $2 ]]; then
        echo "gate: $1 not measured FAIL"
        failed=1
    elif (($2 <= $3)); then
        echo "gate: $1 $2 <= $3 ok"
    else
        echo "gate: $1 $2 > $3 FAIL"
        failed=1
    fi
}
gate "flash" "$all_flash" "$FLASH_MAX"
gate "ram" "$all_ram" "$RAM_MAX"
if [[ -n $session_log || $run == 1 ]]; then
    gate "stack" "$all_stack" "$STACK_MAX"
    if [[ $run == 1 ]]; then gate "stack upload-only" "$up_stack" "$STACK_MAX"; fi
else
    echo "gate: stack skipped (--no-run)"
fi
if ((all_flash <= FLASH_AIM)); then aim=met; else aim="not met"; fi
echo "aim: flash $all_flash <= $FLASH_AIM $aim"
unused_up=$(grep -c . <<<"$unused" || true)
gate "upload-only links of downloads, listings, answers" "$unused_up" 0
echo "upload-only: flash $up_flash ram $up_ram, download/listing/answer functions $unused_up" \
    "(every operation: $unused_all)"
if ((failed)); then
    echo "size-report: a gate failed" >&2
    ((check)) && exit 1
fi
exit 0

#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/numa-vm.sh - NUMA placement on real multi-node kernels: boots Debian's own kernel under
# QEMU with several NUMA topologies and runs, inside each guest, the NUMA tests, the NUMA stress
# program and the placement checker (tools/numa_vm/placement_check.c); then prints the
# placement table, writes it as JSON and checks the gates (tools/numa_vm/report.py).
#
# Why a VM and not synthetic topologies: hwloc's synthetic topologies describe CPUs and nodes,
# but the kernel still has one node, so binding, spilling, exhaustion and memory-less nodes
# never happen. A guest kernel with `-numa node,...` has real per-node page allocators, so
# where a page lands is decided by the same code as on a big machine. The guest is as small as
# possible (busybox, our binaries, the shared libraries they need, and an /init that runs the
# suite and powers off), so that a run costs tens of seconds even without KVM.
#
# Usage: tools/numa-vm.sh [TOPOLOGY...]     (default: all of them; see `topologies` below)
# Environment: NUMA_VM_ACCEL=kvm|tcg (skip the probe), NUMA_VM_TIMEOUT (s per guest, 240).
# Time: 15-90 s per guest under TCG on the 2-core build machine, depending on its load.
# Output: build/numa-vm/<topology>.log (serial console), build/numa-vm/placement.json,
# the table and one PASS/FAIL line per gate on stdout; exit status 0 iff every gate passed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"
OUT="$ROOT/build/numa-vm"
mkdir -p "$OUT"
TIMEOUT="${NUMA_VM_TIMEOUT:-240}"

log() { echo "numa-vm: $*" >&2; }

# ---- host tools ------------------------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[[ -x /bin/busybox ]] || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
if ((${#need[@]})); then
  log "installing ${need[*]}"
  SUDO=()
  ((EUID == 0)) || SUDO=(sudo)
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need[@]}" >/dev/null
fi
if ! { ldd /bin/busybox 2>&1 || true; } | grep -q "not a dynamic"; then
  log "/bin/busybox is not static; install busybox-static"
  exit 1
fi

# ---- kernel: the host's, or Debian's linux-image package unpacked (never installed) -----------
KERNEL=""
for k in /boot/vmlinuz-*; do
  [[ -r "$k" ]] && KERNEL="$k"
done
if [[ -z "$KERNEL" ]]; then
  KDIR="$OUT/kernel"
  KERNEL="$(ls "$KDIR"/x/boot/vmlinuz-* 2>/dev/null | tail -n 1 || true)"
  if [[ -z "$KERNEL" ]]; then
    log "fetching Debian's kernel package (no /boot/vmlinuz here)"
    mkdir -p "$KDIR"
    (
      cd "$KDIR"
      apt-get download linux-image-amd64 2>&1 | grep -v unsandboxed >&2 || true
      dep="$(dpkg-deb -f linux-image-amd64_*.deb Depends | sed 's/ .*//')"
      apt-get download "$dep" 2>&1 | grep -v unsandboxed >&2 || true
      dpkg-deb -x "$dep"_*.deb x
      rm -rf ./*.deb x/lib x/usr # the guests load no modules: keep only boot/ (~8 MiB of 400)
    )
    KERNEL="$(ls "$KDIR"/x/boot/vmlinuz-* | tail -n 1)"
  fi
fi
log "kernel $KERNEL"

# ---- binaries ------------------------------------------------------------------------------
BIN="$OUT/bin"
rm -rf "$BIN"
mkdir -p "$BIN"
BZ=(--noshow_progress --color=no --curses=no)
bazel build "${BZ[@]}" --config=opt //tools/numa_vm:placement_check //stress/numa:numa_stress \
  //tests/numa:numa_synthetic_test >&2
cp bazel-bin/tools/numa_vm/placement_check bazel-bin/stress/numa/numa_stress \
  bazel-bin/tests/numa/numa_synthetic_test "$BIN/"
bazel build "${BZ[@]}" //tests/numa:numa_test >&2
cp bazel-bin/tests/numa/numa_test "$BIN/"

# ---- initramfs --------------------------------------------------------------------------------
RD="$OUT/rootfs"
rm -rf "$RD"
mkdir -p "$RD"/{bin,sbin,proc,sys,dev,tmp,etc,usr/bin,lib64,lib/x86_64-linux-gnu}
cp /bin/busybox "$RD/bin/busybox"
for app in sh mount mkdir cat echo reboot poweroff sleep ls grep sed head tail; do
  ln -sf busybox "$RD/bin/$app"
done
cp "$BIN"/* "$RD/bin/"
for lib in $(for b in "$BIN"/*; do ldd "$b" | grep -o '/[^ ]*\.so[^ ]*'; done | sort -u); do
  mkdir -p "$RD$(dirname "$lib")"
  cp -L "$lib" "$RD$lib"
done
# numa_synthetic_test reads its XML topology relative to the workspace root; /init runs the
# tests from /src.
mkdir -p "$RD/src/tests/numa"
cp -r "$ROOT/tests/numa/testdata" "$RD/src/tests/numa/"
cp "$ROOT/tools/numa_vm/init.sh" "$RD/init"
chmod +x "$RD/init"
(cd "$RD" && find . | cpio -o -H newc --quiet | gzip -1 >"$OUT/initramfs.gz")

# ---- accelerator: KVM only if a short boot really reaches /init -------------------------------
qemu_base=(qemu-system-x86_64 -nographic -no-reboot -kernel "$KERNEL" -initrd "$OUT/initramfs.gz")
ACCEL="${NUMA_VM_ACCEL:-}"
if [[ -z "$ACCEL" ]]; then
  ACCEL=tcg
  if [[ -r /dev/kvm && -w /dev/kvm ]]; then
    if timeout 25 "${qemu_base[@]}" -accel kvm -cpu host -m 256 -smp 1 \
      -append "console=ttyS0 quiet panic=-1 numa_vm=probe" 2>&1 | grep -q "NUMA-VM probe reached /init"; then
      ACCEL=kvm
    else
      log "/dev/kvm is there but a guest did not reach /init with it: using TCG"
    fi
  fi
fi
if [[ "$ACCEL" == kvm ]]; then CPU=(-accel kvm -cpu host); else CPU=(-accel tcg -cpu max); fi
log "accelerator $ACCEL"

# ---- topologies ---------------------------------------------------------------------------------
# name | qemu arguments | extra kernel command line
mem() { echo "-object memory-backend-ram,id=m$1,size=$2"; }
topology_args() {
  case "$1" in
  2n2c) # 2 nodes x 2 CPUs
    echo "-m 1024 -smp 4 $(mem 0 512M) $(mem 1 512M)" \
      "-numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1" \
      "-numa dist,src=0,dst=1,val=20" ;;
  4n1c) # 4 nodes x 1 CPU
    echo "-m 1024 -smp 4 $(mem 0 256M) $(mem 1 256M) $(mem 2 256M) $(mem 3 256M)" \
      "-numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1" \
      "-numa node,nodeid=2,cpus=2,memdev=m2 -numa node,nodeid=3,cpus=3,memdev=m3" ;;
  2nsmall) # node 1 has 256 MiB: exhaustion
    echo "-m 1280 -smp 4 $(mem 0 1024M) $(mem 1 256M)" \
      "-numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1" ;;
  4ncpuless) # node 3 has memory and no CPU
    echo "-m 1024 -smp 3 $(mem 0 256M) $(mem 1 256M) $(mem 2 256M) $(mem 3 256M)" \
      "-numa node,nodeid=0,cpus=0,memdev=m0 -numa node,nodeid=1,cpus=1,memdev=m1" \
      "-numa node,nodeid=2,cpus=2,memdev=m2 -numa node,nodeid=3,memdev=m3" \
      "-numa dist,src=0,dst=1,val=20 -numa dist,src=0,dst=2,val=20" \
      "-numa dist,src=0,dst=3,val=15 -numa dist,src=1,dst=2,val=20" \
      "-numa dist,src=1,dst=3,val=20 -numa dist,src=2,dst=3,val=20" ;;
  2nmemless) # node 1 has CPUs and no memory (legacy mem= syntax: memdev must be all or none)
    echo "-M pc-i440fx-5.0 -m 1024 -smp 4" \
      "-numa node,nodeid=0,cpus=0-1,mem=1024M -numa node,nodeid=1,cpus=2-3,mem=0" ;;
  esac
}
topology_cmdline() {
  case "$1" in
  2nsmall) echo "numa_vm_exhaust=1:160" ;;
  *) echo "" ;;
  esac
}

TOPOS=("$@")
((${#TOPOS[@]})) || TOPOS=(2n2c 4n1c 2nsmall 4ncpuless 2nmemless)
for t in "${TOPOS[@]}"; do
  args="$(topology_args "$t")"
  if [[ -z "$args" ]]; then
    log "unknown topology $t"
    exit 2
  fi
  # A guest that never reaches /init (seen once under TCG on a loaded machine: the firmware
  # handed over and nothing followed for the whole time limit) measured nothing: it is booted
  # once more. A guest that reached /init is never rerun, whatever its tests said.
  for attempt in 1 2; do
    if ((attempt == 1)); then log "booting $t"; else log "booting $t again"; fi
    start=$SECONDS
    # shellcheck disable=SC2086 # the topology's arguments are words
    timeout "$TIMEOUT" "${qemu_base[@]}" "${CPU[@]}" $args \
      -append "console=ttyS0 quiet panic=-1 numa_balancing=disable numa_vm=$t $(topology_cmdline "$t")" \
      >"$OUT/$t.log" 2>&1 || echo "QEMU-EXIT rc=$?" >>"$OUT/$t.log"
    log "$t: $((SECONDS - start)) s"
    grep -q "NUMA-VM $t reached /init" "$OUT/$t.log" && break
    if ((attempt == 1)); then log "$t: the guest did not reach /init"; fi
  done
done

python3 "$ROOT/tools/numa_vm/report.py" "$OUT" "$ACCEL" "${TOPOS[@]}"

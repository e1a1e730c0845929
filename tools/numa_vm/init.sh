#!/bin/sh
# SPDX-License-Identifier: MIT
# tools/numa_vm/init.sh - /init of the NUMA test guests (tools/numa-vm.sh): mounts the kernel
# file systems, shows the topology the kernel built, runs the NUMA suite and prints every
# result on the serial console as a line the host parses, then powers off (QEMU runs with
# -no-reboot, so the reboot ends it). Each program's exit status is printed, so a program the
# OOM killer ends (status 137) shows as such instead of as silence.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
TOPO="$(arg numa_vm)"
echo "NUMA-VM $TOPO reached /init"
if [ "$TOPO" = probe ]; then
  echo "NUMA-VM probe reached /init"
  reboot -f
fi
for n in /sys/devices/system/node/node*; do
  echo "NODE $(basename "$n") cpus=$(cat "$n/cpulist") $(grep MemTotal "$n/meminfo" | sed 's/.*MemTotal: *//; s/ //g')"
done
export TMPDIR=/tmp TEST_TMPDIR=/tmp
cd /src
run() {
  name="$1"
  shift
  "$@" >/tmp/out.txt 2>&1
  rc=$?
  cat /tmp/out.txt
  echo "RC name=$name rc=$rc"
}
run numa_test /bin/numa_test
run numa_synthetic_test /bin/numa_synthetic_test
AR_STRESS_SECONDS=5 run numa_stress /bin/numa_stress
run placement /bin/placement_check --topo "$TOPO"
EX="$(arg numa_vm_exhaust)"
if [ -n "$EX" ]; then
  run exhaust /bin/placement_check --topo "$TOPO" --exhaust "${EX%%:*}" "${EX##*:}"
  # The rejected alternative, measured: MPOL_BIND + MADV_POPULATE_WRITE on the full node.
  run probe /bin/placement_check --topo "$TOPO" --probe-bind-populate "${EX%%:*}"
fi
echo "NUMA-VM $TOPO done"
reboot -f

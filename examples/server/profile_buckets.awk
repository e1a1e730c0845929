# SPDX-License-Identifier: MIT
# examples/server/profile_buckets.awk - sorts `perf script` samples into cost buckets.
#
# Why buckets and not perf's own report: the question is "how much of a request is the
# allocator", and a flat symbol list cannot answer it. memcpy is the allocator when realloc
# copies a block and serialization when a buffer append copies text; snprintf is formatting;
# ar_buf_append is a container, whose cost belongs to whoever appends. So each sample is
# charged by walking its call chain from the leaf up:
#   - a kernel leaf is kernel time, named by the system call it is in (a page fault, or a
#     mmap/munmap/madvise/brk, is the allocator's kernel side);
#   - the first allocator frame met (malloc and friends in libc, a preloaded allocator,
#     arenart's arena/scope/pool/chunk code, the malloc flavor's srv_mem accounting) makes the
#     sample "allocator";
#   - other libc frames and container frames (arenart's buf/vec/map and hash, srv_map.c, the
#     malloc flavor's buffer and vector) are skipped: the sample goes to the first server
#     function above;
#   - that function's file and name give the bucket (json.c: parse, serialize or free walk;
#     routes.c: transform; the connection and HTTP files: http).
# Inlined code counts as its caller: the arena flavor's bump allocation is an inline function,
# so its few instructions land in the parser or the container that allocates.
#
# Input: perf script -F period,ip,sym,dso --no-inline. Variables: symtab (a file of
# "start_hex size_hex file name" lines for the server binary, sorted by start), flavor. Output
# lines, tab-separated: flavor, bucket, samples, share of the sampled time.

# mawk has no strtonum: hex digits to a number (exact below 2^53, which covers the binary).
function hex(h,   i, v) {
  v = 0
  h = tolower(h)
  sub(/^0x/, "", h)
  for (i = 1; i <= length(h); i++) v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
  return v
}

function load_symtab(   line, f, n) {
  n = 0
  while ((getline line < symtab) > 0) {
    split(line, f, " ")
    n++
    S_LO[n] = hex(f[1])
    S_HI[n] = S_LO[n] + hex(f[2])
    S_FILE[n] = f[3]
    S_NAME[n] = f[4]
  }
  close(symtab)
  NSYM = n
}

# The source file of the server-binary function at address a ("" if none).
function file_of(a,   lo, hi, mid) {
  lo = 1
  hi = NSYM
  while (lo <= hi) {
    mid = int((lo + hi) / 2)
    if (a < S_LO[mid]) hi = mid - 1
    else if (a >= S_HI[mid]) lo = mid + 1
    else return S_FILE[mid]
  }
  return ""
}

function is_malloc_sym(s) {
  return s ~ /^(__libc_)?(malloc|free|calloc|realloc|cfree|memalign|posix_memalign)$/ ||
         s ~ /^(aligned_alloc|_int_(malloc|free|realloc|memalign))/ ||
         s ~ /^(malloc_consolidate|unlink_chunk|sysmalloc|systrim|tcache_|arena_get)/ ||
         s ~ /^(mremap_chunk|munmap_chunk|alloc_perturb|_mid_memalign|__malloc_|ptmalloc_)/
}

# Bucket of a server-binary frame, or "" to keep walking up (a container).
function server_bucket(file, s) {
  sub(/^.*\//, "", file) # the base name is enough: header or .c
  if (file ~ /^(buf|vec|map)\.[ch]$/ || file == "srv_map.c") return ""
  if (file == "srv_mem_malloc.c")
    return s ~ /^(srv_alloc|srv_free|mem_realloc|charge|uncharge|srv_strndup)/ ||
           s ~ /^(end_context|srv_scope_|srv_pool_)/ ? "allocator" : ""
  if (file == "srv_mem_arena.c") return "allocator"
  if (file == "json.c") {
    if (s ~ /^json_free/) return "free walks"
    if (s ~ /^(json_write|write_)/) return "serialize"
    return "parse"
  }
  if (file == "routes.c") return "transform"
  if (file == "http.c") return s ~ /^http_request_free/ ? "free walks" : "http"
  if (file ~ /^(serve|conn|worker|deadline|acceptor|server|stats|main)\.c$/) return "http"
  if (file ~ /\.h$/ || file ~ /^(arena|arenapool|chunkpool|chunks|bins|free|marks|strings)\.c$/ ||
      file ~ /^(heap|track|introspect|defsource|registry|rcu|clock|source|thread)\.c$/ ||
      file ~ /^(error|options|stress|concurrent|concurrent_chunks|concurrent_slots)\.c$/)
    return "allocator"
  return "other"
}

function classify(   i, d, s, b, k) {
  if (NF_ == 0) return "other"
  if (DSO[1] == "[kernel.kallsyms]") {
    # Named by the first user-space frame: the libc wrapper of the system call (the kernel's
    # own __x64_sys_* frame is often inlined away). Loopback delivery runs in softirq inside
    # the sender's system call, so "send" includes handing the bytes to the client.
    for (i = 1; i <= NF_ && DSO[i] == "[kernel.kallsyms]"; i++)
      if (SYM[i] ~ /exc_page_fault/) return "kernel: memory (faults, mmap)"
    if (i > NF_) return "kernel: other"
    k = SYM[i]
    sub(/^__(libc_)?/, "", k)
    if (k ~ /^(mmap|mmap64|munmap|madvise|brk|sbrk|mremap|mprotect)$/)
      return "kernel: memory (faults, mmap)"
    if (k ~ /^(read|recv|recvfrom|recvmsg)$/) return "kernel: read"
    if (k ~ /^(sendmsg|send|sendto|write|writev)$/) return "kernel: send"
    if (k ~ /^epoll_/) return "kernel: epoll"
    return "kernel: other"
  }
  for (i = 1; i <= NF_; i++) {
    d = DSO[i]
    s = SYM[i]
    if (d ~ /lib(jemalloc|mimalloc|tcmalloc)/) return "allocator"
    if (d ~ /\/libc\.so/) {
      if (is_malloc_sym(s)) return "allocator"
      continue
    }
    if (d ~ /\/server(_malloc)?$/) {
      b = server_bucket(file_of(hex(IP[i])), s)
      if (b != "") return b
      continue
    }
  }
  return "other"
}

function flush(   b) {
  if (PERIOD == 0) return
  b = classify()
  NS[b] += PERIOD
  COUNT[b]++
  TOTAL += PERIOD
  PERIOD = 0
  NF_ = 0
}

BEGIN {
  load_symtab()
  PERIOD = 0
  NF_ = 0
}

# A sample's header line: its period (ns of cpu-clock).
/^ *[0-9]+ *$/ {
  flush()
  PERIOD = $1 + 0
  next
}

# A frame: "\t<hex ip> <symbol...> (<dso>)".
/^\t/ {
  line = $0
  sub(/^\t */, "", line)
  ip = line
  sub(/ .*/, "", ip)
  rest = substr(line, length(ip) + 2)
  dso = rest
  sub(/^.*\(/, "", dso)
  sub(/\)$/, "", dso)
  sym = rest
  sub(/ \([^(]*\)$/, "", sym)
  sub(/\+0x[0-9a-f]+$/, "", sym)
  sub(/@.*$/, "", sym) # cfree@GLIBC_2.2.5: the versioned name is the same function
  NF_++
  IP[NF_] = ip
  SYM[NF_] = sym
  DSO[NF_] = dso
  next
}

END {
  flush()
  for (b in NS)
    printf "%s\t%s\t%d\t%.4f\n", flavor, b, COUNT[b], NS[b] / TOTAL
}

/* SPDX-License-Identifier: MIT */
/*
 * tests/cpp/pmr_bench.cc - a per-request C++ workload through std::pmr, on the standard
 * library's own monotonic_buffer_resource and on arenart's resources, in the same run.
 *
 * The question a C++ user asks is not "is an arena faster than malloc" (every monotonic
 * resource is) but "is arenart's resource worth taking over the one already in <memory_resource>".
 * So the peer is monotonic_buffer_resource in its best configuration: constructed once over a
 * reused 256 KiB buffer that holds a whole request, and release()d after each request, so it
 * never goes to its upstream and never faults a page in the timed loop. arenart runs the same
 * request through arena_resource (a serial arena, ar_reset per request; its retained chunk is
 * reused the same way) and through thread_resource inside an arenart::scope per request.
 *
 * One request: a std::pmr::vector of 64 std::pmr::strings (20..83 bytes, past the small-string
 * buffer, so each one allocates), grown without reserve, and a std::pmr::unordered_map of 32
 * string keys to ints; a checksum of the contents keeps the optimiser honest; then everything
 * is dropped. Each variant runs `requests` requests per repeat, the variants alternate in
 * rotated order within every repeat. The table shows each variant's median; the goal,
 * arena_resource no slower than monotonic_buffer_resource, is judged on the median of the
 * per-repeat ratios (both measured back to back, so they share the machine's state) and
 * printed as met only when that is at most 1.00; nothing is asserted.
 *
 *   bazel run --config=opt //tests/cpp:pmr_bench [-- --quick]
 */
#include <arenart/arenart.hpp>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory_resource>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

double now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

char g_text[128];

/* One request's work, on whichever resource the containers were given. */
unsigned long one_request(std::pmr::memory_resource *mr, unsigned seed) {
  std::pmr::vector<std::pmr::string> names(mr);
  for (unsigned i = 0; i < 64; i++) {
    size_t len = 20 + (seed + i * 7) % 64;
    names.emplace_back(g_text, len);
  }
  std::pmr::unordered_map<std::pmr::string, int> index(mr);
  for (unsigned i = 0; i < 32; i++) index.emplace(names[i * 2], static_cast<int>(i));
  unsigned long sum = names.size() + index.size();
  for (const auto &n : names) sum += n.size();
  auto it = index.find(names[10]);
  if (it != index.end()) sum += static_cast<unsigned long>(it->second);
  return sum;
}

enum variant { MONO, ARENA, SCOPE, NVARIANTS };
const char *const kNames[NVARIANTS] = {"std::pmr::monotonic_buffer_resource",
                                       "arenart::arena_resource (ar_reset)",
                                       "arenart::thread_resource (scope)"};

}  // namespace

int main(int argc, char **argv) {
  bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int repeats = quick ? 7 : 21;
  const int requests = quick ? 5000 : 20000;
  std::memset(g_text, 'x', sizeof g_text);

  alignas(64) static unsigned char buffer[256 * 1024];
  std::pmr::monotonic_buffer_resource mono(buffer, sizeof buffer, std::pmr::new_delete_resource());
  arenart::arena arena("pmr_bench");
  arenart::arena_resource ares(arena);
  arenart::thread_resource tres;

  std::vector<double> ns[NVARIANTS];
  std::vector<double> pair; /* per repeat: arena_resource time / monotonic time */
  unsigned long sink = 0;
  for (int r = -1; r < repeats; r++) { /* r == -1: warm-up, not recorded */
    double this_round[NVARIANTS];
    for (int k = 0; k < NVARIANTS; k++) {
      int v = (k + (r < 0 ? 0 : r)) % NVARIANTS;
      double t0 = now_ns();
      for (int q = 0; q < requests; q++) {
        unsigned seed = static_cast<unsigned>(q);
        if (v == MONO) {
          sink += one_request(&mono, seed);
          mono.release();
        } else if (v == ARENA) {
          sink += one_request(&ares, seed);
          arena.reset();
        } else {
          arenart::scope s;
          sink += one_request(&tres, seed);
        }
      }
      double per = (now_ns() - t0) / requests;
      this_round[v] = per;
      if (r >= 0) ns[v].push_back(per);
    }
    if (r >= 0) pair.push_back(this_round[ARENA] / this_round[MONO]);
  }
  double med[NVARIANTS];
  for (int v = 0; v < NVARIANTS; v++) {
    std::sort(ns[v].begin(), ns[v].end());
    med[v] = ns[v][ns[v].size() / 2];
  }
  std::printf("pmr_bench: %d requests x %d repeats; one request = 64 pmr::strings in a "
              "pmr::vector + a 32-entry pmr::unordered_map (checksum %lu)\n",
              requests, repeats, sink);
  std::printf("%-40s %12s %10s\n", "resource", "ns/request", "vs mono");
  for (int v = 0; v < NVARIANTS; v++)
    std::printf("%-40s %12.0f %9.2fx\n", kNames[v], med[v], med[v] / med[MONO]);
  std::sort(pair.begin(), pair.end());
  double ratio = pair[pair.size() / 2];
  std::printf("goal (no slower): arena_resource / monotonic_buffer_resource, median of %zu "
              "per-repeat ratios = %.2fx: %s\n",
              pair.size(), ratio, ratio <= 1.0 ? "met" : "not met");
  return 0;
}

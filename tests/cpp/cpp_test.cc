/* SPDX-License-Identifier: MIT */
/*
 * tests/cpp/cpp_test.cc - include/arenart/arenart.hpp: the owning handles, the three memory
 * resources and the allocator, driven through real standard containers.
 *
 * The containers are the point: a resource that compiles but hands out misaligned memory,
 * memory from the wrong arena, or memory that a reset does not take back would still pass a
 * test that only calls allocate(). So each test fills std::pmr containers (vectors of strings
 * longer than the small-string buffer, unordered_maps), checks their contents, and then asks
 * the C API where the memory went (ar_owns, ar_arena_stats). Under --config=asan the same
 * checks run with every arena allocation red-zoned, and the give_back test checks that a
 * block a container gave back is poisoned.
 */
#include <arenart/arenart.hpp>

#include <cstdint>
#include <cstring>
#include <memory_resource>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tests/test_util.h"
#if TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#include "tests/cpp/check.h"

namespace {

size_t used_of(ar_arena_t *a) {
  ar_stats_t st;
  CHECK(ar_arena_stats(a, &st) == AR_OK);
  return st.used;
}

/* A string well past libstdc++'s 15-byte small-string buffer, so it allocates. */
std::string long_text(int i) { return "request-" + std::to_string(i) + "-padding-padding-padding"; }

/* Compares a string of any allocator with the expected text. */
bool same(std::string_view got, const std::string &want) { return got == std::string_view(want); }

int g_destroyed = 0;
struct counted {
  int v;
  explicit counted(int x) : v(x) {}
  ~counted() { ++g_destroyed; }
};
struct throws_in_ctor {
  throws_in_ctor() { throw std::runtime_error("ctor"); }
};

void test_arena_handle() {
  arenart::arena a("cpp-handle");
  CHECK(a);
  CHECK(std::strcmp(ar_arena_name(a.get()), "cpp-handle") == 0);
  void *p = a.allocate(100);
  CHECK(p != nullptr && a.owns(p));
  CHECK(reinterpret_cast<std::uintptr_t>(a.allocate(8, 64)) % 64 == 0);

  /* make<T>: constructed in place; non-trivial destructors run at reset. */
  g_destroyed = 0;
  counted *c1 = a.make<counted>(7);
  counted *c2 = a.make<counted>(8);
  CHECK(c1->v == 7 && c2->v == 8 && a.owns(c1) && a.owns(c2));
  CHECK(reinterpret_cast<std::uintptr_t>(a.make<long double>(1.0L)) % alignof(long double) == 0);
  CHECK(g_destroyed == 0);
  a.reset();
  CHECK(g_destroyed == 2);
  CHECK(used_of(a.get()) == 0);
  CHECK_THROWS(std::runtime_error, a.make<throws_in_ctor>());

  /* Marks and rewind through the handle. */
  ar_mark_t m = a.mark();
  counted *c3 = a.make<counted>(9);
  CHECK(c3->v == 9);
  CHECK(a.rewind(m) == AR_OK);
  CHECK(g_destroyed == 3);

  /* Moves: the moved-from handle is empty and its calls fail like a NULL arena's. */
  arenart::arena b(std::move(a));
  CHECK(!a && b);
  ar_clear_error();
  CHECK(a.allocate(16) == nullptr && ar_last_error() == AR_EINVAL);
  arenart::arena c;
  ar_arena_t *raw_c = c.get();
  c = std::move(b); /* destroys c's first arena */
  CHECK(!b && c && c.get() != raw_c);
  ar_arena_t *raw = c.detach();
  CHECK(!c && raw != nullptr);
  arenart::arena d = arenart::arena::adopt_raw(raw);
  CHECK(d.get() == raw);

  /* Constructor errors become arenart::error with the C code. */
  ar_options_t bad;
  ar_options_init(&bad);
  bad.chunk_size = 1;
  bool caught = false;
  try {
    arenart::arena e(&bad);
  } catch (const arenart::error &err) {
    caught = err.code() == AR_EINVAL && std::strcmp(err.what(), ar_strerror(AR_EINVAL)) == 0;
  }
  CHECK(caught);
}

void test_arena_resource_containers() {
  arenart::arena a;
  const size_t base = used_of(a.get());
  {
    arenart::arena_resource mr(a);
    std::pmr::vector<std::pmr::string> v(&mr);
    std::pmr::unordered_map<std::pmr::string, int> m(&mr);
    for (int i = 0; i < 2000; i++) {
      v.emplace_back(long_text(i));
      m.emplace(std::pmr::string(long_text(i), &mr), i);
    }
    CHECK(v.size() == 2000 && m.size() == 2000);
    for (int i = 0; i < 2000; i += 97) {
      CHECK(same(v[static_cast<size_t>(i)], long_text(i)));
      auto it = m.find(std::pmr::string(long_text(i), &mr));
      CHECK(it != m.end() && it->second == i);
    }
    /* Every piece lies in the arena: the vector's buffer, each string's heap buffer, the
     * map's nodes and bucket array. */
    CHECK(a.owns(v.data()));
    CHECK(a.owns(v[1999].data()) && a.owns(v[0].data()));
    CHECK(a.owns(&*m.begin()));
    CHECK(v.get_allocator().resource() == &mr);
    CHECK(v[5].get_allocator().resource() == &mr); /* uses-allocator construction */
    CHECK(used_of(a.get()) > base + 2000 * 2 * long_text(0).size());

    /* Equality: same arena, same type. */
    arenart::arena_resource mr2(a.get());
    arenart::arena other;
    arenart::arena_resource mr3(other);
    CHECK(mr.is_equal(mr2) && !mr.is_equal(mr3));
    CHECK(!mr.is_equal(*std::pmr::new_delete_resource()));
  }
  a.reset();
  CHECK(used_of(a.get()) == 0);
}

void test_give_back() {
  arenart::arena a;
  arenart::arena_resource keep(a);
  arenart::arena_resource give(a, arenart::arena_resource::give_back);

  /* keep: deallocate is a no-op, the block stays usable arena memory. */
  void *k = keep.allocate(64, 16);
  keep.deallocate(k, 64, 16);
  CHECK(a.owns(k));

  /* give_back: the block goes back through ar_free. */
  ar_clear_error();
  void *p = give.allocate(64, 16);
  std::memset(p, 1, 64);
  give.deallocate(p, 64, 16);
  CHECK(ar_last_error() == AR_OK); /* ar_free accepted the block and its size */
#if TEST_ASAN
  CHECK(__asan_address_is_poisoned(p)); /* quarantined: a use after free would be reported */
#elif defined(AR_DEBUG) && AR_DEBUG >= 2
  /* arena.h (ar_free): at AR_DEBUG >= 2 freed blocks are quarantined, never reused. */
  void *q = give.allocate(64, 16);
  CHECK(q != p);
#else
  /* It was the most recent allocation, so the cursor moved back: the next one reuses it. */
  void *q = give.allocate(64, 16);
  CHECK(q == p);
#endif

  /* A container that grows through give_back: every buffer it dropped went back, and the
   * contents are intact. */
  ar_clear_error();
  {
    std::pmr::vector<std::pmr::string> v(&give);
    for (int i = 0; i < 5000; i++) v.emplace_back(long_text(i));
    v.erase(v.begin(), v.begin() + 2500);
    v.shrink_to_fit();
    CHECK(v.size() == 2500 && same(v.front(), long_text(2500)) && same(v.back(), long_text(4999)));
  }
  CHECK(ar_last_error() == AR_OK);
  /* Over-aligned blocks are kept (ar_free takes default-aligned blocks only). */
  void *big = give.allocate(256, 128);
  CHECK(reinterpret_cast<std::uintptr_t>(big) % 128 == 0);
  give.deallocate(big, 256, 128);
  CHECK(a.owns(big));
}

void test_resource_errors() {
  ar_options_t o;
  ar_options_init(&o);
  o.chunk_size = 4096;
  o.limit_bytes = 64 * 1024;
  arenart::arena a(&o);
  arenart::arena_resource mr(a);
  std::pmr::vector<char> v(&mr);
  bool threw = false;
  try {
    v.resize(1 << 20);
  } catch (const std::bad_alloc &) {
    threw = true;
  }
  CHECK(threw && ar_last_error() == AR_ELIMIT);
  /* The arena survives and still serves small requests. */
  std::pmr::string s(long_text(1), &mr);
  CHECK(same(s, long_text(1)) && a.owns(s.data()));

  /* A resource over no arena throws on every allocation. */
  arenart::arena_resource none(static_cast<ar_arena_t *>(nullptr));
  CHECK_THROWS(std::bad_alloc, none.allocate(16));
  CHECK(ar_last_error() == AR_EINVAL);
  /* A bad alignment is reported, not ignored. */
  volatile std::size_t bad_align = 3; /* not a constant: clang rejects a literal one */
  CHECK_THROWS(std::bad_alloc, mr.allocate(16, bad_align));
  CHECK(ar_last_error() == AR_EALIGN);
}

void test_scopes() {
  ar_arena_t *ta = ar_thread_arena();
  CHECK(ta != nullptr);
  const size_t outer_base = used_of(ta);
  arenart::thread_resource tr;
  {
    arenart::scope outer;
    CHECK(outer.active() && outer.get() == ta);
    std::pmr::vector<std::pmr::string> kept(&tr);
    kept.emplace_back(long_text(1));
    const size_t inner_base = used_of(ta);
    {
      arenart::scope inner;
      std::pmr::unordered_map<std::pmr::string, int> m(&tr);
      for (int i = 0; i < 500; i++) m.emplace(std::pmr::string(long_text(i), &tr), i);
      CHECK(m.size() == 500 && ar_owns(ta, &*m.begin()));
      CHECK(used_of(ta) > inner_base);
      /* m is destroyed before inner (declared after it), then inner ends. */
    }
    CHECK(used_of(ta) == inner_base); /* the inner scope took back exactly its memory */
    CHECK(same(kept[0], long_text(1)) && ar_owns(ta, kept[0].data()));

    /* end() explicitly, then again: the second is refused. */
    arenart::scope s2;
    CHECK(s2.allocate(1000) != nullptr);
    CHECK(s2.end() == AR_OK && !s2.active());
    CHECK(s2.end() == AR_EINVAL);
    CHECK(used_of(ta) == inner_base);

    /* A moved scope: the source is inactive, the target ends it. */
    {
      arenart::scope s3;
      CHECK(s3.allocate(500) != nullptr);
      arenart::scope s4(std::move(s3));
      CHECK(!s3.active() && s4.active());
      CHECK(s3.end() == AR_EINVAL);
    }
    CHECK(used_of(ta) == inner_base);
  }
  CHECK(used_of(ta) == outer_base);
  arenart::thread_resource tr2;
  CHECK(tr.is_equal(tr2));
}

void test_concurrent() {
  arenart::concurrent_arena ca;
  arenart::concurrent_resource mr(ca);
  constexpr int kThreads = 2, kPer = 3000;
  std::vector<std::pmr::vector<std::pmr::string> *> out(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&, t] {
      auto *v = new std::pmr::vector<std::pmr::string>(&mr);
      for (int i = 0; i < kPer; i++) v->emplace_back(long_text(t * kPer + i));
      out[static_cast<size_t>(t)] = v;
    });
  for (auto &t : ts) t.join();
  for (int t = 0; t < kThreads; t++) {
    auto &v = *out[static_cast<size_t>(t)];
    CHECK(v.size() == static_cast<size_t>(kPer));
    CHECK(same(v[0], long_text(t * kPer)) && same(v[kPer - 1], long_text(t * kPer + kPer - 1)));
    CHECK(ar_concurrent_owns(ca.get(), v.data()) && ar_concurrent_owns(ca.get(), v[7].data()));
    delete out[static_cast<size_t>(t)];
  }
  ar_stats_t st;
  CHECK(ca.stats(&st) == AR_OK && st.used >= static_cast<size_t>(kThreads * kPer) * 32);
  ca.reset();
  CHECK(ca.stats(&st) == AR_OK && st.used == 0);

  arenart::concurrent_arena moved(std::move(ca));
  CHECK(!ca && moved);
  ar_clear_error();
  CHECK(ca.allocate(16) == nullptr && ar_last_error() == AR_EINVAL);
  CHECK(moved.allocate(16) != nullptr);
  arenart::concurrent_resource none(static_cast<ar_concurrent_t *>(nullptr));
  CHECK_THROWS(std::bad_alloc, none.allocate(8));
}

void test_allocator() {
  arenart::arena a;
  arenart::arena b;
  using str = std::basic_string<char, std::char_traits<char>, arenart::allocator<char>>;
  arenart::allocator<int> ai(a);
  std::vector<int, arenart::allocator<int>> v(ai);
  for (int i = 0; i < 10000; i++) v.push_back(i);
  CHECK(v[9999] == 9999 && a.owns(v.data()));
  str s("a string that is long enough to allocate", arenart::allocator<char>(a));
  CHECK(a.owns(s.data()));

  /* Rebinding keeps the arena; equality is by arena. */
  arenart::allocator<double> ad(ai);
  CHECK(ad == ai && ad.get() == a.get());
  CHECK(arenart::allocator<int>(b) != ai);
  double *d = ad.allocate(3);
  CHECK(reinterpret_cast<std::uintptr_t>(d) % alignof(double) == 0 && a.owns(d));

  /* Move assignment carries the arena along; copy assignment keeps the target's. */
  std::vector<int, arenart::allocator<int>> w{arenart::allocator<int>(b)};
  w = std::move(v);
  CHECK(w.get_allocator().get() == a.get() && w[5] == 5);
  std::vector<int, arenart::allocator<int>> x{arenart::allocator<int>(b)};
  x = w;
  CHECK(x.get_allocator().get() == b.get() && b.owns(x.data()) && x[9999] == 9999);

  /* Errors: overflow and a failing arena throw std::bad_alloc. */
  CHECK_THROWS(std::bad_alloc, ai.allocate(SIZE_MAX / 2));
  arenart::allocator<int> none(static_cast<ar_arena_t *>(nullptr));
  CHECK_THROWS(std::bad_alloc, none.allocate(1));
}

}  // namespace

/* arenart::lease: allocations through it are the arena's (used grows, owns is true, a mark
 * taken before covers them), the arena is usable again once it ends, by end() or by the
 * destructor, and end() twice is harmless. */
void test_lease() {
  arenart::arena a("cpp-lease");
  ar_mark_t m = a.mark();
  size_t before = used_of(a.get());
  void *first = nullptr;
  {
    arenart::lease l(a);
    for (int i = 0; i < 1000; i++) {
      void *p = l.allocate(40);
      CHECK(p != nullptr && reinterpret_cast<std::uintptr_t>(p) % AR_ALIGN_DEFAULT == 0);
      if (i == 0) first = p;
    }
    CHECK(reinterpret_cast<std::uintptr_t>(l.allocate(8, 64)) % 64 == 0);
    CHECK(l.allocate(8, 3) == nullptr && ar_last_error() == AR_EALIGN);
  } /* the destructor ends it */
  CHECK(used_of(a.get()) >= before + 1000 * 48);
  CHECK(a.owns(first));
  CHECK(a.allocate(16) != nullptr); /* the arena is usable again */
  {
    arenart::lease l(a.get());
    CHECK(l.allocate(100) != nullptr);
    l.end();
    l.end(); /* harmless, and the destructor ends nothing */
    CHECK(a.allocate(16) != nullptr);
  }
  CHECK(a.rewind(m) == AR_OK);
  CHECK(used_of(a.get()) == before);
  arenart::lease none(static_cast<ar_arena_t *>(nullptr));
  CHECK(none.allocate(16) == nullptr && ar_last_error() == AR_EINVAL);
}

int main() {
  test_arena_handle();
  test_lease();
  test_arena_resource_containers();
  test_give_back();
  test_resource_errors();
  test_scopes();
  test_concurrent();
  test_allocator();
  return finish("cpp_test", 90);
}

/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief C++17 wrappers over the C API: owning handles, std::pmr memory resources and a
 * standard allocator, header-only.
 *
 * Why a wrapper at all: C++ code reaches arena memory through containers, and containers reach
 * memory through an allocator or a std::pmr::memory_resource. The C API already has the right
 * shape for that (allocate by size and alignment; give back everything at once), so this header
 * adds no runtime of its own: every call here is a thin inline forward to the C function named
 * in its comment, and the library needs no C++ objects. What it does add is ownership: an
 * arena, a ConcurrentArena or a request scope is owned by exactly one move-only object, whose
 * destructor gives it back, so an early return or an exception cannot leak an arena or leave a
 * scope open.
 *
 * Deallocation is a no-op by default in every resource. A monotonic resource is what an arena
 * is: the memory comes back at reset, rewind or scope end, and paying a call per container
 * destructor to give a block back early would buy nothing in the per-request pattern this
 * library is for. The serial arena's resource can be told to give blocks back instead
 * (arena_resource::give_back), which calls ar_free with the size the container passes, so a
 * long-lived container that grows and shrinks reuses its old buffers (ar_free docs), and
 * sanitizer builds see a use after a container freed its buffer.
 *
 * Lifetime: memory handed out by a resource or allocator lives as long as the memory of the
 * arena or scope behind it (arenart/arena.h, "Lifetime rules"). A container must be destroyed,
 * or at least never used again, before the arena behind it is reset, rewound past it or
 * destroyed: declare the arena (or scope) first and the containers after it, so that C++'s
 * reverse destruction order does the right thing.
 *
 * Exceptions: this header needs them on. What throws and what does not is listed in each
 * "Errors:" paragraph; in short, constructors of owning handles throw arenart::error when the C
 * call fails, memory resources, the allocator and arena::make throw std::bad_alloc when an
 * allocation fails (that is the contract of std::pmr::memory_resource::allocate and of
 * Allocator::allocate), and everything else never throws and reports like the C API (a null
 * pointer or an ar_error_t, plus ar_last_error()).
 *
 * Synchronization: exactly that of the C object behind each handle.
 *   | type                                   | may be used concurrently from                     |
 *   |----------------------------------------|---------------------------------------------------|
 *   | arena, arena_resource, allocator<T>,   | one thread at a time: the serial arena's owner    |
 *   | lease                                  |                                                   |
 *   | scope, thread_resource                 | the thread that uses them; each thread its own    |
 *   | concurrent_arena::allocate, concurrent_resource::allocate | any number of threads    |
 *   | concurrent_arena::reset, its destructor | nothing else on that arena (quiescence)          |
 *   | error                                  | anything (immutable)                              |
 */
#ifndef ARENART_ARENART_HPP
#define ARENART_ARENART_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "arenart/arenart.hpp needs C++17 or later"
#endif

#include <cstddef>
#include <memory_resource>
#include <new>
#include <type_traits>
#include <utility>

#include "arenart.h"

/** The C++ wrappers of arenart (this header); the C API stays in the global namespace. */
namespace arenart {

/** The exception the owning handles' constructors throw when the C call fails. */
class error : public std::exception {
 public:
  /** Wraps `code`. Errors: none (noexcept). */
  explicit error(ar_error_t code) noexcept : code_(code) {}
  /** The ar_error_t of the failed call. Errors: none. */
  ar_error_t code() const noexcept { return code_; }
  /** ar_strerror(code()): static text, never null. Errors: none. */
  const char *what() const noexcept override { return ar_strerror(code_); }

 private:
  ar_error_t code_;
};

/**
 * An owned serial arena (ar_arena_t). Move-only; the destructor calls ar_arena_destroy. The
 * owner-thread rule of arenart/arena.h applies to the arena, not to this object: moving the
 * handle to another thread needs a happens-before edge and adopt() there.
 */
class arena {
 public:
  /** ar_arena_create(opts) (opts null = defaults).
   * Errors: throws arenart::error with the code ar_arena_create reported (AR_EINVAL,
   * AR_ELIMIT, AR_ENOMEM). */
  explicit arena(const ar_options_t *opts = nullptr) : a_(ar_arena_create(opts)) {
    if (a_ == nullptr) throw error(ar_last_error());
  }
  /** The same with a name for diagnostics (copied, truncated to 31 bytes) and otherwise
   * default options. Errors: as above. */
  explicit arena(const char *name) : a_(nullptr) {
    ar_options_t o;
    ar_options_init(&o);
    o.name = name;
    a_ = ar_arena_create(&o);
    if (a_ == nullptr) throw error(ar_last_error());
  }
  /** Takes ownership of `raw` (may be null: an empty handle). Errors: none. */
  static arena adopt_raw(ar_arena_t *raw) noexcept { return arena(raw, 0); }

  /** Takes o's arena; o is left empty. Errors: none. */
  arena(arena &&o) noexcept : a_(std::exchange(o.a_, nullptr)) {}
  /** Destroys the arena held before (if any), then takes o's. Errors: none. */
  arena &operator=(arena &&o) noexcept {
    if (this != &o) {
      ar_arena_destroy(a_);
      a_ = std::exchange(o.a_, nullptr);
    }
    return *this;
  }
  arena(const arena &) = delete;
  arena &operator=(const arena &) = delete;
  /** ar_arena_destroy (runs cleanups, frees everything). Errors: none. */
  ~arena() { ar_arena_destroy(a_); }

  /** The C arena, still owned by this handle (null after a move or detach). Errors: none. */
  ar_arena_t *get() const noexcept { return a_; }
  /** Gives up ownership and returns the C arena (the caller destroys it). Errors: none. */
  ar_arena_t *detach() noexcept { return std::exchange(a_, nullptr); }
  /** True when the handle holds an arena. Errors: none. */
  explicit operator bool() const noexcept { return a_ != nullptr; }

  /** ar_alloc_aligned. Errors: returns null on failure (the C errors: AR_EINVAL for an empty
   * handle, AR_EALIGN, AR_EOVERFLOW, AR_ELIMIT, AR_ENOMEM, AR_EBUSY); never throws. */
  void *allocate(std::size_t size, std::size_t align = AR_ALIGN_DEFAULT) noexcept {
    return ar_alloc_aligned(a_, size, align);
  }
  /**
   * Constructs a T in the arena. If T is not trivially destructible its destructor is
   * registered with ar_defer, so it runs at reset, release, destroy or a rewind past it.
   * Errors: throws std::bad_alloc if the memory or the cleanup record cannot be had (then
   * nothing is left constructed); whatever T's constructor throws propagates (the memory stays
   * in the arena until reset). Never call delete on the result.
   */
  template <class T, class... Args>
  T *make(Args &&...args) {
    void *mem = ar_alloc_aligned(a_, sizeof(T), alignof(T));
    if (mem == nullptr) throw std::bad_alloc();
    T *obj = ::new (mem) T(std::forward<Args>(args)...);
    if constexpr (!std::is_trivially_destructible_v<T>) {
      if (ar_defer(a_, &destroy_one<T>, obj) != AR_OK) {
        obj->~T();
        throw std::bad_alloc();
      }
    }
    return obj;
  }
  /** ar_reset: frees everything, keeps retain_bytes of chunks. Errors: none. */
  void reset() noexcept { ar_reset(a_); }
  /** ar_release: frees everything and returns every chunk. Errors: none. */
  void release_memory() noexcept { ar_release(a_); }
  /** ar_mark. Errors: none (an empty handle gives a mark every rewind rejects). */
  ar_mark_t mark() const noexcept { return ar_mark(a_); }
  /** ar_rewind. Errors: returns AR_EINVAL or AR_ESTALE as ar_rewind does; never throws. */
  int rewind(const ar_mark_t &m) noexcept { return ar_rewind(a_, &m); }
  /** ar_arena_adopt: the calling thread becomes the arena's owner. Errors: none. */
  void adopt() noexcept { ar_arena_adopt(a_); }
  /** ar_arena_stats. Errors: returns AR_EINVAL for an empty handle; never throws. */
  int stats(ar_stats_t *out) const noexcept { return ar_arena_stats(a_, out); }
  /** ar_owns. Errors: none (false for an empty handle). */
  bool owns(const void *p) const noexcept { return ar_owns(a_, p); }

 private:
  arena(ar_arena_t *raw, int) noexcept : a_(raw) {}
  template <class T>
  static void destroy_one(void *p) {
    static_cast<T *>(p)->~T();
  }
  ar_arena_t *a_;
};

/**
 * An owned ConcurrentArena (ar_concurrent_t). Move-only; the destructor calls
 * ar_concurrent_destroy, which needs quiescence (no thread still allocating from it).
 */
class concurrent_arena {
 public:
  /** ar_concurrent_create(opts) (null = defaults).
   * Errors: throws arenart::error (AR_EINVAL, AR_ENOMEM). */
  explicit concurrent_arena(const ar_options_t *opts = nullptr) : a_(ar_concurrent_create(opts)) {
    if (a_ == nullptr) throw error(ar_last_error());
  }
  /** Takes o's arena; o is left empty. Errors: none. */
  concurrent_arena(concurrent_arena &&o) noexcept : a_(std::exchange(o.a_, nullptr)) {}
  /** Destroys the arena held before (quiescence required), takes o's. Errors: none. */
  concurrent_arena &operator=(concurrent_arena &&o) noexcept {
    if (this != &o) {
      ar_concurrent_destroy(a_);
      a_ = std::exchange(o.a_, nullptr);
    }
    return *this;
  }
  concurrent_arena(const concurrent_arena &) = delete;
  concurrent_arena &operator=(const concurrent_arena &) = delete;
  /** ar_concurrent_destroy. Errors: none. */
  ~concurrent_arena() { ar_concurrent_destroy(a_); }

  /** The C arena, still owned here (null after a move or detach). Errors: none. */
  ar_concurrent_t *get() const noexcept { return a_; }
  /** Gives up ownership and returns the C arena. Errors: none. */
  ar_concurrent_t *detach() noexcept { return std::exchange(a_, nullptr); }
  /** True when the handle holds an arena. Errors: none. */
  explicit operator bool() const noexcept { return a_ != nullptr; }
  /** ar_concurrent_alloc_aligned, from any thread. Errors: returns null (AR_EINVAL for an
   * empty handle, AR_EALIGN, AR_EOVERFLOW, AR_ELIMIT, AR_ENOMEM); never throws. */
  void *allocate(std::size_t size, std::size_t align = AR_ALIGN_DEFAULT) noexcept {
    return ar_concurrent_alloc_aligned(a_, size, align);
  }
  /** ar_concurrent_reset (quiescence required). Errors: none. */
  void reset() noexcept { ar_concurrent_reset(a_); }
  /** ar_concurrent_stats. Errors: returns AR_EINVAL for an empty handle; never throws. */
  int stats(ar_stats_t *out) const noexcept { return ar_concurrent_stats(a_, out); }

 private:
  ar_concurrent_t *a_;
};

/**
 * A lease of a serial arena's cursor (arenart/lease.h: ar_lease_begin / ar_lease_end), for a
 * run of allocations whose cursor the compiler keeps in registers. Neither copyable nor
 * movable (a lease is used in place); the destructor ends it if end() has not. Everything
 * lease.h says holds: until the lease ends, every call into the C API on its arena but
 * ar_arena_name aborts (so do the wrappers here that make one: arena::allocate, make, reset,
 * rewind, a scope on a leased thread arena, a resource's allocate; a keep-policy resource's
 * deallocate and arena::get make none), so keep it a local of a block that allocates and
 * nothing else, and let the block's end end it. Unlike the owning handles it never throws: a
 * null arena gives a lease whose allocations return null with AR_EINVAL.
 */
class lease {
 public:
  /** ar_lease_begin(a). Errors: none thrown; a null arena gives a lease whose allocations
   * return null with AR_EINVAL; aborts as ar_lease_begin does (a lease holds a already). */
  explicit lease(ar_arena_t *a) noexcept : l_(ar_lease_begin(a)), active_(true) {}
  /** The same on an owned arena. Errors: as above. */
  explicit lease(arena &a) noexcept : lease(a.get()) {}
  lease(const lease &) = delete;
  lease &operator=(const lease &) = delete;
  /** Ends the lease if end() has not. Errors: none. */
  ~lease() {
    if (active_) ar_lease_end(&l_);
  }
  /** ar_lease_alloc_aligned. Errors: returns null as it does (AR_EINVAL, AR_EALIGN,
   * AR_EOVERFLOW, AR_ELIMIT, AR_ENOMEM, AR_EBUSY); never throws. Calling it after end() aborts
   * (lease.h: an ended lease). */
  void *allocate(std::size_t size, std::size_t align = AR_ALIGN_DEFAULT) noexcept {
    return ar_lease_alloc_aligned(&l_, size, align);
  }
  /** ar_lease_end: the arena is usable by every call again. Errors: none; a second end()
   * does nothing (the destructor's end is skipped too). */
  void end() noexcept {
    if (active_) ar_lease_end(&l_);
    active_ = false;
  }

 private:
  ar_lease_t l_;
  bool active_;
};

/**
 * A request scope on the calling thread's arena (ar_scope_begin / ar_scope_end). Move-only;
 * the destructor ends the scope if end() has not. Scopes must end innermost first and on the
 * thread that began them: keep them as local variables (C++ destroys locals in reverse order)
 * and do not move one to another thread.
 */
class scope {
 public:
  /** ar_scope_begin. Errors: throws arenart::error(AR_ENOMEM) when the thread arena cannot be
   * created. */
  scope() : s_(ar_scope_begin()), active_(true) {
    if (s_.arena == nullptr) {
      active_ = false;
      throw error(AR_ENOMEM);
    }
  }
  /** Takes over o's scope (same thread only); o becomes inactive and ends nothing. Errors:
   * none. */
  scope(scope &&o) noexcept : s_(o.s_), active_(std::exchange(o.active_, false)) {}
  scope &operator=(scope &&) = delete; /* would end a scope out of order */
  scope(const scope &) = delete;
  scope &operator=(const scope &) = delete;
  /** Ends the scope if it is still active. Errors: none (a stale scope is ignored here; call
   * end() to see ar_scope_end's result). */
  ~scope() {
    if (active_) ar_scope_end(&s_);
  }
  /** ar_scope_end: frees the scope's memory and runs its cleanups; the scope is then inactive.
   * Errors: returns AR_OK, or what ar_scope_end returns (AR_EINVAL, AR_ESTALE); AR_EINVAL if
   * the scope is already ended or moved from (ar_last_error() is then left as it was); never
   * throws. */
  int end() noexcept {
    if (!active_) return AR_EINVAL;
    active_ = false;
    return ar_scope_end(&s_);
  }
  /** The thread arena to allocate from (also after end(): it is the thread's arena).
   * Errors: none. */
  ar_arena_t *get() const noexcept { return s_.arena; }
  /** True until end() or a move. Errors: none. */
  bool active() const noexcept { return active_; }
  /** ar_alloc_aligned on the scope's arena. Errors: returns null (the errors of ar_alloc);
   * never throws. */
  void *allocate(std::size_t size, std::size_t align = AR_ALIGN_DEFAULT) noexcept {
    return ar_alloc_aligned(s_.arena, size, align);
  }

 private:
  ar_scope_t s_;
  bool active_;
};

/**
 * A std::pmr::memory_resource over a serial arena (not owned: the arena must outlive every
 * container using this resource, and its owner-thread rule applies to every allocation).
 * Deallocation is a no-op (policy keep) or ar_free (policy give_back, for alignments up to
 * AR_ALIGN_DEFAULT; larger alignments are kept until reset either way).
 */
class arena_resource : public std::pmr::memory_resource {
 public:
  /** What do_deallocate does. */
  enum policy {
    keep,      /**< deallocate does nothing; the memory comes back at reset (the default) */
    give_back, /**< deallocate calls ar_free, so the arena reuses the block */
  };
  /** Binds to `a` (not owned). Errors: none; a null arena makes every allocation throw. */
  explicit arena_resource(ar_arena_t *a, policy p = keep) noexcept
      : a_(a), give_back_(p == give_back) {}
  /** Binds to h.get(). Errors: none. */
  explicit arena_resource(arena &h, policy p = keep) noexcept : arena_resource(h.get(), p) {}
  /** The arena behind this resource. Errors: none. */
  ar_arena_t *get() const noexcept { return a_; }

 protected:
  /** ar_alloc_aligned. Errors: throws std::bad_alloc when it returns null (ar_last_error()
   * says why: AR_EINVAL, AR_EALIGN, AR_EOVERFLOW, AR_ELIMIT, AR_ENOMEM, AR_EBUSY). */
  void *do_allocate(std::size_t bytes, std::size_t align) override {
    void *p = ar_alloc_aligned(a_, bytes, align);
    if (AR_UNLIKELY(p == nullptr)) throw std::bad_alloc();
    return p;
  }
  /** Nothing (keep), or ar_free(arena, p, bytes) (give_back, align <= AR_ALIGN_DEFAULT).
   * Errors: none; ar_free's own error (a pointer the arena does not own, in debug builds) is
   * left in ar_last_error(). */
  void do_deallocate(void *p, std::size_t bytes, std::size_t align) override {
    if (give_back_ && align <= AR_ALIGN_DEFAULT) (void)ar_free(a_, p, bytes);
  }
  /** Equal to another arena_resource over the same arena. Errors: none. */
  bool do_is_equal(const std::pmr::memory_resource &o) const noexcept override {
    const arena_resource *r = dynamic_cast<const arena_resource *>(&o);
    return r != nullptr && r->a_ == a_;
  }

 private:
  ar_arena_t *a_;
  bool give_back_;
};

/**
 * A std::pmr::memory_resource that allocates from the calling thread's arena
 * (ar_thread_arena()), that is, inside whatever scope is innermost on that thread when
 * allocate is called. Memory lives until that scope ends (or the thread exits, for memory
 * taken outside any scope). The resource itself holds no state, so one object may serve every
 * thread, but a container must not be used from a thread other than the one that filled it:
 * its memory lies in that thread's arena. Deallocation is a no-op.
 */
class thread_resource : public std::pmr::memory_resource {
 protected:
  /** ar_alloc_aligned(ar_thread_arena(), ...). Errors: throws std::bad_alloc when the thread
   * arena cannot be created or the allocation fails (see ar_last_error()). */
  void *do_allocate(std::size_t bytes, std::size_t align) override {
    void *p = ar_alloc_aligned(ar_thread_arena(), bytes, align);
    if (AR_UNLIKELY(p == nullptr)) throw std::bad_alloc();
    return p;
  }
  /** Nothing: the memory comes back when the scope ends. Errors: none. */
  void do_deallocate(void *, std::size_t, std::size_t) override {}
  /** Equal to any other thread_resource (all allocate from the calling thread's arena).
   * Errors: none. */
  bool do_is_equal(const std::pmr::memory_resource &o) const noexcept override {
    return dynamic_cast<const thread_resource *>(&o) != nullptr;
  }
};

/**
 * A std::pmr::memory_resource over a ConcurrentArena (not owned): allocate may be called from
 * any number of threads at once. Deallocation is a no-op; the memory comes back at
 * ar_concurrent_reset or destroy, which need quiescence, so every container using it must be
 * finished with first.
 */
class concurrent_resource : public std::pmr::memory_resource {
 public:
  /** Binds to `a` (not owned). Errors: none; a null arena makes every allocation throw. */
  explicit concurrent_resource(ar_concurrent_t *a) noexcept : a_(a) {}
  /** Binds to h.get(). Errors: none. */
  explicit concurrent_resource(concurrent_arena &h) noexcept : a_(h.get()) {}
  /** The arena behind this resource. Errors: none. */
  ar_concurrent_t *get() const noexcept { return a_; }

 protected:
  /** ar_concurrent_alloc_aligned. Errors: throws std::bad_alloc when it returns null
   * (AR_EINVAL, AR_EALIGN, AR_EOVERFLOW, AR_ELIMIT, AR_ENOMEM in ar_last_error()). */
  void *do_allocate(std::size_t bytes, std::size_t align) override {
    void *p = ar_concurrent_alloc_aligned(a_, bytes, align);
    if (AR_UNLIKELY(p == nullptr)) throw std::bad_alloc();
    return p;
  }
  /** Nothing. Errors: none. */
  void do_deallocate(void *, std::size_t, std::size_t) override {}
  /** Equal to another concurrent_resource over the same arena. Errors: none. */
  bool do_is_equal(const std::pmr::memory_resource &o) const noexcept override {
    const concurrent_resource *r = dynamic_cast<const concurrent_resource *>(&o);
    return r != nullptr && r->a_ == a_;
  }

 private:
  ar_concurrent_t *a_;
};

/**
 * A standard allocator (C++17 Allocator requirements) over a serial arena, for containers that
 * take an allocator type rather than a memory resource (std::vector<T, arenart::allocator<T>>).
 * It holds only the arena pointer, so copies are cheap and equal when they name the same
 * arena. deallocate is a no-op. Move assignment and swap of containers carry the allocator
 * along (propagate_on_container_move_assignment and _swap are true); copy assignment keeps the
 * target's (false), as std::allocator_traits then copies elements into the target's arena.
 */
template <class T>
class allocator {
 public:
  /** The element type (Allocator requirement). */
  using value_type = T;
  /** Move assignment of a container moves the allocator (and so the arena) along. */
  using propagate_on_container_move_assignment = std::true_type;
  /** Swapping containers swaps their allocators. */
  using propagate_on_container_swap = std::true_type;
  /** Copy assignment keeps the target's arena; elements are copied into it. */
  using propagate_on_container_copy_assignment = std::false_type;
  /** Two allocators are equal only when they name the same arena. */
  using is_always_equal = std::false_type;

  /** Binds to `a` (not owned). Errors: none. */
  explicit allocator(ar_arena_t *a) noexcept : a_(a) {}
  /** Binds to h.get(). Errors: none. */
  explicit allocator(arena &h) noexcept : a_(h.get()) {}
  /** Rebinding copy. Errors: none. */
  template <class U>
  allocator(const allocator<U> &o) noexcept : a_(o.get()) {}

  /** n objects' worth of memory, aligned for T (ar_alloc_aligned, n * sizeof(T) checked).
   * Errors: throws std::bad_alloc on failure, including n * sizeof(T) overflowing. */
  T *allocate(std::size_t n) {
    std::size_t bytes;
    if (__builtin_mul_overflow(n, sizeof(T), &bytes)) throw std::bad_alloc();
    void *p = ar_alloc_aligned(a_, bytes, alignof(T));
    if (AR_UNLIKELY(p == nullptr)) throw std::bad_alloc();
    return static_cast<T *>(p);
  }
  /** Nothing: the memory comes back with the arena's. Errors: none. */
  void deallocate(T *, std::size_t) noexcept {}
  /** The arena behind this allocator. Errors: none. */
  ar_arena_t *get() const noexcept { return a_; }

 private:
  ar_arena_t *a_;
};

/** Same arena. Errors: none. */
template <class T, class U>
bool operator==(const allocator<T> &a, const allocator<U> &b) noexcept {
  return a.get() == b.get();
}
/** Different arenas. Errors: none. */
template <class T, class U>
bool operator!=(const allocator<T> &a, const allocator<U> &b) noexcept {
  return a.get() != b.get();
}

}  // namespace arenart

#endif /* ARENART_ARENART_HPP */

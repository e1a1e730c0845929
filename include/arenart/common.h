/* SPDX-License-Identifier: MIT */
/**
 * @file
 * @brief Version, error codes and the macros every arenart header shares.
 *
 * Errors: functions that return a pointer return NULL on failure; functions that return `int`
 * return AR_OK (0) on success or an ar_error_t code. Either way the failure is also recorded in
 * a thread-local "last error" (like errno), readable with ar_last_error(). A successful call
 * does not clear it.
 *
 * Synchronization: every function here is thread-safe (the last error is per thread).
 */
#ifndef ARENART_COMMON_H
#define ARENART_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Major version: changes when the ABI does (it is the shared library's soname number). */
#define AR_VERSION_MAJOR 0
/** Minor version: new API, compatible with older callers. */
#define AR_VERSION_MINOR 1
/** Patch version: fixes only. */
#define AR_VERSION_PATCH 0
/** "MAJOR.MINOR.PATCH" of these headers; compare with ar_version() for the library's. */
#define AR_VERSION_STRING "0.1.0"

#if defined(_WIN32)
#define AR_API
#else
/** Marks a function exported from the library (the library builds with hidden visibility). */
#define AR_API __attribute__((visibility("default")))
#endif

#if defined(__GNUC__) || defined(__clang__)
/** Branch hint: `x` is usually true. */
#define AR_LIKELY(x) __builtin_expect(!!(x), 1)
/** Branch hint: `x` is usually false. */
#define AR_UNLIKELY(x) __builtin_expect(!!(x), 0)
/** Attribute of allocation functions: fresh memory that aliases nothing; use the result. */
#define AR_MALLOC_LIKE __attribute__((malloc, warn_unused_result))
/** Attribute: argument `n` is the size of the returned block (for bounds checkers). */
#define AR_ALLOC_SIZE(n) __attribute__((alloc_size(n)))
/** Attribute: arguments `n` * `m` are the size of the returned block. */
#define AR_ALLOC_SIZE2(n, m) __attribute__((alloc_size(n, m)))
/** Attribute: argument `f` is a printf format, checked against the arguments from `a` on. */
#define AR_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define AR_LIKELY(x) (x)
#define AR_UNLIKELY(x) (x)
#define AR_MALLOC_LIKE
#define AR_ALLOC_SIZE(n)
#define AR_ALLOC_SIZE2(n, m)
#define AR_PRINTF(f, a)
#endif

#ifdef __cplusplus
#define AR_ALIGNOF(T) alignof(T)
#else
/** The alignment of type `T`, in C and in C++. */
#define AR_ALIGNOF(T) _Alignof(T)
#endif

/** The largest `size` an options struct (ar_options_t, ar_arena_pool_options_t,
 * ar_map_options_t, ar_numa_options_t) may declare: 4096 bytes. Every options struct starts
 * with `size_t size`, which its `*_init` function and `*_INIT` macro set to its sizeof, so a
 * minor version can add fields at the end (docs/abi.md). A larger value is taken for garbage
 * (an options struct that was never initialised) and refused with AR_EINVAL, as is one that is
 * not a multiple of 8 (the structs' alignment); 0 means a zero-initialised struct of the first
 * sized layout (version 0.1.0). */
#define AR_OPTIONS_MAX_SIZE ((size_t)4096)

/** Error codes. Every public function documents which of these it can return. */
typedef enum ar_error {
  AR_OK = 0,        /**< success */
  AR_EINVAL = 1,    /**< NULL arena or pointer argument, or an argument out of its domain */
  AR_EALIGN = 2,    /**< alignment is zero or not a power of two */
  AR_EOVERFLOW = 3, /**< size arithmetic (count * size, size + padding) would overflow */
  AR_ELIMIT = 4,    /**< the arena's byte limit would be exceeded */
  AR_ENOMEM = 5,    /**< the memory source failed to provide a chunk */
  AR_EBUSY = 6,     /**< the arena is running cleanups and may not allocate */
  AR_ESTALE = 7,    /**< a mark that no longer names a live position (after reset or rewind) */
  AR_ECORRUPT = 8,  /**< an internal invariant does not hold (ar_arena_check) */
} ar_error_t;

/** The calling thread's most recent error (AR_OK if none since start or ar_clear_error()).
 * Thread-safe: each thread has its own. */
AR_API ar_error_t ar_last_error(void);

/** Sets the calling thread's last error to AR_OK. */
AR_API void ar_clear_error(void);

/** A static, human-readable description of `err`; never NULL (unknown codes say so).
 * Thread-safe; the string must not be freed. */
AR_API const char *ar_strerror(ar_error_t err);

/** The library's version string, AR_VERSION_STRING of the build that made the library. */
AR_API const char *ar_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ARENART_COMMON_H */

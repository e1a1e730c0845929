/* SPDX-License-Identifier: MIT */
/*
 * bench/driver.h - what the files of the driver (//bench's parent process) share.
 *
 * The driver is one program split by job, and the jobs meet in a handful of globals rather
 * than in long parameter lists: the options, the results table, the callgrind figures, the
 * goals and the machine's description. A global is fine here because the driver is a single
 * thread that runs its jobs one after the other; what keeps it honest is that each global has
 * exactly one writer, named below, and is only read once its writer is done with it. Each is
 * defined in the file its section names, never in a file above one that uses it.
 *
 * Which file uses which (a call or a global), always downward:
 *
 *   driver.c     main: the order of the jobs, the repeat loop; uses every file below
 *   json.c       bench.json          -> report, callgrind, machine, results, options, catalog
 *   plot.c       bench.png           -> machine, results, spawn, options, catalog
 *   report.c     tables, goals       -> callgrind (cg_instr), results, catalog
 *   callgrind.c  instructions/alloc  -> run, spawn, options, catalog
 *   run.c        one measurement     -> spawn, results, options, catalog
 *   machine.c    machine, commit     -> spawn
 *   options.c    the command line    -> catalog (the workload names)
 *   results.c    samples, medians    -> nothing of the driver's
 *   catalog.c    peers, workloads    -> nothing
 *   spawn.c      child processes     -> nothing
 *
 * No two of these files call each other.
 */
#ifndef AR_BENCH_DRIVER_H
#define AR_BENCH_DRIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bench/bench.h"

/* ---- catalog.c: the allocators and the workloads (constant) ---------------------------- */

typedef struct peer {
  const char *name;   /* as printed */
  const char *binary; /* NULL: this binary; else a sibling worker binary */
  const char *wname;  /* the allocator's name inside the worker */
  const char *cident; /* its identifier in the callgrind dumps */
  const char *expect; /* substring of the library that must provide malloc, or NULL */
  const char *how;    /* how the peer is reached, for the report */
} peer_t;

enum {
  NPEERS = 15,
  P_ARENART = 0,
  P_ARTHREAD = 1,
  P_CONCUR = 2,
  P_BUMP = 3,
  P_KEEP16 = 4,
  P_LEASE = 5
};

extern const peer_t peers[NPEERS];
extern const char *const colors[NPEERS]; /* one per allocator in every panel of the plot */
extern const char *const wnames[W_COUNT];
extern const char *const wtitles[W_COUNT];

int peer_index(const char *name); /* -1 if no peer has that name */

/* ---- options.c: the command line (written by options_parse before any job runs; read-only
 * after) ------------------------------------------------------------------------------------ */

typedef struct options {
  bool quick, callgrind, plot;
  int repeats, threads;
  bool run_w[W_COUNT];
  const char *json;
  char out[4096];
  char self[4096], dir[4096]; /* this binary, and the folder of its sibling workers */
} options_t;

extern options_t opt;

/* Fills opt from the arguments, finds this binary and creates opt.out. Returns -1 to go on,
 * else the exit status (0 after --help; messages on stderr). */
int options_parse(int argc, char **argv);
/* A path from the command line, relative to where `bazel run` was started. */
void resolve(const char *in, char *buf, size_t size);

/* ---- results.c: every sample (written by run.c during the repeats; read after) ---------- */

enum { MAX_REP = 31, MAX_KEYS = 40, KEY_LEN = 16 };

typedef struct cell {
  double v[MAX_REP];
  int rep[MAX_REP]; /* which repeat each sample came from */
  int n;
} cell_t;

typedef struct series {
  double *x, *y;
  int n, cap;
} series_t;

typedef struct wres {
  int nkeys;
  char keys[MAX_KEYS][KEY_LEN];
  bool timed[MAX_KEYS];
  cell_t fig[MAX_KEYS][NPEERS];
  cell_t rss[NPEERS]; /* MiB, peak resident of the worker process */
  char na[NPEERS][200];
  bool hidden[NPEERS];
  bool failed[NPEERS];
  series_t ser[NPEERS];
} wres_t;

extern wres_t res[W_COUNT];
extern int reps_done; /* repeats completed; written by driver.c's repeat loop */

double median(const cell_t *c); /* NaN if empty */
/* The column of `key` in `r`, added (timed or not) if new; -1 when the table is full. */
int key_index(wres_t *r, const char *key, bool timed);
void series_add(series_t *s, double x, double y);
double fig(int w, const char *key, int pi); /* a median by workload and key; NaN: none */
double paired_ratio(int w, const char *key, int pa, int pb);
double summary_ratio(const wres_t *r, int pi); /* geometric mean of pi/arenart, timed */
/* Paired against the fastest of `set` per repeat; invert: best/a rather than a/best. */
double paired_ratio_best(int w, const char *key, int pa, const int *set, int nset, bool invert);

/* ---- spawn.c: child processes -------------------------------------------------------------- */

/* Runs argv[0] with stdout captured (stderr to `errfd` if >= 0); returns what it printed
 * (malloc'd) or NULL; *status and *maxrss (KiB) from wait4. */
char *run_capture(char *const argv[], int errfd, int *status, long *maxrss);
bool find_in_path(const char *prog, char *buf, size_t size);

/* ---- run.c: one measurement ---------------------------------------------------------------- */

void binary_path(const peer_t *p, char *buf, size_t size);
/* Runs workload w on peer pi in a fresh worker process; its samples go into res[w] as
 * repeat `rep`; `series`: also collect the S records. */
void run_worker(int w, int pi, int rep, bool series);

/* ---- callgrind.c: the fast path's instructions (written by callgrind_report) ------------- */

extern double cg_instr[NPEERS]; /* instructions per allocation; < 0: not measured */
/* The same in a loop whose handle was tested once before it (the arenart peers only). */
extern double cg_instr_checked[NPEERS];

/* Measures (unless opt.callgrind is off) and prints the callgrind section; afterwards
 * cg_instr holds only the fast-path figures worth keeping. */
void callgrind_report(void);

/* ---- report.c: the tables and the goals (goals written by compute_goals) ------------------ */

/* A goal row: the measured value, what it was measured against, the bar. "met" is decided on
 * the value as printed (GOAL_DECIMALS places), so a printed 12.01 never passes "<= 12". */
enum { MAX_GOALS = 24, GOAL_DECIMALS = 2 };
typedef struct goal {
  const char *id;   /* stable key: the history script matches runs on it */
  const char *what; /* the row, as printed */
  double value;     /* NaN or negative: not measured */
  const char *unit; /* "x" for ratios, "" for counts */
  char ref[128];    /* the reference measured in the same run, in words */
  const char *cmp;  /* "<=" or ">=" */
  double target;
} goal_t;

extern goal_t goals[MAX_GOALS];
extern int ngoals;

void print_workload(int w);
void compute_goals(void); /* after callgrind_report: two goals are its figures */
void print_goals(void);
/* The value rounded to the printed precision; NaN if not measured. */
double goal_printed(const goal_t *g);
int goal_met(const goal_t *g); /* 1 met, 0 not, -1 not measured */

/* ---- machine.c: where it ran (written by describe_*, before the repeats) ---------------- */

extern char machine[512], loadavg[64], commit[64];

void describe_machine(void);
void describe_commit(void);

/* ---- json.c, plot.c: the files ------------------------------------------------------------- */

int write_json(const char *path, double elapsed); /* 0, or -1 with a message on stderr */
/* Writes the plot data and script under opt.out and runs gnuplot; true if bench.png was
 * written, else false with the reason in `note`. */
bool write_plot(char *note, size_t note_size);

#endif /* AR_BENCH_DRIVER_H */

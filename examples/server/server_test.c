/* SPDX-License-Identifier: MIT */
/*
 * examples/server/server_test.c - runs every test of the example server, over loopback.
 *
 * The tests live in the file of the unit they exercise (test_support.h lists them and says
 * how they start the server and wait for it); this table runs them in one fixed order. The
 * same sources are built against both flavors (server_test, server_malloc_test).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "examples/server/test_support.h"

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_errors),
      cmocka_unit_test_setup_teardown(test_root, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_json, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_keep_alive, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_limits, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_bad_requests, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_disconnects, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_stats, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_memory_bounded, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_timeouts, start_server_short_timeouts, stop_server),
      cmocka_unit_test_setup_teardown(test_write_stall, start_server_short_timeouts, stop_server),
      cmocka_unit_test_setup_teardown(test_failed_start_keeps_config, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_worker_failure, start_server, stop_server),
      cmocka_unit_test_setup_teardown(test_conn_cap, start_server_capped, stop_server),
      cmocka_unit_test(test_json_numbers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs an example program, which checks its own output and exits non-zero on a mismatch.
exec "$1"

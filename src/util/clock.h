/**
 * @file clock.h
 * The one monotonic clock every layer measures intervals with (cache
 * TTLs, read-error holds, the HTTP stall timeout).
 */
#ifndef ETAGFS_UTIL_CLOCK_H
#define ETAGFS_UTIL_CLOCK_H

#include <stdint.h>

/** Monotonic milliseconds (CLOCK_MONOTONIC): never jumps with the wall
 * clock. */
uint64_t clock_monotonic_ms(void);

#endif

/*
 * SipHash-2-4 (Aumasson and Bernstein): a keyed hash, so the prober's
 * initial sequence numbers cannot be guessed by whoever sees some of them.
 */
#ifndef TCPWATCH_SIPHASH_H
#define TCPWATCH_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The 64-bit value of the reference siphash() (its 8 output bytes read
 * little-endian). */
uint64_t siphash24(const uint8_t key[16], const void *msg, size_t len);

#endif

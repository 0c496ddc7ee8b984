/*
 * The table across a restart: the retained closed connections and the
 * live ones with their histories, written to a file and read back. Pure
 * functions over the table and a stdio stream; the file's path, its
 * rename into place and what to do with a bad one are the caller's
 * (daemon/statefile.c).
 *
 * The format (version 1), every integer little-endian of fixed width:
 *
 *   header, 64 bytes: magic "TWSTATE\0", u32 version, u32 header bytes
 *     (64), u64 CLOCK_REALTIME and u64 CLOCK_MONOTONIC at the save (ns),
 *     the boot id (16 bytes), u32 records, u32 gap windows, u32 a
 *     record's fixed bytes (PERSIST_RECORD_FIXED), u32 CRC32 of the 60
 *     bytes before it
 *   the gap windows (gaps.h): u64 start and u64 end (ns) each, u64 the
 *     end of those forgotten, u32 CRC32 of them
 *   records, each: u32 body bytes, the body (PERSIST_RECORD_FIXED bytes
 *     of the connection, then 16 bytes per history entry), u32 CRC32 of
 *     the length and the body
 *   and nothing after the last record.
 *
 * The retained connections come first, oldest closed first, so that
 * loading them in file order rebuilds the retention queue; the live ones
 * follow. Times are CLOCK_MONOTONIC, which runs on across a daemon's
 * restart within a boot: they are kept as they are, and the time the
 * daemon was down (the save to the load) becomes a gap window, so every
 * connection alive across it is marked history_gap. A file of another
 * boot (its boot id) restores nothing: no socket survives a reboot, and
 * a closed connection of the previous boot has a time before this boot's
 * CLOCK_MONOTONIC began, which the table cannot hold.
 *
 * Nothing in the file is trusted: every length and count is bounded, every
 * field checked against its range, every record's CRC checked, and the
 * whole file is checked before the table is touched, so a bad file
 * changes nothing.
 */
#ifndef TCPWATCH_PERSIST_H
#define TCPWATCH_PERSIST_H

#include <stdint.h>
#include <stdio.h>

#include "conntable.h"

#define PERSIST_VERSION      1
#define PERSIST_HEADER_BYTES 64
#define PERSIST_RECORD_FIXED 252 /* a record's body without its history */
#define PERSIST_HIST_BYTES   16  /* a history entry in the file */
/* Bounds of a file: history-max's and max-connections + retain-count's
 * largest settings (base/config.c), so a file any configuration wrote
 * loads under any other (the table then applies its own bounds). */
#define PERSIST_HIST_MAX    4096u
#define PERSIST_RECORDS_MAX 60000000u
/* A record's time may be this much after the header's save time (an
 * event stamped while the save began). */
#define PERSIST_TIME_SLACK_NS 1000000000ull

/* When and where a file is written or read. */
struct tw_persist_clock {
	uint64_t realtime_ns;
	uint64_t monotonic_ns;
	uint8_t boot_id[16]; /* /proc/sys/kernel/random/boot_id */
};

struct tw_persist_save_stats {
	uint64_t records;  /* connections written */
	uint64_t retained; /* of them closed ones */
};

struct tw_persist_load_stats {
	uint64_t live;          /* live connections restored */
	uint64_t retained;      /* closed connections restored */
	uint64_t refused;       /* records the table could not take (full, no memory) */
	uint64_t duplicates;    /* records of a cookie already in the table */
	uint64_t other_boot;    /* records not restored: the file is of another boot */
	uint64_t saved_mono_ns; /* the file's save time (CLOCK_MONOTONIC of its boot) */
	uint64_t saved_real_ns; /* and as CLOCK_REALTIME */
};

/*
 * Writes every live and retained connection of t but request sockets to
 * f (at its position), stamped with now. Leaves flushing and syncing to
 * the caller. 0, -ENOMEM, or -EIO when f failed; *ret is filled on 0.
 */
int persist_save(struct tw_conntable *t, FILE *f, const struct tw_persist_clock *now,
		 struct tw_persist_save_stats *ret);

/*
 * Reads a file written by persist_save from f (seekable, read twice:
 * checked whole, then applied) into t. Records of this boot are restored:
 * retained ones to the retention queue in their order, live ones as live
 * connections for the next reconcile to judge, the file's gap windows and
 * one from its save to now (the daemon did not see what happened while
 * it was down). 0 with *ret filled; -EBADMSG (corrupt, truncated,
 * not a state file), -ENOTSUP (a newer version), -ENOMEM or -EIO, with a
 * message in err; on any error t is unchanged.
 */
int persist_load(struct tw_conntable *t, FILE *f, const struct tw_persist_clock *now,
		 struct tw_persist_load_stats *ret, char *err, size_t err_len);

/* CRC-32 (IEEE 802.3, zlib's crc32) of len bytes, continuing from crc
 * (0 to begin). */
uint32_t persist_crc32(uint32_t crc, const void *data, size_t len);

#endif

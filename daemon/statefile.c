/* The state file's path, its atomic replacement, and bad files set aside. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "persist.h"
#include "statefile.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
#define IO_BUFFER    (1u << 20)

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n" into 16 bytes. */
static int read_boot_id(uint8_t ret[16])
{
	char text[64], *s = text;
	FILE *f = fopen(BOOT_ID_PATH, "re");
	uint8_t id[16] = {0};
	int n = 0;

	if (!f)
		return -errno;
	if (!fgets(text, sizeof(text), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	for (; *s && *s != '\n' && n < 32; s++) {
		int v = *s >= '0' && *s <= '9'   ? *s - '0'
			: *s >= 'a' && *s <= 'f' ? *s - 'a' + 10
						 : -1;

		if (*s == '-')
			continue;
		if (v < 0)
			return -EINVAL;
		id[n / 2] = (uint8_t)(n % 2 ? id[n / 2] | v : v << 4);
		n++;
	}
	if (n != 32)
		return -EINVAL;
	memcpy(ret, id, 16);
	return 0;
}

void statefile_init(struct tw_statefile *sf, const char *dir)
{
	int r;

	memset(sf, 0, sizeof(*sf));
	if (!dir[0] || !strcmp(dir, "none"))
		return;
	snprintf(sf->dir, sizeof(sf->dir), "%s", dir);
	r = read_boot_id(sf->boot_id);
	if (r < 0) {
		/* Without it a file of the last boot would pass for this one's. */
		log_warn("state: cannot read %s (%s): the table is not kept across restarts",
			 BOOT_ID_PATH, strerror(-r));
		return;
	}
	sf->enabled = true;
}

static void path_of(const struct tw_statefile *sf, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", sf->dir, name);
}

static void now_clock(const struct tw_statefile *sf, struct tw_persist_clock *c)
{
	c->realtime_ns = clock_wall_ns();
	c->monotonic_ns = clock_mono_ns();
	memcpy(c->boot_id, sf->boot_id, 16);
}

/* The bad file out of the way, kept for a look: state.bad-TIMESTAMP. */
static void set_aside(struct tw_statefile *sf, const char *path)
{
	char bad[512], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(bad, sizeof(bad), "%s/state.bad-%s", sf->dir, stamp);
	if (rename(path, bad) < 0) {
		log_err("state: cannot set %s aside as %s: %s", path, bad, strerror(errno));
		return;
	}
	sf->set_aside++;
	log_warn("state: %s set aside as %s", path, bad);
}

void statefile_load(struct tw_statefile *sf, struct tw_conntable *t)
{
	struct tw_persist_load_stats st;
	struct tw_persist_clock now;
	char path[512], err[256] = "";
	struct stat sb;
	FILE *f;
	int fd, r;

	if (!sf->enabled)
		return;
	path_of(sf, "state", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT) {
			log_info("state: no %s: starting empty", path);
			return;
		}
		sf->load_errors++;
		log_err("state: cannot open %s: %s; starting empty", path, strerror(errno));
		if (errno == ELOOP)
			set_aside(sf, path);
		return;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		sf->load_errors++;
		log_err("state: %s is not a regular file; starting empty", path);
		set_aside(sf, path);
		return;
	}
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		sf->load_errors++;
		log_err("state: %s: %s; starting empty", path, strerror(errno));
		return;
	}
	setvbuf(f, NULL, _IOFBF, IO_BUFFER);
	now_clock(sf, &now);
	r = persist_load(t, f, &now, &st, err, sizeof(err));
	fclose(f);
	if (r < 0) {
		sf->load_errors++;
		log_err("state: %s does not load: %s; starting empty", path, err);
		/* Memory or a read error is no fault of the file's. */
		if (r == -EBADMSG || r == -ENOTSUP)
			set_aside(sf, path);
		return;
	}
	sf->loaded = st.live + st.retained;
	sf->restored_live = st.live;
	if (st.other_boot) {
		log_info("state: %s is of another boot: its %llu connections are not restored",
			 path, (unsigned long long)st.other_boot);
		return;
	}
	log_info("state: restored %llu live and %llu closed connections from %s, saved %.1f s "
		 "ago%s",
		 (unsigned long long)st.live, (unsigned long long)st.retained, path,
		 (double)(now.monotonic_ns - st.saved_mono_ns) / 1e9,
		 st.refused || st.duplicates ? " (some refused: the table is full)" : "");
}

/* Writes, syncs and renames; the directory synced last. */
static int save(struct tw_statefile *sf, struct tw_conntable *t, const char *tmp, const char *path)
{
	struct tw_persist_save_stats st;
	struct tw_persist_clock now;
	FILE *f;
	int fd, r;

	/* A directory that does not exist yet (outside systemd's
	 * StateDirectory=): made, one level. */
	if (mkdir(sf->dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		return r;
	}
	setvbuf(f, NULL, _IOFBF, IO_BUFFER);
	now_clock(sf, &now);
	r = persist_save(t, f, &now, &st);
	if (fflush(f) != 0 && r == 0)
		r = -errno;
	if (r == 0 && fsync(fileno(f)) < 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	if (r < 0)
		return r;
	if (rename(tmp, path) < 0)
		return -errno;
	fd = open(sf->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

int statefile_save(struct tw_statefile *sf, struct tw_conntable *t)
{
	char path[512], tmp[512];
	uint64_t t0 = clock_mono_ns();
	int r;

	if (!sf->enabled)
		return 0;
	path_of(sf, "state", path, sizeof(path));
	path_of(sf, "state.tmp", tmp, sizeof(tmp));
	r = save(sf, t, tmp, path);
	if (r < 0) {
		sf->save_errors++;
		unlink(tmp);
		log_err("state: cannot save to %s: %s", path, strerror(-r));
		return r;
	}
	sf->saves++;
	sf->last_save_ms = (double)(clock_mono_ns() - t0) / 1e6;
	log_debug("state: saved to %s in %.1f ms", path, sf->last_save_ms);
	return 0;
}

void statefile_report(const struct tw_statefile *sf, struct tw_stats *s)
{
	stats_counter(s, "state_saved", sf->saves);
	stats_counter(s, "state_save_errors", sf->save_errors);
	stats_real(s, "state_last_save_ms", sf->last_save_ms);
	stats_gauge(s, "state_loaded", sf->loaded);
	stats_counter(s, "state_load_errors", sf->load_errors);
	stats_counter(s, "state_set_aside", sf->set_aside);
}

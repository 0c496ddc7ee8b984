/* Logging for the top of the daemon (main, loop handlers); library
 * modules return errors instead. Lines go to stderr, which systemd's
 * journal picks up; the <N> prefix carries the syslog priority there. */
#ifndef TCPWATCH_LOG_H
#define TCPWATCH_LOG_H

enum log_level {
	LOG_LEVEL_ERR = 3,
	LOG_LEVEL_WARNING = 4,
	LOG_LEVEL_INFO = 6,
	LOG_LEVEL_DEBUG = 7
};

void log_set_level(int level);
void log_set_journal(int on); /* prefix lines with <priority> */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif

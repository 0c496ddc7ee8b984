/* Talking to the service manager: sd_notify without libsystemd, and
 * detaching when not run in the foreground. */
#ifndef TCPWATCH_SERVICE_H
#define TCPWATCH_SERVICE_H

/* Sends a state string ("READY=1", "STOPPING=1", "STATUS=...") to
 * $NOTIFY_SOCKET if set. 0, or negative errno. */
int service_notify(const char *state);
/* The watchdog interval systemd asks for ($WATCHDOG_USEC, for this
 * process if $WATCHDOG_PID names one), in ms; 0 if none. */
unsigned service_watchdog_ms(void);
/* Forks into the background; the parent exits once the child is set up.
 * Returns 0 in the child, negative errno on failure. */
int service_daemonize(void);

#endif

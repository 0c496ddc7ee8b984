/*
 * tcpwatch probe: the daemon's prober on demand. One line per probe as
 * hping3 prints them, a summary as nping's; --trace a hop per line as
 * traceroute's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "client.h"
#include "fetch.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int signo)
{
	(void)signo;
	interrupted = 1;
}

static int usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "tcpwatch probe: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
	fprintf(stderr, "usage: tcpwatch probe HOST:PORT [-c COUNT] [-i INTERVAL] [-w TIMEOUT] "
			"[-4|-6] [--netns PATH|INODE] [--trace] [--half-open]\n");
	return 2;
}

static int parse_secs(const char *s, double *ret)
{
	char *end;
	double v;

	if ((*s < '0' || *s > '9') && *s != '.')
		return -EINVAL;
	v = strtod(s, &end);
	if (*end || !(v >= 0) || v > 86400)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* HOST:PORT or [HOST]:PORT to the literal the daemon takes. */
static int resolve(const char *arg, int family, char *out, size_t len)
{
	char host[256];
	const char *colon = strrchr(arg, ':');
	struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM}, *ai;
	char addr[INET6_ADDRSTRLEN];
	size_t n;
	int r;

	if (!colon || colon == arg || !colon[1])
		return -EINVAL;
	n = (size_t)(colon - arg);
	if (arg[0] == '[' && n > 2 && arg[n - 1] == ']')
		arg++, n -= 2;
	if (n >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg, n);
	host[n] = '\0';
	r = getaddrinfo(host, NULL, &hints, &ai);
	if (r) {
		fprintf(stderr, "tcpwatch probe: %s: %s\n", host, gai_strerror(r));
		return -ENOENT;
	}
	if (ai->ai_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, addr,
			  sizeof(addr));
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr,
			  sizeof(addr));
	snprintf(out, len, ai->ai_family == AF_INET6 ? "[%s]:%s" : "%s:%s", addr, colon + 1);
	freeaddrinfo(ai);
	return 0;
}

/* Sends method path body; the reply parsed if 2xx, else the error printed. */
static cJSON *request(const struct cli_opts *o, const char *method, const char *path,
		      const char *body, char **ret_raw)
{
	struct tw_reply r;
	char err[512], msg[512];
	cJSON *j;

	if (client_request(o->socket_path, method, path, body, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "tcpwatch: %s\n", err);
		return NULL;
	}
	j = r.body ? cli_json_parse(r.body, r.len) : NULL;
	if (r.status < 200 || r.status > 299) {
		fprintf(stderr, "tcpwatch probe: %s (HTTP %d)\n",
			json_str_safe(j, "error", "request failed", msg, sizeof(msg)), r.status);
		cJSON_Delete(j);
		j = NULL;
	} else if (!j) {
		fprintf(stderr, "tcpwatch probe: malformed reply from tcpwatchd\n");
	} else if (ret_raw) {
		free(*ret_raw);
		*ret_raw = r.body; /* the numbers as the daemon wrote them */
		r.body = NULL;
	}
	reply_free(&r);
	return j;
}

static void ms_text(const cJSON *v, char *out, size_t len)
{
	if (cJSON_IsNumber(v))
		snprintf(out, len, "%.3f ms", v->valuedouble / 1000);
	else
		snprintf(out, len, "no rtt");
}

static void print_probe(const char *target, const cJSON *p)
{
	const char *state = json_str(p, "state", "?");
	char rtt[32], from[64], opts[32];
	const cJSON *icmp = cJSON_GetObjectItem(p, "icmp");

	ms_text(cJSON_GetObjectItem(p, "rtt_us"), rtt, sizeof(rtt));
	printf("%s seq=%.0f %s", target, json_num(p, "seq", 0), state);
	if (!strcmp(state, "closed")) {
		printf(" ttl=%.0f", json_num(p, "ttl", 0));
	} else if (!strcmp(state, "open")) {
		printf(" ttl=%.0f win=%.0f", json_num(p, "ttl", 0), json_num(p, "window", 0));
		if (json_num(p, "mss", -1) >= 0)
			printf(" mss=%.0f", json_num(p, "mss", 0));
		if (json_num(p, "wscale", -1) >= 0)
			printf(" ws=%.0f", json_num(p, "wscale", 0));
		printf(" opts=%s", json_str_safe(p, "options", "", opts, sizeof(opts)));
	}
	if (cJSON_IsObject(icmp))
		printf(" icmp=%.0f/%.0f from %s", json_num(icmp, "type", 0),
		       json_num(icmp, "code", 0),
		       json_str_safe(p, "from", "?", from, sizeof(from)));
	if (!strcmp(state, "error"))
		printf(" (%s)", json_str_safe(p, "error", "?", from, sizeof(from)));
	if (!strcmp(state, "open") || !strcmp(state, "closed") || cJSON_IsObject(icmp))
		printf(" rtt=%s", rtt);
	{
		const cJSON *f, *flags = cJSON_GetObjectItem(p, "flags");

		cJSON_ArrayForEach (f, flags)
			if (cJSON_IsString(f))
				printf(" [%s]", f->valuestring);
	}
	putchar('\n');
}

static void print_summary(const char *target, const cJSON *s)
{
	double sent = json_num(s, "sent", 0), lost = json_num(s, "lost", 0);
	char v[7][24];
	const char *keys[] = {"min_us", "avg_us", "max_us", "mdev_us",
			      "p50_us", "p90_us", "p99_us"};

	printf("\n--- %s probe statistics ---\n", target);
	printf("%.0f sent, %.0f received, %.0f lost (%.1f%%), %.0f errors\n", sent,
	       json_num(s, "received", 0), lost, sent ? 100 * lost / sent : 0,
	       json_num(s, "errors", 0));
	if (json_num(s, "rtt_count", 0) < 1)
		return;
	for (int i = 0; i < 7; i++)
		snprintf(v[i], sizeof(v[i]), "%.3f", json_num(s, keys[i], 0) / 1000);
	printf("rtt min/avg/max/mdev = %s/%s/%s/%s ms, p50/p90/p99 = %s/%s/%s ms\n", v[0], v[1],
	       v[2], v[3], v[4], v[5], v[6]);
}

static void print_hops(const cJSON *job)
{
	const cJSON *hop, *p;
	char from[64], rtt[32];

	cJSON_ArrayForEach (hop, cJSON_GetObjectItem(job, "hops")) {
		const char *shown = NULL;

		printf("%2.0f ", json_num(hop, "ttl", 0));
		cJSON_ArrayForEach (p, cJSON_GetObjectItem(hop, "probes")) {
			const char *f = json_str_safe(p, "from", "*", from, sizeof(from));
			const char *state = json_str(p, "state", "?");

			if (!strcmp(state, "filtered") &&
			    !cJSON_IsObject(cJSON_GetObjectItem(p, "icmp"))) {
				printf(" *");
				continue;
			}
			if (!shown || strcmp(shown, f)) {
				printf(" %s", f);
				shown = json_str(p, "from", "*");
			}
			ms_text(cJSON_GetObjectItem(p, "rtt_us"), rtt, sizeof(rtt));
			printf("  %s", rtt);
			if (strcmp(state, "hop"))
				printf(" (%s)", state);
		}
		putchar('\n');
	}
}

/* A half-open probe's SYN-ACKs: when each came, then the lifetime. */
static void print_half_open(const cJSON *job)
{
	const cJSON *h = cJSON_GetObjectItem(job, "half_open"), *v;
	double prev = 0;
	int i = 0;

	if (!cJSON_IsObject(h))
		return;
	cJSON_ArrayForEach (v, cJSON_GetObjectItem(h, "synack_after_first_us")) {
		double t = cJSON_IsNumber(v) ? v->valuedouble : 0;

		if (i == 0)
			printf("SYN-ACK 1 at +0.000 s (the first)\n");
		else
			printf("SYN-ACK %d at +%.3f s (resent %.3f s after the last)\n", i + 1,
			       t / 1e6, (t - prev) / 1e6);
		prev = t;
		i++;
	}
	if (json_num(h, "lifetime_estimate_us", -1) >= 0)
		printf("the server gave up: %.0f SYN-ACKs resent, half-open lifetime %.3f s "
		       "(the last wait doubled)\n",
		       json_num(h, "retransmits", 0), json_num(h, "lifetime_estimate_us", 0) / 1e6);
	else
		printf("%.0f SYN-ACKs resent\n", json_num(h, "retransmits", 0));
}

/* What a finished job ends with: its hops (trace), its SYN-ACKs
 * (half-open), its statistics. */
static void print_result(const char *target, const cJSON *job, bool trace)
{
	if (trace)
		print_hops(job);
	print_half_open(job);
	print_summary(target, cJSON_GetObjectItem(job, "summary"));
}

void probe_print(const char *target, const cJSON *job, bool trace)
{
	const cJSON *p;

	if (!trace)
		cJSON_ArrayForEach (p, cJSON_GetObjectItem(job, "probes"))
			print_probe(target, p);
	print_result(target, job, trace);
}

static int run(const struct cli_opts *o, const char *body, bool trace, double interval)
{
	char path[64];
	cJSON *job = request(o, "POST", "/api/v1/probes", body, NULL), *last = NULL;
	const cJSON *p;
	char target[128];
	double id, next = 0;
	struct timespec pause;
	double wait = interval / 4;
	char *raw = NULL;
	int rc = 0;

	if (!job)
		return 1;
	id = json_num(job, "id", 0);
	snprintf(target, sizeof(target), "%s", json_str(job, "target", "?"));
	cJSON_Delete(job);
	if (!o->json && !trace)
		printf("PROBE %s (tcp syn)\n", target);
	else if (!o->json)
		printf("trace to %s, 30 hops max, tcp syn\n", target);
	wait = wait < 0.01 ? 0.01 : wait > 0.1 ? 0.1 : wait;
	pause.tv_sec = 0;
	pause.tv_nsec = (long)(wait * 1e9);
	for (;;) {
		bool done;

		if (interrupted) {
			snprintf(path, sizeof(path), "/api/v1/probes/%.0f", id);
			cJSON_Delete(request(o, "DELETE", path, NULL, NULL));
		}
		snprintf(path, sizeof(path), "/api/v1/probes/%.0f?after=%.0f", id,
			 o->json || trace ? 0 : next);
		job = request(o, "GET", path, NULL, &raw);
		if (!job) {
			rc = 1;
			break;
		}
		done = cJSON_IsTrue(cJSON_GetObjectItem(job, "done"));
		if (!o->json && !trace)
			cJSON_ArrayForEach (p, cJSON_GetObjectItem(job, "probes")) {
				print_probe(target, p);
				next = json_num(p, "seq", 0) + 1;
			}
		cJSON_Delete(last);
		last = job;
		if (done)
			break;
		nanosleep(&pause, NULL);
	}
	if (last && o->json && raw) {
		fputs(raw, stdout);
	} else if (last) {
		print_result(target, last, trace);
		if (json_num(cJSON_GetObjectItem(last, "summary"), "received", 0) < 1)
			rc = 1;
	}
	cJSON_Delete(last);
	free(raw);
	return rc;
}

int cmd_probe(const struct cli_opts *o, int argc, char **argv)
{
	const char *target = NULL, *netns = NULL;
	double count = -1, interval = 1, timeout = -1;
	bool trace = false, half_open = false;
	int family = AF_UNSPEC;
	char resolved[300], body[1024];
	cJSON *req;
	char *text;
	int r;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;

		if (!strcmp(a, "-c") || !strcmp(a, "--count")) {
			char *end;

			if (!has_value)
				return usage_error("-c needs a count", NULL);
			count = strtod(argv[++i], &end);
			if (*end || count < 1 || count != floor(count))
				return usage_error("not a count", argv[i]);
		} else if (!strcmp(a, "-i") || !strcmp(a, "--interval")) {
			if (!has_value || parse_secs(argv[++i], &interval) < 0)
				return usage_error("-i needs seconds", has_value ? argv[i] : NULL);
		} else if (!strcmp(a, "-w") || !strcmp(a, "--timeout")) {
			if (!has_value || parse_secs(argv[++i], &timeout) < 0 || timeout <= 0)
				return usage_error("-w needs seconds", has_value ? argv[i] : NULL);
		} else if (!strcmp(a, "-4")) {
			family = AF_INET;
		} else if (!strcmp(a, "-6")) {
			family = AF_INET6;
		} else if (!strcmp(a, "--netns") || !strcmp(a, "-n")) {
			if (!has_value)
				return usage_error("--netns needs a path or an inode", NULL);
			netns = argv[++i];
		} else if (!strcmp(a, "--trace") || !strcmp(a, "-t")) {
			trace = true;
		} else if (!strcmp(a, "--half-open")) {
			half_open = true;
		} else if (a[0] == '-' && a[1]) {
			return usage_error("unknown option", a);
		} else if (!target) {
			target = a;
		} else {
			return usage_error("one target only", a);
		}
	}
	if (!target)
		return usage_error("which HOST:PORT?", NULL);
	if (trace && half_open)
		return usage_error("--trace or --half-open, not both", NULL);
	r = resolve(target, family, resolved, sizeof(resolved));
	if (r == -EINVAL)
		return usage_error("not HOST:PORT or [HOST]:PORT", target);
	if (r < 0)
		return 1;
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "target", resolved);
	cJSON_AddNumberToObject(req, "count", count > 0 ? count : trace ? 3 : half_open ? 1 : 5);
	cJSON_AddNumberToObject(req, "interval", interval);
	if (timeout > 0)
		cJSON_AddNumberToObject(req, "timeout", timeout);
	cJSON_AddStringToObject(req, "mode", trace ? "trace" : half_open ? "half-open" : "syn");
	if (netns) {
		char *end;
		unsigned long ino = strtoul(netns, &end, 10);

		if (netns[0] != '/' && (*end || !ino))
			return cJSON_Delete(req),
			       usage_error("--netns takes a path or an inode", netns);
		if (netns[0] == '/')
			cJSON_AddStringToObject(req, "netns", netns);
		else
			cJSON_AddNumberToObject(req, "netns", (double)ino);
	}
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (!text || strlen(text) >= sizeof(body)) {
		free(text);
		return usage_error("arguments too long", NULL);
	}
	snprintf(body, sizeof(body), "%s", text);
	free(text);
	{
		struct sigaction sa = {.sa_handler = on_sigint};

		sigaction(SIGINT, &sa, NULL);
	}
	return run(o, body, trace, interval);
}

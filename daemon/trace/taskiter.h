/*
 * Loads and attaches bpf/tasks.bpf.c's iterators, and reads them: a
 * tw_task_source (base/tasksrc.h) for the owner map and the namespace set.
 * Attached at start-up, while the daemon has CAP_BPF and CAP_PERFMON;
 * reading them afterwards needs no capability.
 */
#ifndef TCPWATCH_TASKITER_H
#define TCPWATCH_TASKITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats.h"
#include "tasksrc.h"

struct tw_tasks;

/* NULL with a reason in err if the kernel cannot run them (no BTF, an old
 * kernel, no privileges): the daemon then reads /proc. */
struct tw_tasks *tasks_open(char *err, size_t err_len);
void tasks_close(struct tw_tasks *t);
/* The source the readers take (valid until tasks_close). */
struct tw_task_source tasks_source(struct tw_tasks *t);
/* True if the namespaces the iterator reports carry ids, so they open by
 * file handle (Linux 6.18); before, a process's namespace is opened by
 * /proc/PID/ns/net, which needs CAP_SYS_PTRACE for other users'. */
bool tasks_netns_handles(struct tw_tasks *t);
/* Adds task_iter_runs, task_iter_records, task_iter_errors. */
void tasks_report(const struct tw_tasks *t, struct tw_stats *s);

#endif

// SPDX-License-Identifier: MIT
/*
 * Policies and their filters: the registry of the policies nodes run, the
 * versions of their filters (opened from the pins the loader made), and
 * running a filter on a request's context.
 *
 * A node points at a struct policy, which lives until exit.  The policy
 * points at its current version; a reload (`fusebpf load` of a policy
 * already in use tells the daemon through its control socket) swaps in a
 * new version under the policy's lock.  A request takes a reference to the
 * version once, before its prefilter, and runs every filter of that version,
 * so it sees the old policy or the new one, never a mix; the old version is
 * closed when its last request is done.  A load that fails never reaches
 * the daemon: the old version stays in force.
 *
 * Lock order: registry lock, then a policy's lock; neither is held while the
 * loader's lock of a policy is taken (loader_filters_open).
 */
#define _GNU_SOURCE
#include "fsd.h"
#include "loader/loader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct policy_version {
	struct policy *policy;
	struct loader_filters filters;
	unsigned refs; /* guarded by policy->lock: the policy's, and requests' */
	unsigned number; /* 1, 2, ...: how many versions the daemon has opened */
};

struct policy {
	char name[FUSEBPF_POLICY_NAME_LEN];
	pthread_mutex_t lock;
	struct policy_version *current; /* guarded by lock; NULL after an unload */
	unsigned versions; /* guarded by lock */
	struct policy *next; /* guarded by the registry lock */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct policy *registry; /* guarded by registry_lock */

static struct policy *registry_find(const char *name)
{
	for (struct policy *p = registry; p; p = p->next)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

static int version_open(struct policy *p, struct policy_version **out)
{
	struct policy_version *v = calloc(1, sizeof(*v));
	struct loader_error why = { 0 };
	int err;

	if (!v)
		return -ENOMEM;
	err = loader_filters_open(p->name, &v->filters, &why);
	if (err) {
		/* A refused pin directory, say, is named here; callers say the errno. */
		if (err != -ENOENT && why.msg[0])
			fsd_log("policy %s: %s", p->name, why.msg);
		free(v);
		return err;
	}
	v->policy = p;
	v->refs = 1;
	*out = v;
	return 0;
}

/* Drops a reference; the last one closes the version's programs.  p->lock held. */
static void version_put_locked(struct policy_version *v)
{
	if (--v->refs)
		return;
	loader_filters_close(&v->filters);
	free(v);
}

/* Makes v the current version of p; the old one goes when its requests are done. */
static void version_install(struct policy *p, struct policy_version *v)
{
	pthread_mutex_lock(&p->lock);
	if (v)
		v->number = ++p->versions;
	if (p->current)
		version_put_locked(p->current);
	p->current = v;
	pthread_mutex_unlock(&p->lock);
}

/*
 * Opening a policy's pins waits for a loader that holds its lock (through
 * the kernel's verification), so it happens outside the registry lock; two
 * requests may open the same new policy at once, and the first to insert
 * it wins.
 */
int policy_get(const char *name, struct policy **out)
{
	struct policy_version *v;
	struct policy *p, *found;
	int err;

	pthread_mutex_lock(&registry_lock);
	p = registry_find(name);
	pthread_mutex_unlock(&registry_lock);
	if (p) {
		/* Unloaded: its nodes run the defaults, but nothing new may choose it. */
		pthread_mutex_lock(&p->lock);
		err = p->current ? 0 : -ENOENT;
		pthread_mutex_unlock(&p->lock);
		*out = err ? NULL : p;
		return err;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", name);
	pthread_mutex_init(&p->lock, NULL);
	err = version_open(p, &v);
	if (err) {
		pthread_mutex_destroy(&p->lock);
		free(p);
		*out = NULL;
		return err;
	}
	version_install(p, v);
	pthread_mutex_lock(&registry_lock);
	found = registry_find(name);
	if (!found) {
		p->next = registry;
		registry = p;
	}
	pthread_mutex_unlock(&registry_lock);
	if (found) {
		version_install(p, NULL);
		pthread_mutex_destroy(&p->lock);
		free(p);
		p = found;
	}
	*out = p;
	return 0;
}

struct policy_version *policy_acquire(struct policy *p)
{
	struct policy_version *v;

	if (!p)
		return NULL;
	pthread_mutex_lock(&p->lock);
	v = p->current;
	if (v)
		v->refs++;
	pthread_mutex_unlock(&p->lock);
	return v;
}

void policy_release(struct policy_version *v)
{
	struct policy *p;

	if (!v)
		return;
	p = v->policy;
	pthread_mutex_lock(&p->lock);
	version_put_locked(v);
	pthread_mutex_unlock(&p->lock);
}

int policy_reload(const char *name)
{
	struct policy_version *v;
	struct policy *p;
	int err;

	pthread_mutex_lock(&registry_lock);
	p = registry_find(name);
	pthread_mutex_unlock(&registry_lock);
	if (!p)
		return -ENOENT;
	err = version_open(p, &v);
	if (err)
		return err; /* the current version stays */
	version_install(p, v);
	fsd_log("policy %s: version %u in force", name, v->number);
	return 0;
}

int policy_unload(const char *name)
{
	struct policy *p;

	pthread_mutex_lock(&registry_lock);
	p = registry_find(name);
	pthread_mutex_unlock(&registry_lock);
	if (!p)
		return -ENOENT;
	version_install(p, NULL);
	fsd_log("policy %s unloaded: its nodes run the defaults", name);
	return 0;
}

const char *policy_name(const struct policy *p)
{
	return p ? p->name : "";
}

bool policy_has(const struct policy_version *v, uint32_t opcode, uint32_t phase)
{
	return v && opcode < FUSEBPF_OP_MAX && v->filters.fd[opcode][phase - 1] >= 0;
}

bool policy_per_caller(const struct policy_version *v)
{
	return v && (v->filters.flags & FUSEBPF_POLICY_PER_CALLER);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

int filter_run(const struct policy_version *v, uint32_t opcode, uint32_t phase,
	       struct fusebpf_ctx *ctx)
{
	uint64_t start = now_ns();
	int ret, err;

	err = loader_filter_run(v->filters.fd[opcode][phase - 1],
				v->filters.flavor[opcode][phase - 1], ctx, &ret);
	atomic_fetch_add_explicit(&stats_filter_calls[opcode], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&stats_filter_ns[opcode], now_ns() - start, memory_order_relaxed);
	if (err) {
		fsd_log("policy %s: running %s %s: %s; failing the request with EIO",
			v->policy->name, opcode_name(opcode),
			phase == FUSEBPF_PHASE_PRE ? "prefilter" : "postfilter", strerror(-err));
		return -EIO;
	}
	return ret;
}

void policy_stats(FILE *f)
{
	pthread_mutex_lock(&registry_lock);
	for (struct policy *p = registry; p; p = p->next) {
		pthread_mutex_lock(&p->lock);
		fprintf(f, "policy.%s %s%u\n", p->name, p->current ? "version " : "unloaded ",
			p->current ? p->current->number : p->versions);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&registry_lock);
}

void policy_registry_destroy(void)
{
	pthread_mutex_lock(&registry_lock);
	while (registry) {
		struct policy *p = registry;

		registry = p->next;
		version_install(p, NULL);
		pthread_mutex_destroy(&p->lock);
		free(p);
	}
	pthread_mutex_unlock(&registry_lock);
}

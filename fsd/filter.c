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
 * No load is missed: a load tells only the daemons that have the policy in
 * their registry and a control socket, so the daemon checks the pins again
 * (policy_sync) after it enters a policy in the registry, and once its
 * control socket listens (policy_sync_all); a load that swaps its filters
 * in after that check tells this daemon.
 *
 * In FUSE-BPF mode (-o kernel=fusebpf|rfc) the kernel runs the filters: a
 * policy is then only a name, which LOOKUP entries carry; nothing is opened
 * and it never has a version.
 *
 * Lock order: registry lock, then a policy's lock; a policy's sync lock,
 * then the loader's lock of the policy (loader_filters_open), then the
 * policy's lock.  The registry lock is never held with the sync lock.
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
	/* Held from reading the pins to installing what was read: see policy_sync. */
	pthread_mutex_t sync_lock;
	pthread_mutex_t lock;
	struct policy_version *current; /* guarded by lock; NULL after an unload */
	unsigned versions; /* guarded by lock */
	struct policy *next; /* set under the registry lock before p is in it; never changed */
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
 * Whether fusebpf.ko lists a policy of this name (registered, or held by
 * inodes): /sys/fs/fusebpf/policies, "NAME USERS" lines.  Only when fsd
 * mounts on fusebpf.ko itself; any other kernel (an RFC kernel, the one
 * at the other end of --dev-fd) judges the name when it is used.
 */
static bool kernel_policy_listed(const char *name)
{
	char line[128], listed[FUSEBPF_POLICY_NAME_LEN + 1];
	FILE *f;
	bool found = false;

	if (fsd_config.kernel != KERNEL_FUSEBPF || fsd_config.dev_fd >= 0)
		return true;
	f = fopen("/sys/fs/fusebpf/policies", "re");
	if (!f)
		return true;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "%16s", listed) == 1 && !strcmp(listed, name);
	fclose(f);
	return found;
}

/*
 * Under a FUSE-BPF kernel, which runs the policy itself: whether its pins
 * are where fsd would trust them.  The maps there are shared with the
 * tools and userspace modules, so a pin directory that fails the checks
 * is refused in this mode too.  A policy with no pins must be the
 * kernel's, as a name it knows.
 */
static int policy_check_kernel(struct policy *p)
{
	struct policy_version *v;
	int err = version_open(p, &v);

	if (err == -ENOENT)
		return kernel_policy_listed(p->name) ? 0 : -ENOENT;
	if (err)
		return err;
	pthread_mutex_lock(&p->lock);
	version_put_locked(v);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/*
 * Brings p to the version its pins hold now: opens them, and installs what
 * it read unless that is the version in force (none if the policy is
 * gone).  Serialised per policy, so that versions are installed in the
 * order they were read: the last install is of the last read.  0, or
 * -errno with the version in force kept.
 */
static int policy_sync(struct policy *p)
{
	struct policy_version *v = NULL;
	bool same;
	int err;

	if (fsd_bpf_kernel)
		return policy_check_kernel(p); /* the kernel holds the versions */
	pthread_mutex_lock(&p->sync_lock);
	err = version_open(p, &v);
	if (err && err != -ENOENT)
		goto out;
	err = 0;
	pthread_mutex_lock(&p->lock);
	same = v ? p->current && p->current->filters.id == v->filters.id : !p->current;
	if (same && v)
		version_put_locked(v);
	pthread_mutex_unlock(&p->lock);
	if (same)
		goto out;
	version_install(p, v);
	if (v)
		fsd_log("policy %s: version %u in force", p->name, v->number);
	else
		fsd_log("policy %s unloaded: its nodes run the defaults", p->name);
out:
	pthread_mutex_unlock(&p->sync_lock);
	return err;
}

static void policy_free(struct policy *p)
{
	version_install(p, NULL);
	pthread_mutex_destroy(&p->sync_lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/*
 * Opens a policy the registry does not have and enters it.  The open waits
 * for a loader that holds the policy's lock (through the kernel's
 * verification), so it happens outside the registry lock; two requests may
 * open the same new policy at once, and the first to enter it wins.
 */
static int policy_new(const char *name, struct policy **out)
{
	struct policy_version *v;
	struct policy *p, *found;
	int err;

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	snprintf(p->name, sizeof(p->name), "%s", name);
	pthread_mutex_init(&p->sync_lock, NULL);
	pthread_mutex_init(&p->lock, NULL);
	err = fsd_bpf_kernel ? policy_check_kernel(p) : version_open(p, &v);
	if (err) {
		policy_free(p);
		return err;
	}
	if (!fsd_bpf_kernel)
		version_install(p, v);
	pthread_mutex_lock(&registry_lock);
	found = registry_find(name);
	if (!found) {
		p->next = registry;
		registry = p;
	}
	pthread_mutex_unlock(&registry_lock);
	if (found) {
		policy_free(p);
		*out = found;
		return 0;
	}
	/*
	 * A load that swapped its filters in after the open and told the
	 * daemons before p was in the registry was answered "unused" here:
	 * read the pins again.  A load after this read finds p.
	 */
	policy_sync(p);
	*out = p;
	return 0;
}

int policy_get(const char *name, struct policy **out)
{
	struct policy *p;
	int err;

	*out = NULL;
	pthread_mutex_lock(&registry_lock);
	p = registry_find(name);
	pthread_mutex_unlock(&registry_lock);
	if (!p) {
		err = policy_new(name, &p);
		if (err)
			return err;
	}
	/*
	 * Unloaded: its nodes run the defaults, but nothing new may choose it.
	 * A FUSE-BPF kernel checks the name itself.
	 */
	pthread_mutex_lock(&p->lock);
	err = p->current || fsd_bpf_kernel ? 0 : -ENOENT;
	pthread_mutex_unlock(&p->lock);
	if (!err)
		*out = p;
	return err;
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
	struct policy *p;

	pthread_mutex_lock(&registry_lock);
	p = registry_find(name);
	pthread_mutex_unlock(&registry_lock);
	if (!p)
		return -ENOENT;
	return policy_sync(p);
}

void policy_sync_all(void)
{
	struct policy *p;

	/* Policies are never taken out of the registry before exit, and enter it at its head. */
	pthread_mutex_lock(&registry_lock);
	p = registry;
	pthread_mutex_unlock(&registry_lock);
	for (; p; p = p->next)
		policy_sync(p);
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
		if (fsd_bpf_kernel)
			fprintf(f, "policy.%s in the kernel\n", p->name);
		else
			fprintf(f, "policy.%s %s%u\n", p->name,
				p->current ? "version " : "unloaded ",
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
		policy_free(p);
	}
	pthread_mutex_unlock(&registry_lock);
}

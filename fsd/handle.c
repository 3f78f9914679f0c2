// SPDX-License-Identifier: MIT
/*
 * Open file and directory handles: the fh the kernel passes back on READ,
 * WRITE, RELEASE and friends.  Handles are numbered from a counter and found
 * through a hash table; a handle holds an open reference to its node, the
 * backing fd opened with the caller's flags (none for a passthrough file),
 * and the state of a userspace module that claimed the open (user.h).
 *
 * Opens are counted per uid, and limited so that one uid cannot take the
 * daemon's fds from the others (below).
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#define HANDLE_BUCKETS 4096 /* fixed: open handles are bounded by the fd limit */
#define UID_BUCKETS 256

/*
 * The limits on open handles, from the daemon's fd limit L.  An open file
 * or directory holds at most one fd the daemon cannot close while it lasts
 * (a directory's, or that of a file whose data the daemon serves; a
 * passthrough file holds none).  Every open counts, whatever it holds: the
 * bound then holds in the worst case (passthrough=off, a policy that
 * filters data) and a user can predict it.
 *
 * The node fd cache takes fd_cache_max fds (node.c; L/2 by default).  Of
 * what it leaves, a reserve of L/8 never goes to the opens of uids other
 * than root: root's opens may take half of it, the other half stays for the
 * daemon's own fds (the device, what a LOOKUP, CREATE or listing opens for
 * a moment, nodes that pin their fd).  A uid other than root may hold L/4
 * opens, EMFILE past that for it alone: one uid at its cap leaves the other
 * uids L/8 and root the reserve; all the uids but root together get ENFILE
 * past their share.  Root has no cap of its own: it is who must be able to
 * look and clean up when an app misbehaves, and it could stop the daemon
 * anyway.  With L = 20,000: 5,000 per uid, 7,500 for all of them, 8,750
 * with root's.
 */
#define OPENS_MIN 16 /* even when fd_cache leaves no room: the cache gives way on EMFILE */
#define ENFILE_LOG_SECONDS 10

/* The opens of one uid other than root, while it has any. */
struct uid_opens {
	uid_t uid;
	unsigned opens; /* handles and charges not yet taken over */
	bool refused; /* its cap refused an open: logged once */
	struct uid_opens *next;
};

static struct {
	pthread_mutex_t lock;
	struct handle *buckets[HANDLE_BUCKETS];
	uint64_t next_fh;
	uint64_t count;
	struct uid_opens *uids[UID_BUCKETS];
	unsigned charged; /* every uid's opens, root's too */
	struct handle_limits limits; /* 0: none */
	time_t enfile_logged;
} handles = { .lock = PTHREAD_MUTEX_INITIALIZER, .next_fh = 1 };

static struct handle **bucket(uint64_t fh)
{
	return &handles.buckets[fh & (HANDLE_BUCKETS - 1)];
}

static struct uid_opens **uid_slot(uid_t uid)
{
	struct uid_opens **pp = &handles.uids[((uid * 0x9e3779b1u) >> 24) & (UID_BUCKETS - 1)];

	while (*pp && (*pp)->uid != uid)
		pp = &(*pp)->next;
	return pp;
}

static unsigned clamp_uint(unsigned long v)
{
	return v > UINT_MAX ? UINT_MAX : v;
}

void handle_limits_compute(unsigned long fd_limit, unsigned long fd_cache_max, unsigned per_uid,
			   struct handle_limits *out)
{
	unsigned long reserve = fd_limit / 8;
	unsigned long room = fd_limit > fd_cache_max ? fd_limit - fd_cache_max : 0;
	unsigned long users = room > reserve ? room - reserve : 0;
	unsigned long all = room > reserve / 2 ? room - reserve / 2 : 0;

	if (users < OPENS_MIN)
		users = OPENS_MIN;
	if (all < users)
		all = users;
	if (!per_uid)
		per_uid = clamp_uint(fd_limit / 4 > OPENS_MIN ? fd_limit / 4 : OPENS_MIN);
	out->per_uid = per_uid;
	out->users = clamp_uint(users);
	out->all = clamp_uint(all);
}

void handle_limits_set(const struct handle_limits *limits)
{
	pthread_mutex_lock(&handles.lock);
	handles.limits = *limits;
	pthread_mutex_unlock(&handles.lock);
}

void handle_limits_init(unsigned per_uid)
{
	unsigned long fd_limit = 1024;
	struct handle_limits l;
	struct node_stats ns;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		fd_limit = rl.rlim_cur == RLIM_INFINITY ? 1ul << 20 : rl.rlim_cur;
	node_stats(&ns);
	handle_limits_compute(fd_limit, ns.fd_cache_max, per_uid, &l);
	handle_limits_set(&l);
	if (fsd_config.debug)
		fsd_log("open files and directories: %u per uid but root, %u for those uids "
			"together, %u with root's (fd limit %lu, fd_cache %llu)",
			l.per_uid, l.users, l.all, fd_limit, (unsigned long long)ns.fd_cache_max);
}

int handle_charge(uid_t uid)
{
	const struct handle_limits *l = &handles.limits;
	struct uid_opens **pp = NULL, *u = NULL;
	bool log_uid = false, log_all = false;
	unsigned ceiling;
	int err = 0;

	pthread_mutex_lock(&handles.lock);
	ceiling = uid ? l->users : l->all;
	if (uid) {
		pp = uid_slot(uid);
		u = *pp;
	}
	if (u && l->per_uid && u->opens >= l->per_uid) {
		err = -EMFILE;
		log_uid = !u->refused;
		u->refused = true;
	} else if (ceiling && handles.charged >= ceiling) {
		time_t now = time(NULL);

		err = -ENFILE;
		log_all = now - handles.enfile_logged >= ENFILE_LOG_SECONDS;
		if (log_all)
			handles.enfile_logged = now;
	} else if (uid && !u) {
		u = calloc(1, sizeof(*u));
		if (!u) {
			err = -ENOMEM;
		} else {
			u->uid = uid;
			*pp = u;
		}
	}
	if (!err) {
		handles.charged++;
		if (u)
			u->opens++;
	}
	pthread_mutex_unlock(&handles.lock);
	if (log_uid)
		fsd_log("uid %u holds %u open files and directories, its cap "
			"(max_opens_per_uid): its opens fail with EMFILE until it closes some",
			(unsigned)uid, l->per_uid);
	if (log_all)
		fsd_log("%u open files and directories, the budget of %s: their opens fail "
			"with ENFILE", ceiling, uid ? "the uids other than root" : "every uid");
	return err;
}

void handle_uncharge(uid_t uid)
{
	struct uid_opens **pp, *u;

	pthread_mutex_lock(&handles.lock);
	handles.charged--;
	if (uid) {
		pp = uid_slot(uid);
		u = *pp;
		if (u && --u->opens == 0) {
			*pp = u->next;
			free(u);
		}
	}
	pthread_mutex_unlock(&handles.lock);
}

int handle_new(struct node *node, int fd, uid_t uid, int flags, struct handle **out)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h) {
		if (fd >= 0)
			close(fd);
		handle_uncharge(uid);
		return -ENOMEM;
	}
	node_ref_open(node);
	h->node = node;
	h->fd = fd;
	h->flags = flags;
	h->uid = uid;
	h->refs = 1; /* the table's */
	pthread_mutex_init(&h->dir_lock, NULL);
	pthread_mutex_lock(&handles.lock);
	h->fh = handles.next_fh++;
	h->next = *bucket(h->fh);
	*bucket(h->fh) = h;
	handles.count++;
	pthread_mutex_unlock(&handles.lock);
	*out = h;
	return 0;
}

struct handle *handle_get(uint64_t fh)
{
	struct handle *h;

	pthread_mutex_lock(&handles.lock);
	for (h = *bucket(fh); h; h = h->next)
		if (h->fh == fh)
			break;
	if (h)
		h->refs++;
	pthread_mutex_unlock(&handles.lock);
	return h;
}

/*
 * The kernel sends nothing on an fh after its RELEASE, but a request on it
 * may still be in flight on another worker: the last reference frees.
 */
void handle_put(struct handle *h)
{
	bool last;

	if (!h)
		return;
	pthread_mutex_lock(&handles.lock);
	last = --h->refs == 0;
	pthread_mutex_unlock(&handles.lock);
	if (!last)
		return;
	if (h->is_file)
		backing_release(h->node, h->passthrough, h->flags);
	if (h->user && user_module->handle_free)
		user_module->handle_free(h->user);
	if (h->fd >= 0)
		close(h->fd);
	node_put_open(h->node);
	handle_uncharge(h->uid);
	pthread_mutex_destroy(&h->dir_lock);
	free(h->dir_buf);
	free(h);
}

int handle_release(uint64_t fh)
{
	struct handle **pp, *h = NULL;

	pthread_mutex_lock(&handles.lock);
	for (pp = bucket(fh); *pp; pp = &(*pp)->next) {
		if ((*pp)->fh == fh) {
			h = *pp;
			*pp = h->next;
			handles.count--;
			break;
		}
	}
	pthread_mutex_unlock(&handles.lock);
	if (!h)
		return -EBADF;
	handle_put(h); /* the table's reference */
	return 0;
}

int handle_fd(struct handle *h)
{
	return h->fd >= 0 ? h->fd : node_open(h->node, h->flags);
}

void handle_fd_put(struct handle *h, int fd)
{
	if (fd >= 0 && fd != h->fd)
		close(fd);
}

bool handle_claimed(uint64_t fh)
{
	struct handle *h = handle_get(fh);
	bool claimed = h && h->user;

	handle_put(h);
	return claimed;
}

uint64_t handle_count(void)
{
	uint64_t n;

	pthread_mutex_lock(&handles.lock);
	n = handles.count;
	pthread_mutex_unlock(&handles.lock);
	return n;
}

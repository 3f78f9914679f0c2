// SPDX-License-Identifier: MIT
/*
 * FUSE over io_uring: the second way requests reach the workers.
 *
 * The kernel keeps one queue per possible CPU and puts a request on the
 * queue of the CPU that made it.  fsd serves the queue of each CPU it may
 * run on with an io_uring of its own and one thread pinned to that CPU, so
 * a caller and the thread that serves it share a CPU: no cross-CPU wakeup
 * on the way in or out, which is where the time of a synchronous metadata
 * request goes on /dev/fuse.  The queues of the other possible CPUs get
 * their entries on those rings too (rings_plan).
 *
 * This file owns the rings: creating them before mounting, registering their
 * entries once INIT has granted FUSE_OVER_IO_URING, turning the request in an
 * entry into the flat form request_process() reads, and sending each reply
 * as the entry's COMMIT_AND_FETCH, which also asks for the next request.
 * Requests the kernel keeps sending on /dev/fuse (FORGET, BATCH_FORGET,
 * INTERRUPT, and any made before every queue had an entry) are served there
 * by the dev.c workers, which run either way.
 *
 * Raw io_uring syscalls, not liburing: Debian 12's liburing 2.3 would do,
 * but two syscalls and two mmaps are less than a new dependency.
 *
 * A ring's thread serves a request itself unless it may wait long
 * (request_may_block: data and flushes on the backing disk, directory reads,
 * a userspace module's calls).  Those go to the offload threads, shared by
 * all rings, so that an fsync on a busy disk does not hold up the stats
 * made after it on the same CPU.  An offload thread fills the entry's reply
 * and hands the entry back through the ring's eventfd: only the ring's
 * thread touches its ring.
 *
 * The kernel's rules this follows (fs/fuse/dev_uring.c):
 *  - REGISTER before the INIT reply is processed fails with EAGAIN: retried.
 *  - From the INIT reply that grants the feature until every queue has an
 *    entry, new requests wait; the first failed REGISTER turns the feature
 *    off for the connection and lets them go to /dev/fuse.  So the rings
 *    are made before mounting, and INIT asks for the feature only if that
 *    worked: a failure after INIT could otherwise leave requests waiting.
 *  - At the end of the connection (unmount, abort) the kernel completes
 *    every entry it holds with ENOTCONN and drops the entries userspace
 *    holds: the threads end when they have no entry left.  A thread never
 *    needs waking by the daemon, except one still waiting for INIT.
 */
#define _GNU_SOURCE
#include "fsd.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>

/*
 * Entries per kernel queue.  One thread serves a ring, one request at a
 * time; more entries let the kernel hand over the requests that arrive
 * meanwhile in one batch, and one io_uring_enter then commits them all.
 * Entries with the offload threads are out of the kernel's reach: a CPU
 * with that many slow requests at once waits for one of them.
 */
#define URING_DEPTH 4
/* The user_data of the eventfd read; an entry's is its index. */
#define URING_DONE_TAG UINT64_MAX
/* The kernel's payload minimum: max(8 KiB, max_write, max_pages pages). */
#define URING_PAYLOAD FSD_MAX_WRITE
/* Room before the payload for the header and fixed struct of the flat request. */
#define URING_FLAT_ROOM 256
#define URING_SQE_SIZE 128 /* IORING_SETUP_SQE128 */

_Static_assert(URING_PAYLOAD >= 8192 && URING_PAYLOAD >= FSD_MAX_PAGES * 4096u,
	       "the payload buffer holds the largest request and reply");
_Static_assert(URING_FLAT_ROOM >= sizeof(struct fuse_in_header) + FUSEBPF_URING_OP_IN_OUT_SZ,
	       "the flat header fits before the payload");
_Static_assert(sizeof(struct fusebpf_uring_cmd_req) <= URING_SQE_SIZE - 48,
	       "the command fits the SQE's command area");

struct uring_ring;

struct uring_ent {
	struct fusebpf_uring_req_header hdr; /* iov[0] */
	char *buf; /* URING_FLAT_ROOM bytes, then the payload */
	char *payload; /* iov[1], URING_PAYLOAD bytes */
	struct iovec iov[2];
	struct uring_ring *ring;
	unsigned qid; /* the kernel queue it is registered on: a CPU number */
	uint64_t commit_id; /* the request being served */
	bool registering; /* its REGISTER has not been accepted yet */
	/* With the offload threads: the request, and the next entry in their list or done. */
	const char *flat;
	uint32_t flat_len;
	struct uring_ent *next;
};

/* An io_uring and its thread, pinned to cpu: the entries of one or more kernel queues. */
struct uring_ring {
	unsigned cpu; /* its thread's CPU, whose queue it serves */
	int ring_fd;
	pthread_t thread;
	bool started;
	struct worker worker;

	/* The rings, shared with the kernel. */
	void *ring_mem;
	size_t ring_len;
	char *sqes;
	size_t sqes_len;
	unsigned sq_mask, cq_mask;
	unsigned *sq_tail, *sq_array, *cq_head, *cq_tail;
	struct io_uring_cqe *cqes;
	unsigned sq_next; /* our copy of the tail */
	unsigned sq_pending; /* SQEs queued, not yet submitted */

	unsigned live; /* entries registered or being registered */
	bool counted; /* its entries are registered: counted in rings_serving */
	int register_failed; /* why a REGISTER was refused, 0 if none was */
	int commit_failed; /* why a COMMIT_AND_FETCH was refused, 0 if none was */
	struct uring_ent *ents; /* URING_DEPTH per kernel queue it serves */
	unsigned nr_ents;

	/* Entries the offload threads have answered, for this thread to commit. */
	int done_fd; /* eventfd: written when done grows */
	uint64_t done_count; /* the ring's read of it lands here */
	pthread_mutex_t done_lock;
	struct uring_ent *done;
};

/* The offload threads and the entries waiting for them, oldest first. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct uring_ent *head, *tail;
	bool stop;
	unsigned nr_threads;
	struct worker *workers;
} offload = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

enum uring_state {
	URING_OFF, /* no rings */
	URING_WAIT_INIT, /* rings made, INIT not answered yet */
	URING_ON, /* granted: the threads register and serve */
	URING_ENDED, /* refused, or the mount went away before INIT */
};

static pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t state_cond = PTHREAD_COND_INITIALIZER;
static enum uring_state state; /* guarded by state_lock */
static struct uring_ring *rings;
static unsigned nr_rings;
static int dev_fd = -1;
static _Atomic unsigned rings_serving;

static int sys_io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	return syscall(__NR_io_uring_setup, entries, p);
}

static int sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	return syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
}

/*
 * The kernel has num_possible_cpus() queues, indexed by CPU number: count
 * the CPUs in /sys/devices/system/cpu/possible ("0-1", "0-3,6").  *nr_ids:
 * the highest of them plus one, the bits a CPU mask of this machine needs.
 */
static int possible_cpus(unsigned *nr_ids)
{
	char line[4096], *p = line;
	int count = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	while (*p && *p != '\n') {
		char *end;
		long lo = strtol(p, &end, 10), hi = lo;

		if (end == p)
			return -EIO;
		if (*end == '-') {
			p = end + 1;
			hi = strtol(p, &end, 10);
			if (end == p || hi < lo)
				return -EIO;
		}
		count += hi - lo + 1;
		*nr_ids = hi + 1;
		p = *end == ',' ? end + 1 : end;
	}
	return count > 0 ? count : -EIO;
}

static int ring_mmap(struct uring_ring *r)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
		/* Every entry and the eventfd read, nothing else, can complete: no overflow. */
		.cq_entries = 2 * (r->nr_ents + 1),
	};
	size_t sq_len, cq_len;
	char *m;

	/* SQEs: an entry's command each, and the read of the eventfd. */
	r->ring_fd = sys_io_uring_setup(r->nr_ents + 1, &p);
	if (r->ring_fd < 0)
		return -errno;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP))
		return -EOPNOTSUPP; /* before Linux 5.4, which has no FUSE over io_uring either */
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	r->ring_len = sq_len > cq_len ? sq_len : cq_len;
	r->ring_mem = mmap(NULL, r->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			   r->ring_fd, IORING_OFF_SQ_RING);
	if (r->ring_mem == MAP_FAILED) {
		r->ring_mem = NULL;
		return -errno;
	}
	r->sqes_len = p.sq_entries * URING_SQE_SIZE;
	r->sqes = mmap(NULL, r->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       r->ring_fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		r->sqes = NULL;
		return -errno;
	}
	m = r->ring_mem;
	r->sq_tail = (unsigned *)(m + p.sq_off.tail);
	r->sq_mask = *(unsigned *)(m + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(m + p.sq_off.array);
	r->cq_head = (unsigned *)(m + p.cq_off.head);
	r->cq_tail = (unsigned *)(m + p.cq_off.tail);
	r->cq_mask = *(unsigned *)(m + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(m + p.cq_off.cqes);
	r->sq_next = *r->sq_tail;
	return 0;
}

/* The ring's io_uring, eventfd and entry buffers; rings_plan() gave it its queues. */
static int ring_init(struct uring_ring *r, unsigned index)
{
	int err;

	r->worker.transport = WORKER_URING;
	r->worker.fd = -1;
	r->worker.index = fsd_config.threads + index;
	r->done_fd = eventfd(0, EFD_CLOEXEC);
	if (r->done_fd < 0)
		return -errno;
	err = ring_mmap(r);
	if (err)
		return err;
	for (unsigned i = 0; i < r->nr_ents; i++) {
		struct uring_ent *e = &r->ents[i];

		e->ring = r;
		e->buf = malloc(URING_FLAT_ROOM + URING_PAYLOAD);
		if (!e->buf)
			return -ENOMEM;
		e->payload = e->buf + URING_FLAT_ROOM;
		e->iov[0] = (struct iovec){ &e->hdr, sizeof(e->hdr) };
		e->iov[1] = (struct iovec){ e->payload, URING_PAYLOAD };
	}
	return 0;
}

/* The next SQE, zeroed; the kernel sees it at the next io_uring_enter. */
static struct io_uring_sqe *ring_sqe(struct uring_ring *r)
{
	unsigned idx = r->sq_next & r->sq_mask;
	struct io_uring_sqe *sqe = (void *)(r->sqes + (size_t)idx * URING_SQE_SIZE);

	memset(sqe, 0, URING_SQE_SIZE);
	r->sq_array[idx] = idx;
	return sqe;
}

/* Hands the SQE ring_sqe() gave over to the kernel: written before the tail that says so. */
static void ring_sqe_ready(struct uring_ring *r)
{
	__atomic_store_n(r->sq_tail, ++r->sq_next, __ATOMIC_RELEASE);
	r->sq_pending++;
}

static void ring_cmd(struct uring_ring *r, struct uring_ent *e, uint32_t cmd_op)
{
	struct io_uring_sqe *sqe = ring_sqe(r);
	struct fusebpf_uring_cmd_req *cmd = (void *)sqe->cmd;

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = dev_fd;
	sqe->cmd_op = cmd_op;
	sqe->user_data = e - r->ents;
	if (cmd_op == FUSEBPF_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	} else {
		cmd->commit_id = e->commit_id;
	}
	cmd->qid = e->qid;
	ring_sqe_ready(r);
}

/* Asks the ring to tell when the offload threads have answered an entry. */
static void ring_done_read(struct uring_ring *r)
{
	struct io_uring_sqe *sqe = ring_sqe(r);

	sqe->opcode = IORING_OP_READ;
	sqe->fd = r->done_fd;
	sqe->addr = (uintptr_t)&r->done_count;
	sqe->len = sizeof(r->done_count);
	sqe->user_data = URING_DONE_TAG;
	ring_sqe_ready(r);
}

/*
 * The entry's reply is ready.  The ring's thread, which owns it,
 * commits it now; an offload thread hands the entry back once
 * request_process() is done with it (ent_process).
 */
static void ent_commit(struct worker *w, struct uring_ent *e)
{
	w->ent = NULL;
	if (w == &e->ring->worker)
		ring_cmd(e->ring, e, FUSEBPF_URING_CMD_COMMIT_AND_FETCH);
}

/* An offload thread's answered entry, back to its ring's thread to commit. */
static void ring_done_push(struct uring_ring *r, struct uring_ent *e)
{
	uint64_t one = 1;

	pthread_mutex_lock(&r->done_lock);
	e->next = r->done;
	r->done = e;
	pthread_mutex_unlock(&r->done_lock);
	if (write(r->done_fd, &one, sizeof(one)) < 0)
		fsd_log("io_uring ring of CPU %u: waking its thread: %s", r->cpu, strerror(errno));
}

/* Commits what the offload threads have answered: on the ring's thread. */
static void ring_commit_done(struct uring_ring *r)
{
	struct uring_ent *e;

	pthread_mutex_lock(&r->done_lock);
	e = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->done_lock);
	for (; e; e = e->next)
		ring_cmd(r, e, FUSEBPF_URING_CMD_COMMIT_AND_FETCH);
}

/* Answers the entry's request with error alone (nothing else would free the entry). */
static void ent_commit_error(struct worker *w, struct uring_ent *e, int error)
{
	struct fuse_out_header out = {
		.len = sizeof(out),
		.error = error,
		.unique = e->commit_id,
	};

	memcpy(e->hdr.in_out, &out, sizeof(out));
	e->hdr.ring_ent_in_out.payload_sz = 0;
	ent_commit(w, e);
}

/*
 * The reply goes in the entry: the fuse_out_header in the header buffer, the
 * fixed struct and data one after the other in the payload.  Data a handler
 * wrote to out_buf is in the payload already; it moves (only if there is a
 * fixed struct ahead of it, which no opcode now has), the rest is copied.
 * The last iovec first: a source in the payload lies before its destination.
 */
int uring_reply(struct worker *w, const struct iovec *iov, int n)
{
	struct uring_ent *e = w->ent;
	size_t off[3] = { 0 }, len = 0; /* dev_reply: header, fixed struct, data */

	if (n > 3)
		return -EINVAL;

	for (int i = 1; i < n; i++) {
		off[i] = len;
		len += iov[i].iov_len;
	}
	if (len > URING_PAYLOAD) {
		fsd_log("io_uring: a %zu-byte reply does not fit the %u-byte payload: replying EIO",
			len, URING_PAYLOAD);
		ent_commit_error(w, e, -EIO);
		return -EIO;
	}
	for (int i = n - 1; i >= 1; i--) {
		if (iov[i].iov_base != e->payload + off[i])
			memmove(e->payload + off[i], iov[i].iov_base, iov[i].iov_len);
	}
	memcpy(e->hdr.in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
	e->hdr.ring_ent_in_out.payload_sz = len;
	ent_commit(w, e);
	return 0;
}

/*
 * Serves the entry's request on w: the ring's thread or an offload thread.
 * The entry goes back when request_process() has returned: after the
 * reply it may still read the reply (request_undo), and once the kernel has
 * the entry back it puts the next request there.
 */
static void ent_process(struct worker *w, struct uring_ent *e)
{
	w->ent = e;
	w->out_buf = e->payload;
	request_process(w, e->flat, e->flat_len);
	if (w->ent) {
		/* An opcode without a reply (FORGET): the kernel sends none here. */
		fsd_log("io_uring queue %u: %s came without a reply over the ring: replying EIO",
			e->qid, opcode_name(((const struct fuse_in_header *)e->flat)->opcode));
		ent_commit_error(w, e, -EIO);
	}
	if (w != &e->ring->worker)
		ring_done_push(e->ring, e);
}

static void offload_push(struct uring_ent *e)
{
	atomic_fetch_add_explicit(&stats_uring_offloaded, 1, memory_order_relaxed);
	pthread_mutex_lock(&offload.lock);
	e->next = NULL;
	if (offload.tail)
		offload.tail->next = e;
	else
		offload.head = e;
	offload.tail = e;
	pthread_cond_signal(&offload.cond);
	pthread_mutex_unlock(&offload.lock);
}

static void *offload_thread(void *arg)
{
	struct worker *w = arg;

	dev_worker_init(w, "offload", w->index - fsd_config.threads - nr_rings);
	pthread_mutex_lock(&offload.lock);
	for (;;) {
		struct uring_ent *e = offload.head;

		if (!e) {
			if (offload.stop)
				break;
			pthread_cond_wait(&offload.cond, &offload.lock);
			continue;
		}
		offload.head = e->next;
		if (!offload.head)
			offload.tail = NULL;
		pthread_mutex_unlock(&offload.lock);
		ent_process(w, e);
		pthread_mutex_lock(&offload.lock);
	}
	pthread_mutex_unlock(&offload.lock);
	return NULL;
}

/*
 * The kernel split the request: fuse_in_header in in_out, the fixed struct
 * in op_in, the rest (names, data) in the payload.  Put the first two back
 * right before the payload, and the request is the bytes /dev/fuse would
 * have given, with only its header copied.
 */
static void ent_serve(struct uring_ring *r, struct uring_ent *e)
{
	struct fuse_in_header in;
	uint32_t payload_sz = e->hdr.ring_ent_in_out.payload_sz;
	size_t fixed;
	char *flat;

	memcpy(&in, e->hdr.in_out, sizeof(in));
	e->commit_id = e->hdr.ring_ent_in_out.commit_id;
	atomic_fetch_add_explicit(&stats_uring_requests, 1, memory_order_relaxed);
	if (payload_sz > URING_PAYLOAD || in.len < sizeof(in) + payload_sz ||
	    in.len - sizeof(in) - payload_sz > FUSEBPF_URING_OP_IN_OUT_SZ) {
		fsd_log("io_uring queue %u: %s request of %u bytes with a %u-byte payload does not "
			"add up: replying EIO", e->qid, opcode_name(in.opcode), in.len, payload_sz);
		ent_commit_error(&r->worker, e, -EIO);
		return;
	}
	fixed = in.len - sizeof(in) - payload_sz;
	flat = e->payload - sizeof(in) - fixed;
	memcpy(flat, &in, sizeof(in));
	memcpy(flat + sizeof(in), e->hdr.op_in, fixed);
	e->flat = flat;
	e->flat_len = in.len;
	if (offload.nr_threads && request_may_block(flat, in.len))
		offload_push(e);
	else
		ent_process(&r->worker, e);
}

/* The end of an entry: the connection's end, or a refusal. */
static void ent_ended(struct uring_ring *r, struct uring_ent *e, int res)
{
	r->live--;
	if (res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED)
		return;
	if (e->registering) {
		/* The kernel now leaves io_uring off for the connection. */
		if (!r->register_failed)
			fsd_log("io_uring queue %u: registering its entries: %s: requests stay on "
				"/dev/fuse", e->qid, strerror(-res));
		r->register_failed = res;
		return;
	}
	fsd_log("io_uring queue %u: committing a reply: %s", e->qid, strerror(-res));
	r->commit_failed = res;
}

static bool ring_wait_init(void)
{
	bool on;

	pthread_mutex_lock(&state_lock);
	while (state == URING_WAIT_INIT)
		pthread_cond_wait(&state_cond, &state_lock);
	on = state == URING_ON;
	pthread_mutex_unlock(&state_lock);
	return on;
}

/* Registers the entries, then serves them until the kernel has them all back. */
static int ring_serve(struct uring_ring *r)
{
	for (unsigned i = 0; i < r->nr_ents; i++) {
		r->ents[i].registering = true;
		ring_cmd(r, &r->ents[i], FUSEBPF_URING_CMD_REGISTER);
	}
	ring_done_read(r);
	r->live = r->nr_ents;
	while (r->live) {
		/* Until registered, do not wait: a refused REGISTER must be seen. */
		unsigned wait = r->counted || r->register_failed ? 1 : 0;
		unsigned head, tail;
		bool retry_later = false;
		int n = sys_io_uring_enter(r->ring_fd, r->sq_pending, wait, IORING_ENTER_GETEVENTS);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EBUSY)
				continue;
			return -errno;
		}
		r->sq_pending -= n;
		head = *r->cq_head;
		tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			const struct io_uring_cqe *cqe = &r->cqes[head & r->cq_mask];
			uint64_t tag = cqe->user_data;
			struct uring_ent *e = &r->ents[tag % r->nr_ents];
			int res = cqe->res;

			/* The CQE is read: give its slot back before serving. */
			__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
			if (tag == URING_DONE_TAG) {
				/* Without the read, offloaded entries would never come back. */
				if (res < 0 && res != -EINTR && res != -EAGAIN) {
					fsd_log("io_uring ring of CPU %u: reading its eventfd: %s", r->cpu,
						strerror(-res));
					return res;
				}
				ring_commit_done(r);
				ring_done_read(r);
			} else if (res == -EAGAIN && e->registering) {
				/* INIT's reply is not processed yet: again, after a pause. */
				ring_cmd(r, e, FUSEBPF_URING_CMD_REGISTER);
				retry_later = true;
			} else if (res < 0) {
				ent_ended(r, e, res);
			} else {
				e->registering = false;
				ent_serve(r, e);
			}
		}
		if (!r->counted && !r->register_failed && !r->sq_pending) {
			r->counted = true;
			atomic_fetch_add(&rings_serving, 1);
		}
		/* One pause for the refused REGISTERs of a batch, not one each. */
		if (retry_later)
			usleep(1000);
	}
	/*
	 * Entries refused while the connection lives on: with none left, this
	 * CPU's requests would wait forever.
	 */
	return r->commit_failed;
}

static void *ring_thread(void *arg)
{
	struct uring_ring *r = arg;
	int err;

	dev_worker_init(&r->worker, "ring", r->cpu);
	if (!ring_wait_init())
		return NULL;
	err = ring_serve(r);
	if (r->counted)
		atomic_fetch_sub(&rings_serving, 1);
	if (err) {
		fsd_log("io_uring ring of CPU %u: %s", r->cpu, strerror(-err));
		fsd_worker_exited(err);
	}
	return NULL;
}

static int ring_start(struct uring_ring *r)
{
	size_t size = CPU_ALLOC_SIZE(r->cpu + 1);
	cpu_set_t *cpus = CPU_ALLOC(r->cpu + 1);
	pthread_attr_t attr;
	int err;

	if (!cpus)
		return -ENOMEM;
	CPU_ZERO_S(size, cpus);
	CPU_SET_S(r->cpu, size, cpus);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, size, cpus);
	err = pthread_create(&r->thread, &attr, ring_thread, r);
	pthread_attr_destroy(&attr);
	CPU_FREE(cpus);
	if (err == EINVAL) /* the CPU went offline meanwhile: serve from anywhere */
		err = pthread_create(&r->thread, NULL, ring_thread, r);
	if (err)
		return -err;
	r->started = true;
	return 0;
}

/*
 * Which ring serves which kernel queue.  The kernel has a queue for every
 * possible CPU and wants entries on all of them before it serves any.
 * Each CPU the daemon may run on (online, and in its affinity) gets a ring
 * and thread of its own, pinned there; the queues of the other CPUs (a VM's
 * hotplug slots, CPUs outside a cpuset) are dealt out over those rings, so
 * that a CPU that comes online later is served, from a CPU away, without a
 * thread and io_uring idling for it meanwhile.
 */
static int rings_plan(unsigned nr_queues, unsigned nr_cpu_ids)
{
	size_t size = CPU_ALLOC_SIZE(nr_cpu_ids);
	cpu_set_t *allowed = CPU_ALLOC(nr_cpu_ids);
	unsigned *ring_of = calloc(nr_queues, sizeof(*ring_of)), spare = 0;
	int err = 0;

	if (!allowed || !ring_of) {
		err = -ENOMEM;
		goto out;
	}
	if (sched_getaffinity(0, size, allowed) < 0) {
		err = -errno;
		goto out;
	}
	for (unsigned q = 0; q < nr_queues; q++)
		if (CPU_ISSET_S(q, size, allowed))
			ring_of[q] = nr_rings++;
	if (!nr_rings) {
		err = -ENXIO; /* a CPU numbered past the possible ones */
		goto out;
	}
	rings = calloc(nr_rings, sizeof(*rings));
	if (!rings) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned q = 0; q < nr_queues; q++) {
		if (CPU_ISSET_S(q, size, allowed))
			rings[ring_of[q]].cpu = q;
		else
			ring_of[q] = spare++ % nr_rings;
		rings[ring_of[q]].nr_ents += URING_DEPTH;
	}
	for (unsigned i = 0; i < nr_rings; i++) {
		rings[i].ring_fd = rings[i].done_fd = -1;
		pthread_mutex_init(&rings[i].done_lock, NULL);
	}
	for (unsigned i = 0; i < nr_rings; i++) {
		rings[i].ents = calloc(rings[i].nr_ents, sizeof(*rings[i].ents));
		if (!rings[i].ents) {
			err = -ENOMEM;
			goto out;
		}
		rings[i].nr_ents = 0; /* counted again as the queues are dealt */
	}
	for (unsigned q = 0; q < nr_queues; q++) {
		struct uring_ring *r = &rings[ring_of[q]];

		for (unsigned i = 0; i < URING_DEPTH; i++)
			r->ents[r->nr_ents++].qid = q;
	}
out:
	CPU_FREE(allowed);
	free(ring_of);
	return err;
}

/* The offload threads: as many as the /dev/fuse workers. */
static int offload_start(void)
{
	offload.workers = calloc(fsd_config.threads, sizeof(*offload.workers));
	if (!offload.workers)
		return -ENOMEM;
	offload.stop = false;
	for (unsigned i = 0; i < fsd_config.threads; i++) {
		struct worker *w = &offload.workers[i];
		int err;

		w->transport = WORKER_URING;
		w->fd = -1;
		w->index = fsd_config.threads + nr_rings + i;
		err = pthread_create(&w->thread, NULL, offload_thread, w);
		if (err)
			return -err;
		offload.nr_threads++;
	}
	return 0;
}

static bool offload_join(const struct timespec *deadline)
{
	pthread_mutex_lock(&offload.lock);
	offload.stop = true;
	pthread_cond_broadcast(&offload.cond);
	pthread_mutex_unlock(&offload.lock);
	while (offload.nr_threads) {
		struct worker *w = &offload.workers[offload.nr_threads - 1];

		if (deadline ? pthread_timedjoin_np(w->thread, NULL, deadline) :
			       pthread_join(w->thread, NULL))
			return false;
		offload.nr_threads--;
	}
	return true;
}

/* True when the running kernel offers FUSE over io_uring (its enable_uring is set). */
static bool uring_kernel_enabled(void)
{
	char value = 0;
	int fd = open("/sys/module/fuse/parameters/enable_uring", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false; /* a kernel without FUSE over io_uring (before 6.14) */
	if (read(fd, &value, 1) != 1)
		value = 0;
	close(fd);
	return value == 'Y' || value == '1';
}

/*
 * Rings only where they can serve: with uring=auto, quietly not at all
 * when the kernel would not offer the feature.  Not in FUSE-BPF mode: a
 * LOOKUP reply with entries is an ioctl of the device, which finds only
 * requests read from it.
 */
static bool uring_usable(void)
{
	bool asked = fsd_config.uring == URING_MODE_ON;

	if (dev_is_socket()) {
		if (asked)
			fsd_log("uring=on: not on a --dev-fd socket; serving without it");
		return false;
	}
	if (fsd_bpf_kernel) {
		if (asked)
			fsd_log("uring=on: not with kernel=%s (LOOKUP replies go through an ioctl "
				"of the device); serving without it",
				kernel_mode_name(fsd_config.kernel));
		return false;
	}
	if (!uring_kernel_enabled()) {
		if (asked)
			fsd_log("uring=on: the kernel does not offer FUSE over io_uring "
				"(/sys/module/fuse/parameters/enable_uring is not Y): serving on "
				"/dev/fuse");
		return false;
	}
	return true;
}

int uring_setup(int session_fd)
{
	unsigned nr_cpu_ids = 0;
	int n, err;

	if (!uring_usable())
		return -EOPNOTSUPP;
	n = possible_cpus(&nr_cpu_ids);
	if (n < 0) {
		fsd_log("io_uring: reading the possible CPUs: %s: serving on /dev/fuse",
			strerror(-n));
		return n;
	}
	dev_fd = session_fd;
	err = rings_plan(n, nr_cpu_ids);
	if (err) {
		fsd_log("io_uring: placing the rings of %d CPUs: %s: serving on /dev/fuse", n,
			strerror(-err));
		goto out_free;
	}
	for (unsigned i = 0; i < nr_rings; i++) {
		err = ring_init(&rings[i], i);
		if (err) {
			fsd_log("io_uring: setting up the ring of CPU %u: %s: serving on /dev/fuse",
				rings[i].cpu, strerror(-err));
			goto out_free;
		}
	}
	err = offload_start();
	if (err) {
		fsd_log("io_uring: starting the offload threads: %s: serving on /dev/fuse",
			strerror(-err));
		goto out_stop;
	}
	state = URING_WAIT_INIT;
	for (unsigned i = 0; i < nr_rings; i++) {
		err = ring_start(&rings[i]);
		if (err) {
			fsd_log("io_uring: starting the thread of CPU %u: %s: serving on /dev/fuse",
				rings[i].cpu, strerror(-err));
			goto out_stop;
		}
	}
	return 0;

out_stop:
	uring_stop();
	uring_join(NULL);
	state = URING_OFF;
out_free:
	uring_free();
	return err;
}

bool uring_wanted(void)
{
	return state != URING_OFF;
}

void uring_negotiated(bool granted)
{
	bool waited;

	pthread_mutex_lock(&state_lock);
	waited = state == URING_WAIT_INIT;
	if (waited) {
		state = granted ? URING_ON : URING_ENDED;
		pthread_cond_broadcast(&state_cond);
	}
	pthread_mutex_unlock(&state_lock);
	if (waited && !granted && fsd_config.uring == URING_MODE_ON)
		fsd_log("uring=on: not granted at INIT (enable_uring turned off meanwhile?): "
			"serving on /dev/fuse");
}

void uring_stop(void)
{
	pthread_mutex_lock(&state_lock);
	if (state == URING_WAIT_INIT) {
		state = URING_ENDED;
		pthread_cond_broadcast(&state_cond);
	}
	pthread_mutex_unlock(&state_lock);
}

bool uring_join(const struct timespec *deadline)
{
	for (unsigned i = 0; i < nr_rings; i++) {
		struct uring_ring *r = &rings[i];

		if (!r->started)
			continue;
		if (deadline ? pthread_timedjoin_np(r->thread, NULL, deadline) :
			       pthread_join(r->thread, NULL))
			return false;
		r->started = false;
	}
	/* The rings' threads are gone: no entry comes to the offload threads any more. */
	return offload_join(deadline);
}

void uring_free(void)
{
	for (unsigned i = 0; rings && i < nr_rings; i++) {
		struct uring_ring *r = &rings[i];

		if (r->sqes)
			munmap(r->sqes, r->sqes_len);
		if (r->ring_mem)
			munmap(r->ring_mem, r->ring_len);
		if (r->ring_fd >= 0)
			close(r->ring_fd);
		if (r->done_fd >= 0)
			close(r->done_fd);
		pthread_mutex_destroy(&r->done_lock);
		for (unsigned j = 0; r->ents && j < r->nr_ents; j++)
			free(r->ents[j].buf);
		free(r->ents);
	}
	free(rings);
	rings = NULL;
	nr_rings = 0;
	free(offload.workers);
	offload.workers = NULL;
}

int uring_active(void)
{
	return nr_rings && atomic_load(&rings_serving) == nr_rings;
}

// SPDX-License-Identifier: MIT
/*
 * FUSE over io_uring: the second way requests reach the workers.
 *
 * The kernel keeps one queue per possible CPU and puts a request on the
 * queue of the CPU that made it.  fsd serves each queue with an io_uring of
 * its own and one thread pinned to that CPU, so a caller and the thread that
 * serves it share a CPU: no cross-CPU wakeup on the way in or out, which is
 * where the time of a synchronous metadata request goes on /dev/fuse.
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
 * A queue's thread serves a request itself unless it may wait long
 * (request_may_block: data and flushes on the backing disk, directory reads,
 * a userspace module's calls).  Those go to the offload threads, shared by
 * all queues, so that an fsync on a busy disk does not hold up the stats
 * made after it on the same CPU.  An offload thread fills the entry's reply
 * and hands the entry back through the queue's eventfd: only the queue's
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
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/io_uring.h>

/*
 * Entries per queue.  One thread serves a queue, one request at a time;
 * more entries let the kernel hand over the requests that arrive meanwhile
 * in one batch, and one io_uring_enter then commits them all.  Entries
 * with the offload threads are out of the kernel's reach: a CPU with that
 * many slow requests at once waits for one of them.
 */
#define URING_DEPTH 4
/* SQEs and CQEs: an entry's command each, and the read of the eventfd. */
#define URING_SQ_SIZE (2 * URING_DEPTH)
#define URING_CQ_SIZE (4 * URING_DEPTH)
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

struct uring_queue;

struct uring_ent {
	struct fusebpf_uring_req_header hdr; /* iov[0] */
	char *buf; /* URING_FLAT_ROOM bytes, then the payload */
	char *payload; /* iov[1], URING_PAYLOAD bytes */
	struct iovec iov[2];
	struct uring_queue *queue;
	uint64_t commit_id; /* the request being served */
	bool registering; /* its REGISTER has not been accepted yet */
	/* With the offload threads: the request, and the next entry in their list or done. */
	const char *flat;
	uint32_t flat_len;
	struct uring_ent *next;
};

struct uring_queue {
	unsigned qid; /* the CPU it serves */
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
	bool counted; /* its entries are registered: counted in queues_serving */
	int register_failed; /* why a REGISTER was refused, 0 if none was */
	int commit_failed; /* why a COMMIT_AND_FETCH was refused, 0 if none was */
	struct uring_ent ents[URING_DEPTH];

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
static struct uring_queue *queues;
static unsigned nr_queues;
static int dev_fd = -1;
static _Atomic unsigned queues_serving;

static int sys_io_uring_setup(unsigned entries, struct io_uring_params *p)
{
	return syscall(__NR_io_uring_setup, entries, p);
}

static int sys_io_uring_enter(int fd, unsigned to_submit, unsigned min_complete, unsigned flags)
{
	return syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, NULL, 0);
}

/*
 * The kernel has nr_possible_cpus queues, indexed by CPU number: count the
 * CPUs in /sys/devices/system/cpu/possible ("0-1", "0-3,6").
 */
static int possible_cpus(void)
{
	char line[256], *p = line;
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
		p = *end == ',' ? end + 1 : end;
	}
	return count > 0 ? count : -EIO;
}

static int queue_ring_init(struct uring_queue *q)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE,
		/* Every entry and the eventfd read, nothing else, can complete: no overflow. */
		.cq_entries = URING_CQ_SIZE,
	};
	size_t sq_len, cq_len;
	char *m;

	q->ring_fd = sys_io_uring_setup(URING_SQ_SIZE, &p);
	if (q->ring_fd < 0)
		return -errno;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP))
		return -EOPNOTSUPP; /* before Linux 5.4, which has no FUSE over io_uring either */
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	q->ring_len = sq_len > cq_len ? sq_len : cq_len;
	q->ring_mem = mmap(NULL, q->ring_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
			   q->ring_fd, IORING_OFF_SQ_RING);
	if (q->ring_mem == MAP_FAILED) {
		q->ring_mem = NULL;
		return -errno;
	}
	q->sqes_len = p.sq_entries * URING_SQE_SIZE;
	q->sqes = mmap(NULL, q->sqes_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       q->ring_fd, IORING_OFF_SQES);
	if (q->sqes == MAP_FAILED) {
		q->sqes = NULL;
		return -errno;
	}
	m = q->ring_mem;
	q->sq_tail = (unsigned *)(m + p.sq_off.tail);
	q->sq_mask = *(unsigned *)(m + p.sq_off.ring_mask);
	q->sq_array = (unsigned *)(m + p.sq_off.array);
	q->cq_head = (unsigned *)(m + p.cq_off.head);
	q->cq_tail = (unsigned *)(m + p.cq_off.tail);
	q->cq_mask = *(unsigned *)(m + p.cq_off.ring_mask);
	q->cqes = (struct io_uring_cqe *)(m + p.cq_off.cqes);
	q->sq_next = *q->sq_tail;
	return 0;
}

static int queue_init(struct uring_queue *q, unsigned qid)
{
	int err;

	q->qid = qid;
	q->worker.transport = WORKER_URING;
	q->worker.fd = -1;
	q->worker.index = fsd_config.threads + qid;
	q->done_fd = eventfd(0, EFD_CLOEXEC);
	if (q->done_fd < 0)
		return -errno;
	err = queue_ring_init(q);
	if (err)
		return err;
	for (unsigned i = 0; i < URING_DEPTH; i++) {
		struct uring_ent *e = &q->ents[i];

		e->queue = q;
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
static struct io_uring_sqe *queue_sqe(struct uring_queue *q)
{
	unsigned idx = q->sq_next & q->sq_mask;
	struct io_uring_sqe *sqe = (void *)(q->sqes + (size_t)idx * URING_SQE_SIZE);

	memset(sqe, 0, URING_SQE_SIZE);
	q->sq_array[idx] = idx;
	return sqe;
}

/* Hands the SQE queue_sqe() gave over to the kernel: written before the tail that says so. */
static void queue_sqe_ready(struct uring_queue *q)
{
	__atomic_store_n(q->sq_tail, ++q->sq_next, __ATOMIC_RELEASE);
	q->sq_pending++;
}

static void queue_cmd(struct uring_queue *q, struct uring_ent *e, uint32_t cmd_op)
{
	struct io_uring_sqe *sqe = queue_sqe(q);
	struct fusebpf_uring_cmd_req *cmd = (void *)sqe->cmd;

	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = dev_fd;
	sqe->cmd_op = cmd_op;
	sqe->user_data = e - q->ents;
	if (cmd_op == FUSEBPF_URING_CMD_REGISTER) {
		sqe->addr = (uintptr_t)e->iov;
		sqe->len = 2;
	} else {
		cmd->commit_id = e->commit_id;
	}
	cmd->qid = q->qid;
	queue_sqe_ready(q);
}

/* Asks the ring to tell when the offload threads have answered an entry. */
static void queue_done_read(struct uring_queue *q)
{
	struct io_uring_sqe *sqe = queue_sqe(q);

	sqe->opcode = IORING_OP_READ;
	sqe->fd = q->done_fd;
	sqe->addr = (uintptr_t)&q->done_count;
	sqe->len = sizeof(q->done_count);
	sqe->user_data = URING_DONE_TAG;
	queue_sqe_ready(q);
}

/*
 * The entry's reply is ready.  The queue's thread, which owns the ring,
 * commits it now; an offload thread hands the entry back once
 * request_process() is done with it (ent_process).
 */
static void ent_commit(struct worker *w, struct uring_ent *e)
{
	w->ent = NULL;
	if (w == &e->queue->worker)
		queue_cmd(e->queue, e, FUSEBPF_URING_CMD_COMMIT_AND_FETCH);
}

/* An offload thread's answered entry, back to its queue's thread to commit. */
static void queue_done_push(struct uring_queue *q, struct uring_ent *e)
{
	uint64_t one = 1;

	pthread_mutex_lock(&q->done_lock);
	e->next = q->done;
	q->done = e;
	pthread_mutex_unlock(&q->done_lock);
	if (write(q->done_fd, &one, sizeof(one)) < 0)
		fsd_log("io_uring queue %u: waking its thread: %s", q->qid, strerror(errno));
}

/* Commits what the offload threads have answered: on the queue's thread. */
static void queue_commit_done(struct uring_queue *q)
{
	struct uring_ent *e;

	pthread_mutex_lock(&q->done_lock);
	e = q->done;
	q->done = NULL;
	pthread_mutex_unlock(&q->done_lock);
	for (; e; e = e->next)
		queue_cmd(q, e, FUSEBPF_URING_CMD_COMMIT_AND_FETCH);
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
 * Serves the entry's request on w: the queue's thread or an offload thread.
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
			e->queue->qid, opcode_name(((const struct fuse_in_header *)e->flat)->opcode));
		ent_commit_error(w, e, -EIO);
	}
	if (w != &e->queue->worker)
		queue_done_push(e->queue, e);
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

	dev_worker_init(w);
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
static void ent_serve(struct uring_queue *q, struct uring_ent *e)
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
			"add up: replying EIO", q->qid, opcode_name(in.opcode), in.len, payload_sz);
		ent_commit_error(&q->worker, e, -EIO);
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
		ent_process(&q->worker, e);
}

/* The end of an entry: the connection's end, or a refusal. */
static void ent_ended(struct uring_queue *q, struct uring_ent *e, int res)
{
	q->live--;
	if (res == -ENOTCONN || res == -ECONNABORTED || res == -ECANCELED)
		return;
	if (e->registering) {
		/* The kernel now leaves io_uring off for the connection. */
		if (!q->register_failed)
			fsd_log("io_uring queue %u: registering its entries: %s: requests stay on "
				"/dev/fuse", q->qid, strerror(-res));
		q->register_failed = res;
		return;
	}
	fsd_log("io_uring queue %u: committing a reply: %s", q->qid, strerror(-res));
	q->commit_failed = res;
}

static bool queue_wait_init(void)
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
static int queue_serve(struct uring_queue *q)
{
	for (unsigned i = 0; i < URING_DEPTH; i++) {
		q->ents[i].registering = true;
		queue_cmd(q, &q->ents[i], FUSEBPF_URING_CMD_REGISTER);
	}
	queue_done_read(q);
	q->live = URING_DEPTH;
	while (q->live) {
		/* Until registered, do not wait: a refused REGISTER must be seen. */
		unsigned wait = q->counted || q->register_failed ? 1 : 0;
		unsigned head, tail;
		int n = sys_io_uring_enter(q->ring_fd, q->sq_pending, wait, IORING_ENTER_GETEVENTS);

		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EBUSY)
				continue;
			return -errno;
		}
		q->sq_pending -= n;
		head = *q->cq_head;
		tail = __atomic_load_n(q->cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			const struct io_uring_cqe *cqe = &q->cqes[head & q->cq_mask];
			uint64_t tag = cqe->user_data;
			struct uring_ent *e = &q->ents[tag % URING_DEPTH];
			int res = cqe->res;

			/* The CQE is read: give its slot back before serving. */
			__atomic_store_n(q->cq_head, head + 1, __ATOMIC_RELEASE);
			if (tag == URING_DONE_TAG) {
				/* Without the read, offloaded entries would never come back. */
				if (res < 0 && res != -EINTR && res != -EAGAIN) {
					fsd_log("io_uring queue %u: reading its eventfd: %s", q->qid,
						strerror(-res));
					return res;
				}
				queue_commit_done(q);
				queue_done_read(q);
			} else if (res == -EAGAIN && e->registering) {
				/* INIT's reply is not processed yet. */
				usleep(1000);
				queue_cmd(q, e, FUSEBPF_URING_CMD_REGISTER);
			} else if (res < 0) {
				ent_ended(q, e, res);
			} else {
				e->registering = false;
				ent_serve(q, e);
			}
		}
		if (!q->counted && !q->register_failed && !q->sq_pending) {
			q->counted = true;
			atomic_fetch_add(&queues_serving, 1);
		}
	}
	/*
	 * Entries refused while the connection lives on: with none left, this
	 * CPU's requests would wait forever.
	 */
	return q->commit_failed;
}

static void *queue_thread(void *arg)
{
	struct uring_queue *q = arg;
	int err;

	dev_worker_init(&q->worker);
	if (!queue_wait_init())
		return NULL;
	err = queue_serve(q);
	if (q->counted)
		atomic_fetch_sub(&queues_serving, 1);
	if (err) {
		fsd_log("io_uring queue %u: %s", q->qid, strerror(-err));
		fsd_worker_exited(err);
	}
	return NULL;
}

static int queue_start(struct uring_queue *q)
{
	pthread_attr_t attr;
	cpu_set_t cpus;
	int err;

	CPU_ZERO(&cpus);
	CPU_SET(q->qid, &cpus);
	pthread_attr_init(&attr);
	pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
	err = pthread_create(&q->thread, &attr, queue_thread, q);
	pthread_attr_destroy(&attr);
	if (err == EINVAL) /* the CPU is not online: serve its queue from anywhere */
		err = pthread_create(&q->thread, NULL, queue_thread, q);
	if (err)
		return -err;
	q->started = true;
	return 0;
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
		w->index = fsd_config.threads + nr_queues + i;
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

int uring_setup(int session_fd)
{
	int n = possible_cpus(), err;

	if (n < 0) {
		fsd_log("io_uring: reading the possible CPUs: %s: serving on /dev/fuse",
			strerror(-n));
		return n;
	}
	queues = calloc(n, sizeof(*queues));
	if (!queues)
		return -ENOMEM;
	nr_queues = n;
	dev_fd = session_fd;
	for (unsigned i = 0; i < nr_queues; i++) {
		queues[i].ring_fd = queues[i].done_fd = -1;
		pthread_mutex_init(&queues[i].done_lock, NULL);
	}
	for (unsigned i = 0; i < nr_queues; i++) {
		err = queue_init(&queues[i], i);
		if (err) {
			fsd_log("io_uring: setting up the ring of CPU %u: %s: serving on /dev/fuse",
				i, strerror(-err));
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
	for (unsigned i = 0; i < nr_queues; i++) {
		err = queue_start(&queues[i]);
		if (err) {
			fsd_log("io_uring: starting the thread of CPU %u: %s: serving on /dev/fuse",
				i, strerror(-err));
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
	pthread_mutex_lock(&state_lock);
	if (state == URING_WAIT_INIT) {
		state = granted ? URING_ON : URING_ENDED;
		pthread_cond_broadcast(&state_cond);
	}
	pthread_mutex_unlock(&state_lock);
	if (!granted && fsd_config.uring_given)
		fsd_log("uring=on: the kernel does not offer FUSE over io_uring "
			"(/sys/module/fuse/parameters/enable_uring is not Y?): serving on /dev/fuse");
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
	for (unsigned i = 0; i < nr_queues; i++) {
		struct uring_queue *q = &queues[i];

		if (!q->started)
			continue;
		if (deadline ? pthread_timedjoin_np(q->thread, NULL, deadline) :
			       pthread_join(q->thread, NULL))
			return false;
		q->started = false;
	}
	/* The queues' threads are gone: no entry comes to the offload threads any more. */
	return offload_join(deadline);
}

void uring_free(void)
{
	for (unsigned i = 0; queues && i < nr_queues; i++) {
		struct uring_queue *q = &queues[i];

		if (q->sqes)
			munmap(q->sqes, q->sqes_len);
		if (q->ring_mem)
			munmap(q->ring_mem, q->ring_len);
		if (q->ring_fd >= 0)
			close(q->ring_fd);
		if (q->done_fd >= 0)
			close(q->done_fd);
		pthread_mutex_destroy(&q->done_lock);
		for (unsigned j = 0; j < URING_DEPTH; j++)
			free(q->ents[j].buf);
	}
	free(queues);
	queues = NULL;
	nr_queues = 0;
	free(offload.workers);
	offload.workers = NULL;
}

int uring_active(void)
{
	return nr_queues && atomic_load(&queues_serving) == nr_queues;
}

// SPDX-License-Identifier: MIT
/*
 * Where the GPS data of a JPEG lies (media_exif.h): a scan of the JPEG
 * markers up to SOS finds every APP1 segment holding EXIF; in each, the GPS
 * IFDs and the values their entries point to become byte ranges of the file.
 *
 * Why two readings of each EXIF block.  libexif parses EXIF well and is
 * maintained and fuzzed, but it says what the tags are, not where they are:
 * an ExifEntry holds a copy of its value and no file offset, and its loader
 * drops entries it does not like (values past the end of the block,
 * repeated tags, formats it does not know), whose bytes must still be
 * zeroed.  So the ranges come from a walk of the TIFF structure in this
 * file, on a copy of the segment in memory where every offset read from the
 * file is checked against the copy's length.  The walk follows what libexif
 * follows (IFD0, IFD1, and the Exif, GPS and Interoperability pointers in
 * any IFD, as 32-bit offsets from the TIFF header, within the segment) with
 * libexif's byte-order readers and TIFF type sizes, and keeps more: the
 * rest of the chain after IFD1, every GPS IFD any pointer reaches rather
 * than the first, and every entry inside the segment.
 *
 * libexif then parses the same copy, and it is the check: when it finds GPS
 * entries the walk found no GPS IFD for, or more of them than the walk saw,
 * the two readings disagree about where the location is, and the file gets
 * -EBADMSG (the caller fails the open) instead of being served with bytes
 * nobody placed.  When libexif finds no GPS but the walk does, the walk's
 * ranges are zeroed anyway: another reader may well take them for GPS.
 *
 * Only EXIF is covered: location kept in XMP (APP1 "http://ns.adobe.com/"),
 * in maker notes, or in the EXIF of an embedded thumbnail is not found here.
 */
#define _GNU_SOURCE
#include "media_exif.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libexif/exif-data.h>
#include <libexif/exif-utils.h>

#define M_SOI 0xd8
#define M_EOI 0xd9
#define M_SOS 0xda
#define M_APP1 0xe1
#define M_TEM 0x01
#define M_RST0 0xd0
#define M_RST7 0xd7

#define TAG_EXIF_IFD 0x8769
#define TAG_GPS_IFD 0x8825
#define TAG_INTEROP_IFD 0xa005

/*
 * Limits no real image comes near; past them the file is refused rather
 * than half read.  Steps are markers and fill bytes before SOS (a camera
 * JPEG has about ten markers there); IFDs are per EXIF block (a camera
 * writes five); ranges are before merging (a GPS IFD has some thirty tags).
 */
#define SCAN_MAX_STEPS 65536
#define WALK_MAX_IFDS 32
#define RANGES_MAX 65536

static const unsigned char exif_magic[6] = { 'E', 'x', 'i', 'f', 0, 0 };

struct range_vec {
	struct byte_range *v;
	size_t n, cap;
};

static int range_add(struct range_vec *rv, uint64_t off, uint64_t len)
{
	if (!len)
		return 0;
	if (rv->n == rv->cap) {
		size_t cap = rv->cap ? rv->cap * 2 : 16;
		struct byte_range *v;

		if (cap > RANGES_MAX)
			return -EBADMSG;
		v = realloc(rv->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		rv->v = v;
		rv->cap = cap;
	}
	rv->v[rv->n++] = (struct byte_range){ .off = off, .len = len };
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct byte_range *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

/* Sorts and merges overlapping or touching ranges, in place. */
static void range_merge(struct range_vec *rv)
{
	size_t i, out = 0;

	if (!rv->n)
		return;
	qsort(rv->v, rv->n, sizeof(rv->v[0]), range_cmp);
	for (i = 1; i < rv->n; i++) {
		struct byte_range *cur = &rv->v[out];
		uint64_t end = cur->off + cur->len;

		if (rv->v[i].off <= end) {
			if (rv->v[i].off + rv->v[i].len > end)
				cur->len = rv->v[i].off + rv->v[i].len - cur->off;
		} else {
			rv->v[++out] = rv->v[i];
		}
	}
	rv->n = out + 1;
}

/* Up to LEN bytes at OFF; fewer only at the end of the file. */
static ssize_t pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			break;
		done += n;
	}
	return done;
}

/* A window of the file for the marker scan, so a marker costs no syscall. */
struct scan {
	int fd;
	uint64_t base; /* file offset of buf[0] */
	size_t len; /* bytes valid in buf */
	unsigned char buf[4096];
};

/* Copies N (at most 8) bytes at POS to OUT: 1, 0 past the end of file, or -errno. */
static int scan_get(struct scan *s, uint64_t pos, unsigned char *out, size_t n)
{
	if (pos < s->base || pos - s->base > s->len || s->len - (pos - s->base) < n) {
		ssize_t got = pread_full(s->fd, s->buf, sizeof(s->buf), pos);

		if (got < 0)
			return got;
		s->base = pos;
		s->len = got;
		if ((size_t)got < n)
			return 0;
	}
	memcpy(out, s->buf + (pos - s->base), n);
	return 1;
}

/* ---- the walk of one EXIF block's TIFF structure ---- */

enum ifd_kind { IFD_MAIN, IFD_SUB, IFD_GPS }; /* IFD0 and its chain; Exif, Interop; GPS */

struct walk {
	const unsigned char *t; /* the TIFF header, in the segment copy */
	uint32_t len; /* bytes from t to the end of the segment (or of the file) */
	uint64_t base; /* file offset of t */
	ExifByteOrder order;
	struct {
		uint32_t off;
		enum ifd_kind kind;
	} ifd[WALK_MAX_IFDS];
	unsigned n_ifd;
	bool too_many;
	unsigned gps_ifds;
	unsigned long gps_entries; /* GPS IFD entries whole inside the segment */
	struct range_vec *out;
};

/*
 * Queues the IFD at OFF, once per kind: an offset met again (a loop, two
 * pointers to one IFD) is not walked again.  A pointer past the segment
 * points at nothing the readers see, since they parse the segment alone.
 */
static void walk_push(struct walk *w, uint32_t off, enum ifd_kind kind)
{
	unsigned i;

	if (off >= w->len)
		return;
	for (i = 0; i < w->n_ifd; i++)
		if (w->ifd[i].off == off && w->ifd[i].kind == kind)
			return;
	if (w->n_ifd == WALK_MAX_IFDS) {
		w->too_many = true;
		return;
	}
	w->ifd[w->n_ifd].off = off;
	w->ifd[w->n_ifd].kind = kind;
	w->n_ifd++;
}

/* The out-of-line value of GPS entry E, clipped to the segment. */
static int walk_gps_value(struct walk *w, const unsigned char *e)
{
	ExifFormat type = exif_get_short(e + 2, w->order);
	uint64_t size = (uint64_t)exif_get_long(e + 4, w->order) * exif_format_get_size(type);
	uint32_t off = exif_get_long(e + 8, w->order);

	/* Up to 4 bytes live in the entry itself; an unknown type has size 0. */
	if (size <= 4 || off >= w->len)
		return 0;
	if (size > w->len - off)
		size = w->len - off;
	return range_add(w->out, w->base + off, size);
}

static int walk_ifd(struct walk *w, uint32_t off, enum ifd_kind kind)
{
	uint32_t room = w->len - off; /* off < len: walk_push checked */
	uint64_t size;
	unsigned n, i;
	int ret;

	if (room < 2)
		return kind == IFD_GPS ? range_add(w->out, w->base + off, room) : 0;
	n = exif_get_short(w->t + off, w->order);
	size = 2 + 12 * (uint64_t)n + 4;
	if (kind == IFD_GPS) {
		/* The whole IFD as it claims to be, what of it the segment holds. */
		ret = range_add(w->out, w->base + off, size < room ? size : room);
		if (ret)
			return ret;
		w->gps_ifds++;
	}
	if (n > (room - 2) / 12)
		n = (room - 2) / 12;
	for (i = 0; i < n; i++) {
		const unsigned char *e = w->t + off + 2 + 12 * i;

		switch (exif_get_short(e, w->order)) {
		case TAG_EXIF_IFD:
		case TAG_INTEROP_IFD:
			walk_push(w, exif_get_long(e + 8, w->order), IFD_SUB);
			break;
		case TAG_GPS_IFD:
			walk_push(w, exif_get_long(e + 8, w->order), IFD_GPS);
			break;
		}
		if (kind == IFD_GPS) {
			ret = walk_gps_value(w, e);
			if (ret)
				return ret;
			w->gps_entries++;
		}
	}
	if (kind == IFD_MAIN && size <= room) {
		uint32_t next = exif_get_long(w->t + off + size - 4, w->order);

		if (next)
			walk_push(w, next, IFD_MAIN);
	}
	return 0;
}

/* Walks the TIFF structure at T (LEN bytes, file offset BASE). */
static int walk_tiff(struct walk *w)
{
	unsigned i;
	int ret;

	if (w->len < 8)
		return 0;
	if (!memcmp(w->t, "II", 2))
		w->order = EXIF_BYTE_ORDER_INTEL;
	else if (!memcmp(w->t, "MM", 2))
		w->order = EXIF_BYTE_ORDER_MOTOROLA;
	else
		return 0;
	if (exif_get_short(w->t + 2, w->order) != 42)
		return 0;
	walk_push(w, exif_get_long(w->t + 4, w->order), IFD_MAIN);
	/* Breadth first; walk_ifd appends to the array it is iterating. */
	for (i = 0; i < w->n_ifd; i++) {
		ret = walk_ifd(w, w->ifd[i].off, w->ifd[i].kind);
		if (ret)
			return ret;
	}
	return w->too_many ? -EBADMSG : 0;
}

/* How many GPS entries libexif reads in the EXIF block SEG (LEN bytes). */
static int libexif_gps_entries(const unsigned char *seg, size_t len, unsigned *count)
{
	ExifData *ed = exif_data_new();

	if (!ed)
		return -ENOMEM;
	/* Everything as stored: no entries dropped for an unknown tag, none added. */
	exif_data_unset_option(ed, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS);
	exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
	exif_data_load_data(ed, seg, len);
	*count = ed->ifd[EXIF_IFD_GPS] ? ed->ifd[EXIF_IFD_GPS]->count : 0;
	exif_data_unref(ed);
	return 0;
}

/*
 * The GPS ranges of the APP1 payload at file offset OFF, LEN bytes, which
 * starts with the EXIF magic.  SEG is a 64 KiB buffer for its copy.
 */
static int segment_ranges(int fd, unsigned char *seg, uint64_t off, size_t len,
			  struct range_vec *out)
{
	struct walk w = { .out = out };
	unsigned lib_gps;
	ssize_t got;
	int ret;

	got = pread_full(fd, seg, len, off);
	if (got < 0)
		return got;
	/* A segment cut short by the end of the file is read as far as it goes. */
	if ((size_t)got <= sizeof(exif_magic) || memcmp(seg, exif_magic, sizeof(exif_magic)))
		return 0;
	w.t = seg + sizeof(exif_magic);
	w.len = got - sizeof(exif_magic);
	w.base = off + sizeof(exif_magic);
	ret = walk_tiff(&w);
	if (ret)
		return ret;
	ret = libexif_gps_entries(seg, got, &lib_gps);
	if (ret)
		return ret;
	if (lib_gps && (!w.gps_ifds || lib_gps > w.gps_entries))
		return -EBADMSG;
	return 0;
}

int media_exif_gps_ranges(int fd, struct byte_range **ranges, size_t *count)
{
	struct range_vec rv = { 0 };
	struct scan *s = malloc(sizeof(*s));
	unsigned char *seg = malloc(65535);
	unsigned char b[8];
	uint64_t pos = 2;
	unsigned steps;
	int ret = -ENOMEM;

	*ranges = NULL;
	*count = 0;
	if (!s || !seg)
		goto out;
	s->fd = fd;
	s->base = 0;
	s->len = 0;
	ret = scan_get(s, 0, b, 2);
	if (ret <= 0 || b[0] != 0xff || b[1] != M_SOI)
		goto out; /* not a JPEG: nothing to redact */
	for (steps = 0;; steps++) {
		unsigned seg_len;

		if (steps == SCAN_MAX_STEPS) {
			ret = -EBADMSG;
			goto out;
		}
		ret = scan_get(s, pos, b, 4);
		if (ret <= 0)
			break; /* the end of the file, or an error */
		if (b[0] != 0xff)
			break; /* not a marker: the readers stop here too */
		if (b[1] == 0xff) {
			pos++; /* fill byte */
			continue;
		}
		if (b[1] == M_SOS || b[1] == M_EOI || b[1] == 0)
			break;
		if (b[1] == M_TEM || b[1] == M_SOI || (b[1] >= M_RST0 && b[1] <= M_RST7)) {
			pos += 2; /* markers without a length */
			continue;
		}
		seg_len = (unsigned)b[2] << 8 | b[3];
		if (seg_len < 2)
			break;
		if (b[1] == M_APP1 && seg_len >= 2 + sizeof(exif_magic)) {
			ret = scan_get(s, pos + 4, b, sizeof(exif_magic));
			if (ret < 0)
				goto out;
			if (ret && !memcmp(b, exif_magic, sizeof(exif_magic))) {
				ret = segment_ranges(fd, seg, pos + 4, seg_len - 2, &rv);
				if (ret)
					goto out;
			}
		}
		pos += 2 + seg_len;
	}
	if (ret < 0)
		goto out;
	ret = 0;
	range_merge(&rv);
	if (rv.n) {
		*ranges = rv.v;
		*count = rv.n;
		rv.v = NULL;
	}
out:
	free(rv.v);
	free(seg);
	free(s);
	return ret < 0 ? ret : 0;
}

void media_exif_redact(void *buf, size_t len, uint64_t off, const struct byte_range *ranges,
		       size_t count)
{
	/* Saturating: an end past 2^64 cannot be reached by any read. */
	uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
	size_t i;

	for (i = 0; i < count; i++) {
		uint64_t r_end = ranges[i].len > UINT64_MAX - ranges[i].off
					 ? UINT64_MAX
					 : ranges[i].off + ranges[i].len;
		uint64_t from = ranges[i].off > off ? ranges[i].off : off;
		uint64_t to = r_end < end ? r_end : end;

		if (from < to)
			memset((char *)buf + (from - off), 0, to - from);
	}
}

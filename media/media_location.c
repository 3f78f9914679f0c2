// SPDX-License-Identifier: MIT
/*
 * Where the location data of a file lies (media_location.h).
 *
 * Readers disagree about what a JPEG is.  libjpeg skips junk before a
 * marker; libexif's loaders skip any 0xff and SOI bytes and take a marker
 * byte without the 0xff in front; exiftool reads on past SOS and into the
 * images appended after EOI; XMP packet scanners look for <?xpacket
 * anywhere.  A redaction that follows one reader's marker walk leaks to the
 * next (one 0xd8 after SOI stopped the walk this file once had, while
 * libexif and exiftool read on).  So nothing here walks markers: a file
 * that may be a JPEG is swept whole for the signatures that every reader
 * starts from, and each block found is read as the readers bound it.
 *
 * The sweep reads the file in chunks (SWEEP_CHUNK, with a few bytes of
 * overlap so that no signature is missed at a seam) and notes:
 *
 * - "Exif\0\0" followed by a TIFF header: an EXIF block.  Its GPS ranges
 *   come from a walk of its TIFF structure on a copy of the block, where
 *   every offset read from the file is checked against the copy's length
 *   (see below), and libexif parses the same copy as a check;
 * - "http://ns.adobe.com/xap/1.0/\0" and "http://ns.adobe.com/xmp/extension/\0":
 *   an XMP APP1 segment and an extended XMP chunk, bounded by the APP1
 *   length before them; "<?xpacket begin" and "<?xpacket end": a packet;
 * - ":GPS" and "<GPS" in UTF-8: a GPS property if it lies in an XMP region.
 *   In UTF-16 or UTF-32 the file is refused (no reader here decodes them,
 *   and blanking them right would need one).
 *
 * Why two readings of each EXIF block.  libexif parses EXIF well and is
 * maintained and fuzzed, but it says what the tags are, not where they are:
 * an ExifEntry holds a copy of its value and no file offset, and its loader
 * drops entries it does not like (values past the end of the block,
 * repeated tags, formats it does not know), whose bytes must still be
 * zeroed.  So the ranges come from a walk of the TIFF structure in this
 * file, which follows what libexif follows (IFD0, IFD1, and the Exif, GPS
 * and Interoperability pointers in any IFD, as 32-bit offsets from the TIFF
 * header, within the block) with libexif's byte-order readers and TIFF type
 * sizes, and keeps more: the rest of the chain after IFD1, every GPS IFD
 * any pointer reaches rather than the first, and every entry inside the
 * block.  When libexif finds GPS entries the walk found no GPS IFD for, or
 * more of them than the walk saw, the two readings disagree about where the
 * location is, and the file gets -EBADMSG (the caller refuses it) instead
 * of being served with bytes nobody placed.
 *
 * XMP properties are blanked with spaces, not zeros: the packet stays
 * well-formed XML and its other properties stay readable.  A property whose
 * end cannot be found inside its region (a packet cut short, an extended
 * XMP chunk boundary inside it) is refused rather than half blanked.
 *
 * Not covered: location in maker notes, in HEIC, PNG, TIFF or video files
 * (not JPEGs), and XMP location under other names (city, country).
 */
#define _GNU_SOURCE
#include "media_location.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libexif/exif-data.h>
#include <libexif/exif-utils.h>

#define TAG_EXIF_IFD	0x8769
#define TAG_GPS_IFD	0x8825
#define TAG_INTEROP_IFD 0xa005

/*
 * Limits no real image comes near; past them the file is refused rather
 * than half read.  EXIF blocks per file (a camera writes one, two with an
 * MPF second image); IFDs per EXIF block (a camera writes five); GPS names
 * noted in one file; ranges before merging (a GPS IFD has some thirty
 * tags); XMP regions; the longest GPS property.
 */
#define EXIF_BLOCKS_MAX	 256
#define WALK_MAX_IFDS	 32
#define GPS_NAMES_MAX	 4096
#define RANGES_MAX	 65536
#define XMP_REGIONS_MAX	 1024
#define XMP_PROPERTY_MAX 65536

/* The sweep: chunks, and what is read around each so a signature at a seam is whole. */
#define SWEEP_CHUNK  (1u << 20)
#define SWEEP_BEHIND 16 /* ":GPS" in UTF-32 starts 12 bytes before its 'P' */
#define SWEEP_AHEAD  64 /* the longest signature, and the TIFF header after "Exif\0\0" */

/* An EXIF block is read into a buffer of this size: an APP1 segment's payload fits. */
#define EXIF_BLOCK_MAX 65535

static const unsigned char exif_magic[6] = {'E', 'x', 'i', 'f', 0, 0};
static const char xmp_prefix[] = "http://ns.adobe.com/x";
static const char xmp_std_sig[] = "http://ns.adobe.com/xap/1.0/";	/* and a NUL */
static const char xmp_ext_sig[] = "http://ns.adobe.com/xmp/extension/"; /* and a NUL */
static const char xpacket_prefix[] = "<?xpacket ";
/* An extended XMP chunk: signature, NUL, GUID (32), full length (4), offset (4). */
#define XMP_EXT_HEADER (sizeof(xmp_ext_sig) + 32 + 4 + 4)

struct range_vec {
	struct byte_range *v;
	size_t n, cap;
};

static int range_add(struct range_vec *rv, uint64_t off, uint64_t len, unsigned char fill)
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
	rv->v[rv->n++] = (struct byte_range){.off = off, .len = len, .fill = fill};
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct byte_range *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return (x->fill > y->fill) - (x->fill < y->fill);
}

/*
 * Sorts, and merges overlapping or touching ranges of one fill, in place.
 * Ranges of different fills (EXIF inside an XMP packet, say) stay apart.
 */
static void range_merge(struct range_vec *rv)
{
	size_t i, out = 0;

	if (!rv->n)
		return;
	qsort(rv->v, rv->n, sizeof(rv->v[0]), range_cmp);
	for (i = 1; i < rv->n; i++) {
		struct byte_range *cur = &rv->v[out];
		uint64_t end = cur->off + cur->len;

		if (rv->v[i].fill == cur->fill && rv->v[i].off <= end) {
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

static uint16_t be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- the walk of one EXIF block's TIFF structure ---- */

enum ifd_kind { IFD_MAIN, IFD_SUB, IFD_GPS }; /* IFD0 and its chain; Exif, Interop; GPS */

struct walk {
	const unsigned char *t; /* the TIFF header, in the segment copy */
	uint32_t len;		/* bytes from t to the end of the segment (or of the file) */
	uint64_t base;		/* file offset of t */
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
	return range_add(w->out, w->base + off, size, 0);
}

static int walk_ifd(struct walk *w, uint32_t off, enum ifd_kind kind)
{
	uint32_t room = w->len - off; /* off < len: walk_push checked */
	uint64_t size;
	unsigned n, i;
	int ret;

	if (room < 2)
		return kind == IFD_GPS ? range_add(w->out, w->base + off, room, 0) : 0;
	n = exif_get_short(w->t + off, w->order);
	size = 2 + 12 * (uint64_t)n + 4;
	if (kind == IFD_GPS) {
		/* The whole IFD as it claims to be, what of it the segment holds. */
		ret = range_add(w->out, w->base + off, size < room ? size : room, 0);
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

/* ---- reading the file as served ---- */

enum xmp_kind { XMP_STD, XMP_EXT, XMP_PACKET };

struct xmp_region {
	uint64_t start, end; /* the packet's text: file offsets */
	enum xmp_kind kind;
	/* XMP_EXT: which extended packet, and where in it this chunk goes. */
	unsigned char guid[32];
	uint32_t ext_off;
};

/* What the sweep found, for the passes that need the whole file seen first. */
struct sweep {
	int fd;
	const struct range_vec *applied; /* what an earlier round found: reads see it blanked */
	unsigned char *seg;		 /* EXIF_BLOCK_MAX bytes */
	struct range_vec *out;
	unsigned exif_blocks;
	struct xmp_region *regions;
	size_t n_regions, cap_regions;
	uint64_t *packet_ends; /* offsets of "<?xpacket end" */
	size_t n_packet_ends, cap_packet_ends;
	uint64_t *gps_names; /* offsets of ":GPS" and "<GPS" in UTF-8 */
	size_t n_gps_names, cap_gps_names;
};

/*
 * Up to LEN bytes at OFF as an app would be served them after the rounds
 * before this one: with the ranges they found blanked.  Fewer only at the
 * end of the file.
 */
static ssize_t view_read(const struct sweep *s, void *buf, size_t len, uint64_t off)
{
	ssize_t got = pread_full(s->fd, buf, len, off);

	if (got > 0)
		media_location_redact(buf, got, off, s->applied->v, s->applied->n);
	return got;
}

/* ---- EXIF ---- */

/*
 * The GPS ranges of the EXIF block at file offset OFF ("Exif\0\0" and a
 * TIFF header), of at most LEN bytes, read into s->seg.
 */
static int exif_block_ranges(const struct sweep *s, uint64_t off, size_t len)
{
	struct walk w = {.out = s->out};
	unsigned char *seg = s->seg;
	unsigned lib_gps;
	ssize_t got;
	int ret;

	if (len > EXIF_BLOCK_MAX)
		len = EXIF_BLOCK_MAX;
	got = view_read(s, seg, len, off);
	if (got < 0)
		return got;
	/* A block cut short by its length or by the end of the file is read as far as it goes. */
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

/*
 * How many bytes of the EXIF block at file offset OFF a reader takes, from
 * the two bytes before it (LEN_FIELD, or NULL at the start of the file).
 * In an APP1 segment they are its length, which counts themselves, and
 * libjpeg, exiftool and exif_data_load_data read that many less two; but
 * libexif's file loader (exif_data_new_from_file) copies as many bytes as
 * the length says from after it, two past the segment.  The most any of
 * them reads.  A raw block at the start of the file is read whole (libexif
 * caps it at 64 KiB).
 */
static size_t exif_block_len(uint64_t off, const unsigned char *len_field)
{
	if (off < 2 || !len_field)
		return EXIF_BLOCK_MAX;
	return be16(len_field);
}

/* ---- XMP ---- */

/* Room for one more of N elements of SIZE bytes in *V (*CAP of them), at most MAX. */
static int vec_grow(void **v, size_t *cap, size_t n, size_t size, size_t max)
{
	size_t want;
	void *nv;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -EBADMSG;
	want = *cap ? *cap * 2 : 8;
	nv = realloc(*v, (want < max ? want : max) * size);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = want < max ? want : max;
	return 0;
}

static int offset_add(uint64_t **v, size_t *n, size_t *cap, uint64_t x, size_t max)
{
	int ret = vec_grow((void **)v, cap, *n, sizeof(**v), max);

	if (!ret)
		(*v)[(*n)++] = x;
	return ret;
}

static int region_add(struct sweep *s, const struct xmp_region *r)
{
	int ret = vec_grow((void **)&s->regions, &s->cap_regions, s->n_regions, sizeof(*s->regions),
			   XMP_REGIONS_MAX);

	if (!ret)
		s->regions[s->n_regions++] = *r;
	return ret;
}

static bool xml_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.' || c == ':' || c >= 0x80;
}

static bool xml_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * The GPS property whose name has ":GPS" or "<GPS" at file offset AT, in the
 * XMP region R: its bytes go to OUT, blanked.  An element runs from its '<'
 * to its end tag (or its "/>"), an attribute from its name to its closing
 * quote; anything else (the words in text) is left alone.  A property that
 * runs out of the region, or through bytes no XML text has, is refused.
 */
static int xmp_property(const struct sweep *s, const struct xmp_region *r, uint64_t at)
{
	static const size_t before = 256; /* a qualified name's prefix, and its '<' */
	uint64_t from = at - r->start > before ? at - before : r->start;
	size_t want =
	    (size_t)(r->end - from < before + XMP_PROPERTY_MAX ? r->end - from
							       : before + XMP_PROPERTY_MAX);
	unsigned char *b = malloc(want ? want : 1);
	size_t n, i, name, name_end, end = 0;
	ssize_t got;
	int ret = -EBADMSG;

	if (!b)
		return -ENOMEM;
	got = view_read(s, b, want, from);
	if (got < 0) {
		ret = got;
		goto out;
	}
	n = got;
	i = at - from; /* ':' or '<' */
	if (i + 4 > n)
		goto out;
	/* The qualified name: back over its prefix, on past "GPS". */
	name = b[i] == '<' ? i + 1 : i;
	while (name > 0 && xml_name_char(b[name - 1]) && b[name - 1] != ':')
		name--;
	/* A prefix longer than any real one, or a name cut by the region's start (a chunk seam). */
	if (name == 0)
		goto out;
	for (name_end = i + 1; name_end < n && xml_name_char(b[name_end]); name_end++)
		;
	if (name_end == n)
		goto out;
	if (name > 0 && b[name - 1] == '<') {
		/* An element: the end of its start tag, then its end tag. */
		size_t qlen = name_end - name, k;
		unsigned char quote = 0;

		for (k = name_end; k < n; k++) {
			if (b[k] == 0xff || b[k] == 0)
				goto out;
			if (quote) {
				quote = b[k] == quote ? 0 : quote;
			} else if (b[k] == '"' || b[k] == '\'') {
				quote = b[k];
			} else if (b[k] == '>') {
				break;
			}
		}
		if (k == n)
			goto out;
		if (b[k - 1] == '/') {
			end = k + 1;
		} else {
			/*
			 * Its end tag, counting elements of the same name inside
			 * it.  A comment or CDATA section inside could hide an end
			 * tag from this count, not from an XML parser: refused.
			 */
			unsigned depth = 1;

			for (k++; !end && k + qlen + 3 <= n; k++) {
				bool close = b[k + 1] == '/';
				size_t e = k + 1 + close + qlen;

				if (b[k] == 0xff || b[k] == 0)
					goto out;
				if (b[k] != '<')
					continue;
				if (b[k + 1] == '!')
					goto out;
				if (memcmp(b + k + 1 + close, b + name, qlen) ||
				    xml_name_char(b[e]))
					continue;
				if (!close) {
					depth++;
					continue;
				}
				while (e < n && xml_space(b[e]))
					e++;
				if (e < n && b[e] == '>' && !--depth)
					end = e + 1;
			}
			if (!end)
				goto out;
		}
		ret = range_add(s->out, from + name - 1, end - (name - 1), ' ');
	} else if (name > 0 && xml_space(b[name - 1]) && b[i] == ':') {
		/* An attribute, if an '=' follows: its value runs to the matching quote. */
		size_t k = name_end;
		unsigned char quote;

		while (k < n && xml_space(b[k]))
			k++;
		if (k < n && b[k] != '=' && b[k] < 0x80 && b[k] != 0) {
			ret = 0; /* a word in text, not an attribute */
			goto out;
		}
		if (k == n || b[k] != '=')
			goto out;
		for (k++; k < n && xml_space(b[k]); k++)
			;
		if (k == n || (b[k] != '"' && b[k] != '\''))
			goto out;
		quote = b[k];
		for (k++; k < n && b[k] != quote; k++)
			if (b[k] == 0xff || b[k] == 0)
				goto out;
		if (k == n)
			goto out;
		ret = range_add(s->out, from + name, k + 1 - name, ' ');
	} else {
		ret = 0; /* an end tag (its element is blanked whole), or text */
	}
out:
	free(b);
	return ret;
}

/* The region of the GPS name at AT, or NULL: names outside XMP are image data. */
static const struct xmp_region *region_of(const struct sweep *s, uint64_t at)
{
	for (size_t i = 0; i < s->n_regions; i++)
		if (at >= s->regions[i].start && at + 4 <= s->regions[i].end)
			return &s->regions[i];
	return NULL;
}

static int ext_cmp(const void *a, const void *b)
{
	const struct xmp_region *x = a, *y = b;
	int c = (x->kind > y->kind) - (x->kind < y->kind);

	if (!c)
		c = memcmp(x->guid, y->guid, sizeof(x->guid));
	if (!c)
		c = (x->ext_off > y->ext_off) - (x->ext_off < y->ext_off);
	return c;
}

/*
 * Extended XMP is one packet cut into chunks, which readers put back
 * together by GUID and offset.  A GPS name cut by a chunk boundary is seen
 * by them and by no search of the file: refused.  Chunks are sorted here.
 */
static int xmp_ext_seams(struct sweep *s)
{
	if (s->n_regions)
		qsort(s->regions, s->n_regions, sizeof(s->regions[0]), ext_cmp);
	for (size_t i = 0; i + 1 < s->n_regions; i++) {
		const struct xmp_region *a = &s->regions[i], *b = &s->regions[i + 1];
		unsigned char seam[6];
		size_t na = a->end - a->start < 3 ? a->end - a->start : 3;
		size_t nb = b->end - b->start < 3 ? b->end - b->start : 3;
		ssize_t got;

		if (a->kind != XMP_EXT || b->kind != XMP_EXT || memcmp(a->guid, b->guid, 32))
			continue;
		got = view_read(s, seam, na, a->end - na);
		if (got < 0)
			return got;
		got = view_read(s, seam + na, nb, b->start);
		if (got < 0)
			return got;
		for (size_t k = 0; k + 4 <= na + nb; k++)
			if ((seam[k] == ':' || seam[k] == '<') && !memcmp(seam + k + 1, "GPS", 3))
				return -EBADMSG;
	}
	return 0;
}

/* ---- the sweep ---- */

/*
 * Whether a reader could take the file whose first N bytes are B for a JPEG
 * or find EXIF in it: SOI (libjpeg, exiftool), a raw EXIF block or a RAF
 * header (libexif), or a first byte libexif's marker loops skip or read.
 */
static bool head_may_hold_exif(const unsigned char *b, size_t n)
{
	if (n >= sizeof(exif_magic) && !memcmp(b, exif_magic, sizeof(exif_magic)))
		return true;
	if (n >= 8 && (!memcmp(b, "FUJIFILM", 8) || !memcmp(b + 2, exif_magic, sizeof(exif_magic))))
		return true;
	if (!n)
		return false;
	switch (b[0]) {
	case 0xff: /* fill, or SOI's first byte */
	case 0xd8: /* SOI */
	case 0xc0: /* SOF0 */
	case 0xc4: /* DHT */
	case 0xdb: /* DQT */
	case 0xfe: /* COM */
		return true;
	}
	return b[0] >= 0xe0 && b[0] <= 0xef; /* APPn */
}

/*
 * Whether the 'P' at B[I] is the middle of ":GPS" or "<GPS" in UTF-16 or
 * UTF-32, either byte order.  B holds N bytes.
 */
static bool gps_name_wide(const unsigned char *b, size_t n, size_t i)
{
	static const char want[4] = {0, 'G', 'P', 'S'}; /* [0]: ':' or '<' */

	for (size_t w = 2; w <= 4; w += 2) {
		for (int big = 0; big < 2; big++) {
			/* Unit k of the name (0 to 3) starts at first + k * w; 'P' is unit 2. */
			size_t p_unit = big ? i - (w - 1) : i, first = p_unit - 2 * w;
			bool ok = i >= w - 1 && p_unit >= 2 * w && first + 4 * w <= n;

			for (size_t k = 0; ok && k < 4; k++) {
				const unsigned char *u = b + first + k * w;
				unsigned char c = big ? u[w - 1] : u[0];

				for (size_t z = 0; ok && z + 1 < w; z++)
					ok = (big ? u[z] : u[z + 1]) == 0;
				ok = ok && (k ? c == want[k] : c == ':' || c == '<');
			}
			if (ok)
				return true;
		}
	}
	return false;
}

/*
 * One chunk of the sweep: B holds the file's bytes [BASE, BASE + N); the
 * signatures that start in [LO, HI) of B are this chunk's (the rest is the
 * overlap with its neighbours).
 */
static int sweep_chunk(struct sweep *s, const unsigned char *b, size_t n, uint64_t base, size_t lo,
		       size_t hi)
{
	const unsigned char *p;
	int ret;

	for (p = b + lo; p < b + hi; p++) {
		size_t i;

		p = memmem(p, n - (p - b), exif_magic, sizeof(exif_magic));
		if (!p || p >= b + hi)
			break;
		i = p - b;
		if (i + 10 > n || (memcmp(p + 6, "II\x2a\0", 4) && memcmp(p + 6, "MM\0\x2a", 4)))
			continue;
		if (++s->exif_blocks > EXIF_BLOCKS_MAX)
			return -EBADMSG;
		ret =
		    exif_block_ranges(s, base + i, exif_block_len(base + i, i >= 2 ? p - 2 : NULL));
		if (ret)
			return ret;
	}
	for (p = b + lo; p < b + hi; p++) {
		struct xmp_region r = {0};
		size_t i, seg_end;

		p = memmem(p, n - (p - b), xmp_prefix, sizeof(xmp_prefix) - 1);
		if (!p || p >= b + hi)
			break;
		i = p - b;
		if (i < 2)
			continue; /* no APP1 length before it: no reader takes it */
		seg_end = i - 2 + be16(p - 2);
		if (i + sizeof(xmp_std_sig) <= n && !memcmp(p, xmp_std_sig, sizeof(xmp_std_sig))) {
			r.kind = XMP_STD;
			r.start = base + i + sizeof(xmp_std_sig);
		} else if (i + XMP_EXT_HEADER <= n &&
			   !memcmp(p, xmp_ext_sig, sizeof(xmp_ext_sig))) {
			r.kind = XMP_EXT;
			r.start = base + i + XMP_EXT_HEADER;
			memcpy(r.guid, p + sizeof(xmp_ext_sig), sizeof(r.guid));
			r.ext_off = be32(p + sizeof(xmp_ext_sig) + 32 + 4);
		} else {
			continue;
		}
		r.end = base + seg_end;
		if (r.end > r.start) {
			ret = region_add(s, &r);
			if (ret)
				return ret;
		}
	}
	for (p = b + lo; p < b + hi; p++) {
		struct xmp_region r = {.kind = XMP_PACKET};
		size_t i;

		p = memmem(p, n - (p - b), xpacket_prefix, sizeof(xpacket_prefix) - 1);
		if (!p || p >= b + hi)
			break;
		i = p - b;
		if (i + 13 > n)
			continue;
		if (!memcmp(p + 10, "end", 3)) {
			ret = offset_add(&s->packet_ends, &s->n_packet_ends, &s->cap_packet_ends,
					 base + i, XMP_REGIONS_MAX);
		} else if (!memcmp(p + 10, "beg", 3)) {
			r.start = base + i; /* the end is known after the sweep */
			ret = region_add(s, &r);
		} else {
			ret = 0;
		}
		if (ret)
			return ret;
	}
	for (p = b + lo; p < b + hi; p++) {
		size_t i;

		p = memchr(p, 'P', b + hi - p);
		if (!p)
			break;
		i = p - b;
		if (i >= 2 && i + 1 < n && p[-1] == 'G' && p[1] == 'S' &&
		    (p[-2] == ':' || p[-2] == '<')) {
			ret = offset_add(&s->gps_names, &s->n_gps_names, &s->cap_gps_names,
					 base + i - 2, GPS_NAMES_MAX);
			if (ret)
				return ret;
		} else if (gps_name_wide(b, n, i)) {
			return -EBADMSG;
		}
	}
	return 0;
}

/* Reads the whole file through sweep_chunk. */
static int sweep_file(struct sweep *s)
{
	size_t size = SWEEP_BEHIND + SWEEP_CHUNK + SWEEP_AHEAD;
	unsigned char *b;
	struct stat st;
	uint64_t pos;
	int ret = 0;

	/* A small file needs no megabyte: one chunk of its size (it may grow: reads stop at EOF).
	 */
	if (fstat(s->fd, &st) == 0 && st.st_size >= 0 && (uint64_t)st.st_size < SWEEP_CHUNK)
		size = SWEEP_BEHIND + st.st_size + SWEEP_AHEAD;
	b = malloc(size);
	if (!b)
		return -ENOMEM;
	for (pos = 0;; pos += SWEEP_CHUNK) {
		uint64_t start = pos >= SWEEP_BEHIND ? pos - SWEEP_BEHIND : 0;
		size_t lead = pos - start, hi;
		ssize_t got = view_read(s, b, size - (SWEEP_BEHIND - lead), start);

		if (got < 0) {
			ret = got;
			break;
		}
		if ((size_t)got <= lead)
			break;
		hi = (size_t)got < lead + SWEEP_CHUNK ? (size_t)got : lead + SWEEP_CHUNK;
		ret = sweep_chunk(s, b, got, start, lead, hi);
		if (ret || (size_t)got < lead + SWEEP_CHUNK + SWEEP_AHEAD)
			break;
	}
	free(b);
	return ret;
}

/* A packet runs to the first "<?xpacket end" after it, or to the end of the file. */
static void packets_close(struct sweep *s)
{
	for (size_t i = 0; i < s->n_regions; i++) {
		struct xmp_region *r = &s->regions[i];

		if (r->kind != XMP_PACKET)
			continue;
		r->end = UINT64_MAX;
		for (size_t k = 0; k < s->n_packet_ends; k++)
			if (s->packet_ends[k] > r->start && s->packet_ends[k] < r->end)
				r->end = s->packet_ends[k];
	}
}

/*
 * One round: the whole file, as served after the rounds before (applied),
 * swept; what it finds goes to found.  0 or -errno.
 */
static int location_round(int fd, unsigned char *seg, const struct range_vec *applied,
			  struct range_vec *found)
{
	struct sweep s = {.fd = fd, .applied = applied, .seg = seg, .out = found};
	int ret = sweep_file(&s);

	if (!ret) {
		packets_close(&s);
		ret = xmp_ext_seams(&s);
	}
	for (size_t i = 0; !ret && i < s.n_gps_names; i++) {
		const struct xmp_region *r = region_of(&s, s.gps_names[i]);

		if (r)
			ret = xmp_property(&s, r, s.gps_names[i]);
	}
	free(s.regions);
	free(s.packet_ends);
	free(s.gps_names);
	return ret;
}

/* Whether some byte of found, read as applied leaves the file, is not its range's fill yet. */
static int ranges_add_something(int fd, const struct range_vec *applied,
				const struct range_vec *found)
{
	const struct sweep view = {.fd = fd, .applied = applied};
	unsigned char buf[4096];

	for (size_t i = 0; i < found->n; i++) {
		for (uint64_t done = 0; done < found->v[i].len;) {
			uint64_t left = found->v[i].len - done;
			ssize_t got = view_read(&view, buf, left < sizeof(buf) ? left : sizeof(buf),
						found->v[i].off + done);

			if (got <= 0)
				return got < 0 ? (int)got : 0;
			for (ssize_t k = 0; k < got; k++)
				if (buf[k] != found->v[i].fill)
					return 1;
			done += got;
		}
	}
	return 0;
}

/*
 * Blanking can make structure: an IFD whose entry count is zeroed reads
 * its next-IFD pointer from elsewhere, and the bytes before an EXIF block
 * are its length.  So the file is swept again as it would be served, until
 * a round finds nothing that is not blank already (what it finds is in the
 * ranges all the same: a GPS IFD emptied by a redaction is still one);
 * past LOCATION_ROUNDS_MAX rounds it is refused.  A file without location
 * takes one round, one with it two.
 */
#define LOCATION_ROUNDS_MAX 4

int media_location_ranges(int fd, struct byte_range **ranges, size_t *count)
{
	struct range_vec applied = {0};
	unsigned char head[8], *seg;
	int ret = -EBADMSG;
	ssize_t got;

	*ranges = NULL;
	*count = 0;
	got = pread_full(fd, head, sizeof(head), 0);
	if (got < 0)
		return got;
	if (!head_may_hold_exif(head, got))
		return 0;
	seg = malloc(EXIF_BLOCK_MAX);
	if (!seg)
		return -ENOMEM;
	for (int round = 0; round < LOCATION_ROUNDS_MAX; round++) {
		struct range_vec found = {0};

		ret = location_round(fd, seg, &applied, &found);
		if (!ret)
			ret = ranges_add_something(fd, &applied, &found);
		for (size_t i = 0; ret >= 0 && i < found.n; i++) {
			int err =
			    range_add(&applied, found.v[i].off, found.v[i].len, found.v[i].fill);

			if (err)
				ret = err;
		}
		free(found.v);
		range_merge(&applied);
		if (ret <= 0)
			break;
		ret = -EBADMSG; /* unless a round finds nothing new */
	}
	free(seg);
	if (ret) {
		free(applied.v);
		return ret;
	}
	if (applied.n) {
		*ranges = applied.v;
		*count = applied.n;
	} else {
		free(applied.v);
	}
	return 0;
}

int media_location_left(int fd, const struct byte_range *ranges, size_t count)
{
	const struct range_vec none = {0};
	const struct range_vec found = {.v = (struct byte_range *)ranges, .n = count};

	return ranges_add_something(fd, &none, &found);
}

void media_location_redact(void *buf, size_t len, uint64_t off, const struct byte_range *ranges,
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
			memset((char *)buf + (from - off), ranges[i].fill, to - from);
	}
}

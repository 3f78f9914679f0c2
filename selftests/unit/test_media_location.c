// SPDX-License-Identifier: MIT
/*
 * GPS redaction ranges of JPEG files (media/media_location.c).
 *
 * The expected ranges never come from the code under test: for the JPEGs
 * of the generator (BUILD/jpeggen, libjpeg + libexif), and for GPS that
 * exiftool itself wrote into them, they come from exiftool's own dump of
 * the file, through
 * selftests/media/exiftool_gps_ranges.py; for the hand-built EXIF blocks
 * below (loops, offsets past the end, many IFDs) from the layout the test
 * itself wrote.  Ranges are compared as sets of bytes, so how they are cut
 * or merged does not matter.
 *
 * A redacted file (zeroed through media_location_redact() in reads of odd
 * sizes) must keep its size, every byte outside the ranges, its pixels as
 * libjpeg decodes them, and every tag but the GPS ones as exiftool and
 * libexif read them.  Malformed input (every truncation of a file, random
 * mutations, garbage, loops, offsets past the end) must come back with 0
 * or -EBADMSG and sane ranges; `make asan` runs all of it under ASan+UBSan.
 *
 * Needs exiftool (Debian libimage-exiftool-perl, installed by make deps).
 */
#define _GNU_SOURCE
#include "../../media/media_location.h"
#include "../integration/fixture.h"
#include "../media/location_oracle.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <libexif/exif-data.h>

static char dir[256];
static char gen_bin[PATH_MAX];
static char ranges_script[PATH_MAX];

/* ---- files and commands ---- */

static const char *path_of(const char *name)
{
	static char path[2][512];
	static int i;

	i ^= 1;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void media_setup(void)
{
	snprintf(dir, sizeof(dir), "%s/media.XXXXXX", test_tmp());
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s: %s", dir, strerror(errno));
	/* jpeggen is built beside the test binary. */
	find_above("jpeggen", gen_bin, sizeof(gen_bin));
	find_above("selftests/media/exiftool_gps_ranges.py", ranges_script, sizeof(ranges_script));
}

static void media_teardown(void)
{
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(media_location, .init = media_setup, .fini = media_teardown, .timeout = 120);

static void need_exiftool(void)
{
	cr_assert_eq(sh("exiftool -ver >/dev/null 2>&1"), 0,
		     "exiftool is missing: apt-get install libimage-exiftool-perl (make deps)");
}

static void gen(const char *name, const char *args)
{
	cr_assert_eq(sh("'%s' %s '%s'", gen_bin, args, path_of(name)), 0, "jpeggen %s %s failed",
		     args, name);
}

static unsigned char *file_read(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	unsigned char *buf;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(fstat(fd, &st), 0);
	buf = malloc(st.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(pread(fd, buf, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static void file_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static int ranges_of(const char *path, struct byte_range **r, size_t *n)
{
	int fd = open(path, O_RDONLY);
	int ret;

	cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
	ret = media_location_ranges(fd, r, n);
	close(fd);
	return ret;
}

/* Sorted, ranges of one fill not touching, not empty, inside the file: what the API promises. */
static void assert_well_formed(const struct byte_range *r, size_t n, uint64_t size)
{
	cr_assert(n == 0 || r, "ranges NULL with a count of %zu", n);
	for (size_t i = 0; i < n; i++) {
		cr_assert(r[i].len > 0, "range %zu is empty", i);
		cr_assert(r[i].off + r[i].len <= size, "range %zu [%llu, +%llu) past the end (%llu)",
			  i, (unsigned long long)r[i].off, (unsigned long long)r[i].len,
			  (unsigned long long)size);
		if (i && r[i - 1].fill == r[i].fill)
			cr_assert(r[i - 1].off + r[i - 1].len < r[i].off,
				  "ranges %zu and %zu overlap, touch or are unsorted", i - 1, i);
		if (i)
			cr_assert(r[i - 1].off <= r[i].off, "ranges %zu and %zu unsorted", i - 1, i);
	}
}

/* Byte maps: map[i] says byte i of the file is in a range. */
static void map_ranges(bool *map, size_t size, const struct byte_range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		for (uint64_t b = r[i].off; b < r[i].off + r[i].len && b < size; b++)
			map[b] = true;
}

static void assert_maps_equal(const bool *got, const bool *want, size_t size, const char *what)
{
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(got[i], want[i], "%s: byte %zu (%#zx) is %s the ranges found but %s the "
			     "expected ones", what, i, i, got[i] ? "in" : "outside",
			     want[i] ? "in" : "outside");
}

/* exiftool's GPS ranges of PATH, as a byte map; returns how many ranges. */
static size_t exiftool_map(const char *path, bool *map, size_t size)
{
	char cmd[PATH_MAX * 2 + 16];
	unsigned long long off, len;
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "'%s' '%s'", ranges_script, path);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fscanf(f, "%llu %llu", &off, &len) == 2) {
		cr_assert(off + len <= size, "exiftool range past the end of %s", path);
		memset(map + off, 1, len);
		n++;
	}
	cr_assert_eq(pclose(f), 0, "%s failed on %s", ranges_script, path);
	return n;
}

/* Ranges of PATH must be exiftool's, byte for byte; returns the byte count. */
static size_t check_against_exiftool(const char *path)
{
	struct byte_range *r;
	size_t n, size, bytes = 0;
	unsigned char *data = file_read(path, &size);
	bool *got = calloc(size, 1), *want = calloc(size, 1);
	int ret;

	cr_assert(got && want);
	ret = ranges_of(path, &r, &n);
	cr_assert_eq(ret, 0, "%s: %s", path, strerror(-ret));
	assert_well_formed(r, n, size);
	map_ranges(got, size, r, n);
	exiftool_map(path, want, size);
	assert_maps_equal(got, want, size, path);
	for (size_t i = 0; i < size; i++)
		bytes += got[i];
	free(r);
	free(got);
	free(want);
	free(data);
	return bytes;
}

/* ---- generated JPEGs against exiftool ---- */

static const char *const variants[] = {
	"--order ii",
	"--order mm",
	"--order ii --thumbnail",
	"--order mm --thumbnail",
	"--order ii --app 3",
	"--order mm --app 5 --thumbnail",
	"--order ii --no-jfif",
	"--order mm --no-jfif --thumbnail",
	"--order ii --lat -33.856784 --lon -151.215297 --alt -12.25 --size 33x17",
	"--order mm --lat 0 --lon 0 --alt 0 --seed 7 --app 1",
};

Test(media_location, generated_gps_ranges_match_exiftool)
{
	need_exiftool();
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		size_t bytes;

		gen("v.jpg", variants[i]);
		bytes = check_against_exiftool(path_of("v.jpg"));
		/* 11 GPS entries: a 138-byte IFD and 5 rationals (lat, lon, alt, time). */
		cr_assert_geq(bytes, 138 + 24 + 24 + 8 + 24, "jpeggen %s: only %zu GPS bytes",
			      variants[i], bytes);
	}
}

/* GPS written by another writer, with its own layout: exiftool adding it to a file without. */
Test(media_location, exiftool_written_gps_ranges_match_exiftool)
{
	need_exiftool();
	for (int be = 0; be < 2; be++) {
		gen("w.jpg", be ? "--no-gps --order mm --thumbnail" : "--no-gps --order ii --app 2");
		cr_assert_eq(sh("exiftool -q -overwrite_original -GPSLatitude=35.6586 "
				"-GPSLatitudeRef=N -GPSLongitude=139.7454 -GPSLongitudeRef=E "
				"-GPSAltitude=333 -GPSTimeStamp=10:20:30 -GPSDateStamp=2024:01:02 "
				"-GPSAreaInformation='Minato, Tokyo' '%s'",
				path_of("w.jpg")),
			     0);
		cr_assert_geq(check_against_exiftool(path_of("w.jpg")), 2 + 12 * 8 + 4 + 3 * 24 + 8);
	}
}

Test(media_location, no_ranges_without_gps)
{
	static const char *const names[] = { "nogps.jpg", "noexif.jpg", "text", "empty", "png",
					     "soi_only", "tiff" };
	static const unsigned char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
	/* A bare TIFF with a GPS IFD: not a JPEG, so not ours to redact. */
	static const unsigned char tiff[] = "II*\0\x08\0\0\0\x01\0\x25\x88\x04\0\x01\0\0\0"
					    "\x1a\0\0\0\0\0\0\0\0\0\0\0\0\0";
	struct byte_range *r;
	size_t n;

	need_exiftool();
	gen("nogps.jpg", "--no-gps --thumbnail --order mm");
	gen("noexif.jpg", "--no-exif --app 2");
	file_write(path_of("text"), "hello, world\n", 13);
	file_write(path_of("empty"), "", 0);
	file_write(path_of("png"), png, sizeof(png) - 1);
	file_write(path_of("soi_only"), "\xff\xd8", 2);
	file_write(path_of("tiff"), tiff, sizeof(tiff) - 1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_assert_eq(ranges_of(path_of(names[i]), &r, &n), 0, "%s", names[i]);
		cr_assert_eq(n, 0, "%s: %zu ranges", names[i], n);
		cr_assert_null(r);
	}
	/* And exiftool agrees there is nothing in the JPEGs without GPS. */
	check_against_exiftool(path_of("nogps.jpg"));
	check_against_exiftool(path_of("noexif.jpg"));
}

/* ---- redaction ---- */

struct jerr {
	struct jpeg_error_mgr mgr;
	jmp_buf jb;
};

static void jerr_exit(j_common_ptr c)
{
	longjmp(((struct jerr *)c->err)->jb, 1);
}

/* RGB pixels of the JPEG at PATH, and its size; NULL if it does not decode. */
static unsigned char *decode(const char *path, unsigned *w, unsigned *h)
{
	struct jpeg_decompress_struct d;
	struct jerr err;
	size_t len;
	unsigned char *data = file_read(path, &len);
	unsigned char *volatile px = NULL;

	d.err = jpeg_std_error(&err.mgr);
	err.mgr.error_exit = jerr_exit;
	if (setjmp(err.jb)) {
		jpeg_destroy_decompress(&d);
		free(px);
		free(data);
		return NULL;
	}
	jpeg_create_decompress(&d);
	jpeg_mem_src(&d, data, len);
	jpeg_read_header(&d, TRUE);
	d.out_color_space = JCS_RGB;
	jpeg_start_decompress(&d);
	*w = d.output_width;
	*h = d.output_height;
	px = malloc((size_t)d.output_width * d.output_height * 3);
	cr_assert_not_null(px);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = px + (size_t)d.output_scanline * d.output_width * 3;

		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	free(data);
	return px;
}

/* exiftool's tags of PATH, one "[group] name : value" a line, file facts left out. */
static char *exiftool_tags(const char *path)
{
	char cmd[PATH_MAX + 128], *out = NULL;
	size_t len = 0;
	FILE *f, *mem = open_memstream(&out, &len);
	int c;

	snprintf(cmd, sizeof(cmd),
		 "exiftool -a -G1 -s -n -x System:all -x File:all -x ExifTool:all '%s'", path);
	f = popen(cmd, "r");
	cr_assert(f && mem);
	while ((c = fgetc(f)) != EOF)
		fputc(c, mem);
	cr_assert_eq(pclose(f), 0, "exiftool %s", path);
	fclose(mem);
	return out;
}

/* The lines of TAGS that do not mention GPS, and how many did. */
static char *drop_gps_lines(const char *tags, unsigned *dropped)
{
	char *out = malloc(strlen(tags) + 1), *o = out;
	const char *line = tags;

	cr_assert_not_null(out);
	*dropped = 0;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line + 1) : strlen(line);

		if (memmem(line, l, "GPS", 3)) {
			++*dropped;
		} else {
			memcpy(o, line, l);
			o += l;
		}
		line += l;
	}
	*o = '\0';
	return out;
}

static void assert_libexif_entry(ExifData *ed, ExifIfd ifd, ExifTag tag, const char *want)
{
	ExifEntry *e = exif_content_get_entry(ed->ifd[ifd], tag);
	char val[128];

	cr_assert_not_null(e, "libexif: no %s", exif_tag_get_name(tag));
	exif_entry_get_value(e, val, sizeof(val));
	cr_assert_str_eq(val, want, "libexif: %s", exif_tag_get_name(tag));
}

/*
 * Reads PATH in chunks of CHUNK bytes, redacting each as the daemon would a
 * READ reply, writes the result to OUT and checks it byte by byte.
 */
static void redact_copy(const char *path, const char *out, size_t chunk)
{
	struct byte_range *r;
	size_t n, size;
	unsigned char *orig = file_read(path, &size);
	unsigned char *red = malloc(size);
	bool *in = calloc(size, 1);
	int fd = open(path, O_RDONLY);

	cr_assert(red && in && fd >= 0);
	cr_assert_eq(media_location_ranges(fd, &r, &n), 0);
	cr_assert_gt(n, 0, "%s: no GPS ranges", path);
	for (size_t off = 0; off < size; off += chunk) {
		ssize_t got = pread(fd, red + off, chunk, off);

		cr_assert_gt(got, 0);
		media_location_redact(red + off, got, off, r, n);
	}
	close(fd);
	map_ranges(in, size, r, n);
	for (size_t i = 0; i < size; i++) {
		if (in[i])
			cr_assert_eq(red[i], 0, "byte %zu in a range not zeroed (chunk %zu)", i, chunk);
		else
			cr_assert_eq(red[i], orig[i], "byte %zu outside the ranges changed (chunk %zu)",
				     i, chunk);
	}
	file_write(out, red, size);
	free(r);
	free(in);
	free(red);
	free(orig);
}

static void check_redacted(const char *args)
{
	const char *orig = path_of("orig.jpg"), *red = path_of("red.jpg");
	static const size_t chunks[] = { 1, 7, 100, 4096, 1 << 20 };
	unsigned ow, oh, rw, rh, dropped, left;
	unsigned char *opx, *rpx;
	char *otags, *rtags, *kept, *rkept;
	struct stat ost, rst;
	struct byte_range *r;
	size_t n;
	ExifData *ed;

	gen("orig.jpg", args);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		redact_copy(orig, red, chunks[i]);
	cr_assert_eq(stat(orig, &ost), 0);
	cr_assert_eq(stat(red, &rst), 0);
	cr_assert_eq(ost.st_size, rst.st_size);

	/* The same pixels. */
	opx = decode(orig, &ow, &oh);
	rpx = decode(red, &rw, &rh);
	cr_assert(opx && rpx, "%s: the redacted file does not decode", args);
	cr_assert(ow == rw && oh == rh);
	cr_assert_eq(memcmp(opx, rpx, (size_t)ow * oh * 3), 0, "%s: pixels differ", args);

	/* exiftool: the same tags, less every GPS one. */
	otags = exiftool_tags(orig);
	rtags = exiftool_tags(red);
	kept = drop_gps_lines(otags, &dropped);
	rkept = drop_gps_lines(rtags, &left);
	cr_assert_geq(dropped, 11, "%s: the original has only %u GPS tags:\n%s", args, dropped,
		      otags);
	cr_assert_eq(left, 0, "%s: exiftool still sees GPS in the redacted file:\n%s", args, rtags);
	cr_assert_str_eq(rtags, kept, "%s: tags other than GPS changed", args);
	cr_assert(strstr(rtags, "Make                            : FuseBPF"), "%s", rtags);
	cr_assert(strstr(rtags, "DateTimeOriginal"), "%s", rtags);

	/* libexif: an empty GPS IFD, the rest intact. */
	ed = exif_data_new_from_file(orig);
	cr_assert_not_null(ed);
	cr_assert_eq(ed->ifd[EXIF_IFD_GPS]->count, 11);
	exif_data_unref(ed);
	ed = exif_data_new_from_file(red);
	cr_assert_not_null(ed);
	cr_assert_eq(ed->ifd[EXIF_IFD_GPS]->count, 0, "libexif sees %u GPS entries",
		     ed->ifd[EXIF_IFD_GPS]->count);
	assert_libexif_entry(ed, EXIF_IFD_0, EXIF_TAG_MAKE, "FuseBPF");
	assert_libexif_entry(ed, EXIF_IFD_0, EXIF_TAG_MODEL, "jpeggen");
	assert_libexif_entry(ed, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL, "2024:05:01 12:34:56");
	exif_data_unref(ed);

	/* Redacted, the file still has its GPS IFD, empty: 6 bytes, and no values. */
	cr_assert_eq(ranges_of(red, &r, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(r[0].len, 6);
	free(r);
	free(opx);
	free(rpx);
	free(otags);
	free(rtags);
	free(kept);
	free(rkept);
}

Test(media_location, redacted_little_endian_keeps_pixels_and_other_tags)
{
	need_exiftool();
	check_redacted("--order ii --app 2");
}

Test(media_location, redacted_big_endian_with_thumbnail_keeps_pixels_and_other_tags)
{
	need_exiftool();
	check_redacted("--order mm --thumbnail --no-jfif --size 97x31");
}

Test(media_location, redact_zeroes_exactly_the_overlap)
{
	const struct byte_range r[] = {
		{ 90, 20 }, { 10, 5 }, { 12, 6 }, { 200, 1 }, { UINT64_MAX - 3, 10 }, { 0, 0 },
	};
	unsigned char buf[64];

	/* Against a byte-by-byte reference, at offsets around every edge. */
	for (uint64_t off = 0; off < 230; off += 3) {
		for (size_t len = 0; len <= sizeof(buf); len += 13) {
			memset(buf, 0xa5, sizeof(buf));
			media_location_redact(buf, len, off, r, sizeof(r) / sizeof(r[0]));
			for (size_t i = 0; i < sizeof(buf); i++) {
				uint64_t b = off + i;
				bool in = i < len && ((b >= 90 && b < 110) || (b >= 10 && b < 18) ||
						      b == 200);

				cr_assert_eq(buf[i], in ? 0 : 0xa5, "off %llu len %zu byte %zu",
					     (unsigned long long)off, len, i);
			}
		}
	}
	/* Near the end of the offset space, with a range wrapping past it: nothing wraps. */
	memset(buf, 0xa5, sizeof(buf));
	media_location_redact(buf, 16, UINT64_MAX - 7, r, sizeof(r) / sizeof(r[0]));
	for (size_t i = 0; i < 16; i++)
		cr_assert_eq(buf[i], i >= 4 && i < 7 ? 0 : 0xa5, "byte %zu", i);
}

/* ---- hand-built EXIF: the layout, hence the expectation, is the test's ---- */

enum { T_BYTE = 1, T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_RATIONAL = 5, T_UNDEFINED = 7 };

struct ent {
	uint16_t tag, type;
	uint32_t count, value;
};

struct tiff {
	unsigned char b[8192];
	uint32_t len;
	bool be;
};

static void put16(struct tiff *t, uint32_t off, unsigned v)
{
	cr_assert_leq(off + 2, sizeof(t->b));
	t->b[off] = t->be ? v >> 8 : v;
	t->b[off + 1] = t->be ? v : v >> 8;
	if (off + 2 > t->len)
		t->len = off + 2;
}

static void put32(struct tiff *t, uint32_t off, uint32_t v)
{
	put16(t, off, t->be ? v >> 16 : v & 0xffff);
	put16(t, off + 2, t->be ? v & 0xffff : v >> 16);
}

static void tiff_init(struct tiff *t, bool be)
{
	memset(t, 0, sizeof(*t));
	t->be = be;
	memcpy(t->b, be ? "MM" : "II", 2);
	put16(t, 2, 42);
	put32(t, 4, 8);
}

/* An IFD at OFF; returns the offset just after it. */
static uint32_t put_ifd(struct tiff *t, uint32_t off, const struct ent *e, unsigned n,
			uint32_t next)
{
	put16(t, off, n);
	for (unsigned i = 0; i < n; i++) {
		put16(t, off + 2 + 12 * i, e[i].tag);
		put16(t, off + 2 + 12 * i + 2, e[i].type);
		put32(t, off + 2 + 12 * i + 4, e[i].count);
		put32(t, off + 2 + 12 * i + 8, e[i].value);
	}
	put32(t, off + 2 + 12 * n, next);
	return off + 2 + 12 * n + 4;
}

static void put_bytes(struct tiff *t, uint32_t off, const void *v, uint32_t len)
{
	cr_assert_leq(off + len, sizeof(t->b));
	memcpy(t->b + off, v, len);
	if (off + len > t->len)
		t->len = off + len;
}

static void fill(struct tiff *t, uint32_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		put_bytes(t, off + i, "\x5a", 1);
}

struct jpeg {
	unsigned char b[300000];
	size_t len;
};

static void jpeg_put(struct jpeg *j, const void *v, size_t len)
{
	if (!len)
		return;
	cr_assert_leq(j->len + len, sizeof(j->b));
	memcpy(j->b + j->len, v, len);
	j->len += len;
}

static void jpeg_segment(struct jpeg *j, unsigned marker, const void *v, size_t len)
{
	unsigned char h[4] = { 0xff, marker, (len + 2) >> 8, len + 2 };

	cr_assert_leq(len + 2, 0xffff);
	jpeg_put(j, h, 4);
	jpeg_put(j, v, len);
}

/* Adds an Exif APP1 holding T; returns the file offset of T's header. */
static uint64_t jpeg_exif(struct jpeg *j, const struct tiff *t)
{
	unsigned char h[10] = { 0xff, 0xe1, (t->len + 8) >> 8, t->len + 8, 'E', 'x', 'i', 'f' };

	cr_assert_leq(t->len + 8, 0xffff);
	jpeg_put(j, h, 10);
	jpeg_put(j, t->b, t->len);
	return j->len - t->len;
}

/* SOI, then T in an APP1, then EOI (no image: the scan stops at EOI). */
static uint64_t jpeg_simple(struct jpeg *j, const struct tiff *t)
{
	uint64_t base;

	j->len = 0;
	jpeg_put(j, "\xff\xd8", 2);
	base = jpeg_exif(j, t);
	jpeg_put(j, "\xff\xd9", 2);
	return base;
}

/* The ranges of J must be exactly WANT (file offsets); returns ret. */
static int check_hand(const struct jpeg *j, const struct byte_range *want, size_t n_want)
{
	const char *path = path_of("hand.jpg");
	struct byte_range *r;
	bool *got = calloc(j->len, 1), *exp = calloc(j->len, 1);
	size_t n;
	int ret;

	cr_assert(got && exp);
	file_write(path, j->b, j->len);
	ret = ranges_of(path, &r, &n);
	if (!ret) {
		assert_well_formed(r, n, j->len);
		map_ranges(got, j->len, r, n);
		map_ranges(exp, j->len, want, n_want);
		assert_maps_equal(got, exp, j->len, "hand-built");
		free(r);
	}
	free(got);
	free(exp);
	return ret;
}

/*
 * The standard layout: IFD0 at 8 (Make, GPSInfo), GPS IFD with inline and
 * out-of-line values, values apart from each other and from the IFD.
 */
static uint64_t build_standard(struct tiff *t, struct jpeg *j, bool be)
{
	const struct ent ifd0[] = {
		{ 0x010f, T_ASCII, 8, 200 },
		{ 0x8825, T_LONG, 1, 100 },
	};
	const struct ent gps[] = {
		{ 0x0000, T_BYTE, 4, 0x00000302 },
		{ 0x0001, T_ASCII, 2, 'N' },
		{ 0x0002, T_RATIONAL, 3, 240 },
		{ 0x0006, T_RATIONAL, 1, 280 },
		{ 0x001b, T_UNDEFINED, 11, 300 },
	};

	tiff_init(t, be);
	put_ifd(t, 8, ifd0, 2, 0);
	put_bytes(t, 200, "FuseBPF", 8);
	put_ifd(t, 100, gps, 5, 0);
	fill(t, 240, 24);
	fill(t, 264, 16); /* not GPS: between two GPS values */
	fill(t, 280, 8);
	put_bytes(t, 300, "ASCII\0\0\0GPS", 11);
	fill(t, 311, 9);
	return jpeg_simple(j, t);
}

Test(media_location, hand_built_both_byte_orders)
{
	static struct tiff t;
	static struct jpeg j;

	need_exiftool();
	for (int be = 0; be < 2; be++) {
		uint64_t b = build_standard(&t, &j, be);
		const struct byte_range want[] = {
			{ b + 100, 2 + 5 * 12 + 4 }, { b + 240, 24 }, { b + 280, 8 }, { b + 300, 11 },
		};

		cr_assert_eq(check_hand(&j, want, 4), 0);
		/* exiftool reads the hand-built file the same way. */
		check_against_exiftool(path_of("hand.jpg"));
	}
}

/* GPSInfo where the standard does not put it, in the Exif IFD or in IFD1: readers follow it. */
Test(media_location, gps_pointer_outside_ifd0)
{
	static struct tiff t;
	static struct jpeg j;

	need_exiftool();
	for (int where = 0; where < 2; where++) {
		const struct ent ifd0[] = { { 0x010f, T_ASCII, 8, 200 }, { 0x8769, T_LONG, 1, 40 } };
		const struct ent sub[] = { { 0x9003, T_ASCII, 20, 210 }, { 0x8825, T_LONG, 1, 100 } };
		const struct ent gps[] = {
			{ 0x0000, T_BYTE, 4, 0x00000302 },
			{ 0x0004, T_RATIONAL, 3, 240 },
		};
		uint64_t b;

		tiff_init(&t, where);
		/* where 0: IFD0 -> Exif IFD -> GPS; where 1: IFD0 -> IFD1 -> GPS. */
		put_ifd(&t, 8, ifd0, where ? 1 : 2, where ? 40 : 0);
		put_ifd(&t, 40, sub, 2, 0);
		put_ifd(&t, 100, gps, 2, 0);
		put_bytes(&t, 200, "FuseBPF", 8);
		put_bytes(&t, 210, "2024:05:01 12:34:56", 20);
		fill(&t, 230, 10);
		fill(&t, 240, 24);
		b = jpeg_simple(&j, &t);
		{
			const struct byte_range want[] = { { b + 100, 30 }, { b + 240, 24 } };

			cr_assert_eq(check_hand(&j, want, 2), 0, "where %d", where);
		}
		check_against_exiftool(path_of("hand.jpg"));
	}
}

Test(media_location, segments_and_fill_bytes_before_app1)
{
	static struct tiff t;
	static struct jpeg j, std;
	static const char xmp[] = "http://ns.adobe.com/xap/1.0/\0<x:xmpmeta/>";
	uint64_t b0 = build_standard(&t, &std, false), b;

	/* APP0, APP2, COM, an XMP APP1, APP13, fill bytes, then the Exif APP1. */
	j.len = 0;
	jpeg_put(&j, "\xff\xd8", 2);
	jpeg_segment(&j, 0xe0, "JFIF\0\1\1\0\0\1\0\1\0\0", 14);
	jpeg_segment(&j, 0xe2, "ICC_PROFILE\0 not really", 23);
	jpeg_segment(&j, 0xfe, "a comment", 9);
	jpeg_segment(&j, 0xe1, xmp, sizeof(xmp) - 1);
	jpeg_segment(&j, 0xed, "Photoshop 3.0\0", 14);
	jpeg_put(&j, "\xff\xff\xff", 3);
	b = jpeg_exif(&j, &t);
	jpeg_put(&j, "\xff\xd9", 2);
	{
		const struct byte_range want[] = {
			{ b + 100, 66 }, { b + 240, 24 }, { b + 280, 8 }, { b + 300, 11 },
		};

		cr_assert_eq(check_hand(&j, want, 4), 0);
	}

	/* Two Exif APP1 segments with GPS: readers differ on which wins, so both go. */
	j.len = 0;
	jpeg_put(&j, "\xff\xd8", 2);
	b0 = jpeg_exif(&j, &t);
	build_standard(&t, &std, true);
	b = jpeg_exif(&j, &t);
	jpeg_put(&j, "\xff\xd9", 2);
	{
		const struct byte_range want[] = {
			{ b0 + 100, 66 }, { b0 + 240, 24 }, { b0 + 280, 8 }, { b0 + 300, 11 },
			{ b + 100, 66 },  { b + 240, 24 },  { b + 280, 8 },  { b + 300, 11 },
		};

		cr_assert_eq(check_hand(&j, want, 8), 0);
	}

	/*
	 * An Exif APP1 after SOS: exiftool reads on past SOS, libjpeg reads
	 * the markers between the scans of a progressive JPEG.  Redacted too.
	 */
	j.len = 0;
	jpeg_put(&j, "\xff\xd8", 2);
	jpeg_segment(&j, 0xda, "\1\1\0\0\77\0", 6);
	b = jpeg_exif(&j, &t);
	jpeg_put(&j, "\xff\xd9", 2);
	{
		const struct byte_range want[] = {
			{ b + 100, 66 }, { b + 240, 24 }, { b + 280, 8 }, { b + 300, 11 },
		};

		cr_assert_eq(check_hand(&j, want, 4), 0);
	}
}

Test(media_location, offsets_past_the_end)
{
	static struct tiff t;
	static struct jpeg j;
	uint64_t b;

	/*
	 * GPSInfo past the segment, far or just so: nothing there to redact,
	 * but for the two bytes after the segment, which libexif's file loader
	 * reads too (it counts the APP1 length from after itself): the EOI.
	 */
	for (int i = 0; i < 3; i++) {
		const uint32_t ptr[] = { 0xfffffff0, 0, 0 };
		const struct ent ifd0[] = { { 0x8825, T_LONG, 1, ptr[i] } };
		struct byte_range eoi;

		tiff_init(&t, i & 1);
		put_ifd(&t, 8, ifd0, 1, 0);
		fill(&t, 26, 10);
		if (i == 1)
			put32(&t, 8 + 2 + 8, t.len); /* one past the last byte */
		if (i == 2)
			put32(&t, 4, t.len + 100); /* IFD0 itself past the end */
		b = jpeg_simple(&j, &t);
		eoi = (struct byte_range){ b + t.len, 2 };
		cr_assert_eq(check_hand(&j, &eoi, i == 1), 0, "case %d", i);
	}

	/* GPS values past the end, partly or wholly, and a count that overflows 32 bits. */
	{
		const struct ent ifd0[] = { { 0x8825, T_LONG, 1, 26 } };
		const struct ent gps[] = {
			{ 0x0002, T_RATIONAL, 3, 72 }, /* 24 bytes from 72; the block ends at 80 */
			{ 0x0004, T_RATIONAL, 3, 0xffffff00 },
			{ 0x0006, T_RATIONAL, 0x40000000, 70 }, /* 8 GiB from 70 */
		};

		tiff_init(&t, true);
		put_ifd(&t, 8, ifd0, 1, 0);
		put_ifd(&t, 26, gps, 3, 0);
		fill(&t, 68, 12);
		b = jpeg_simple(&j, &t);
		cr_assert_eq(t.len, 80);
		{
			/* To the block's end, and the two bytes libexif's loader reads past it. */
			const struct byte_range want[] = { { b + 26, 42 }, { b + 70, 12 } };

			cr_assert_eq(check_hand(&j, want, 2), 0);
		}
	}

	/* A GPS IFD claiming 1000 entries with room for 2: all of it to the end goes (and the EOI). */
	{
		const struct ent ifd0[] = { { 0x8825, T_LONG, 1, 60 } };
		const struct ent gps[] = {
			{ 0x0002, T_RATIONAL, 3, 30 },
			{ 0x0001, T_ASCII, 2, 'S' },
		};

		tiff_init(&t, false);
		put_ifd(&t, 8, ifd0, 1, 0);
		fill(&t, 26, 34);
		put_ifd(&t, 60, gps, 2, 0);
		put16(&t, 60, 1000);
		fill(&t, t.len, 5);
		b = jpeg_simple(&j, &t);
		{
			const struct byte_range want[] = { { b + 30, 24 }, { b + 60, t.len - 60 + 2 } };

			cr_assert_eq(check_hand(&j, want, 2), 0);
		}
	}

	/* An APP1 whose length runs past the end of the file: read as far as it goes. */
	b = build_standard(&t, &j, false);
	j.len -= 2 + 15; /* no EOI, and the last 15 bytes of the block gone */
	j.b[4] = 0xff;
	{
		const struct byte_range want[] = {
			{ b + 100, 66 }, { b + 240, 24 }, { b + 280, 8 }, { b + 300, 5 },
		};

		cr_assert_eq(check_hand(&j, want, 4), 0);
	}
}

Test(media_location, ifd_loops)
{
	static struct tiff t;
	static struct jpeg j;
	uint64_t b;

	/*
	 * IFD0's next is IFD0; its Exif IFD points at itself and at the GPS
	 * IFD; the GPS IFD points at itself, at IFD0 as an Exif IFD, and is
	 * IFD1's next too.
	 */
	for (int be = 0; be < 2; be++) {
		const struct ent ifd0[] = { { 0x8769, T_LONG, 1, 40 }, { 0x8825, T_LONG, 1, 100 } };
		const struct ent exif[] = { { 0x8769, T_LONG, 1, 40 }, { 0x8825, T_LONG, 1, 100 } };
		const struct ent gps[] = {
			{ 0x0002, T_RATIONAL, 3, 200 },
			{ 0x8825, T_LONG, 1, 100 },
			{ 0x8769, T_LONG, 1, 8 },
		};

		tiff_init(&t, be);
		put_ifd(&t, 8, ifd0, 2, 8);
		put_ifd(&t, 40, exif, 2, 100);
		put_ifd(&t, 100, gps, 3, 0);
		fill(&t, 200, 30);
		b = jpeg_simple(&j, &t);
		{
			const struct byte_range want[] = { { b + 100, 42 }, { b + 200, 24 } };

			cr_assert_eq(check_hand(&j, want, 2), 0, "be %d", be);
		}
	}

	/*
	 * GPSInfo pointing at IFD0: to every reader that follows it, IFD0's
	 * entries are the GPS entries, so IFD0 and its values are zeroed.
	 */
	{
		const struct ent ifd0[] = { { 0x010f, T_ASCII, 8, 60 }, { 0x8825, T_LONG, 1, 8 } };

		tiff_init(&t, false);
		put_ifd(&t, 8, ifd0, 2, 0);
		put_bytes(&t, 60, "FuseBPF", 8);
		b = jpeg_simple(&j, &t);
		{
			const struct byte_range want[] = { { b + 8, 30 }, { b + 60, 8 } };

			cr_assert_eq(check_hand(&j, want, 2), 0);
		}
	}
}

/* Past a chain of n IFDs, a GPS IFD. */
static uint64_t build_chain(struct tiff *t, struct jpeg *j, unsigned n)
{
	const uint32_t gps_off = 8 + 6 * (n - 1) + 18;
	const struct ent ptr[] = { { 0x8825, T_LONG, 1, gps_off } };
	const struct ent gps[] = { { 0x0001, T_ASCII, 2, 'N' } };
	uint32_t off = 8;

	tiff_init(t, false);
	for (unsigned i = 0; i + 1 < n; i++)
		off = put_ifd(t, off, NULL, 0, off + 6);
	put_ifd(t, off, ptr, 1, 0);
	cr_assert_eq(off + 18, gps_off);
	put_ifd(t, gps_off, gps, 1, 0);
	return jpeg_simple(j, t);
}

Test(media_location, limits_refuse_rather_than_half_read)
{
	static struct tiff t;
	static struct jpeg j, scratch;
	uint64_t b;

	/* IFD0 and 19 more in its chain: walked to the end. */
	b = build_chain(&t, &j, 20);
	{
		const struct byte_range want[] = { { b + 8 + 6 * 19 + 18, 18 } };

		cr_assert_eq(check_hand(&j, want, 1), 0);
	}
	/* 40 of them: more IFDs than any image has, refused. */
	build_chain(&t, &j, 40);
	cr_assert_eq(check_hand(&j, NULL, 0), -EBADMSG);

	/* More EXIF blocks than any file has (256): refused. */
	j.len = 0;
	jpeg_put(&j, "\xff\xd8", 2);
	tiff_init(&t, false);
	put_ifd(&t, 8, NULL, 0, 0);
	for (int i = 0; i < 257; i++)
		jpeg_exif(&j, &t);
	jpeg_put(&j, "\xff\xd9", 2);
	cr_assert_eq(check_hand(&j, NULL, 0), -EBADMSG);

	/* 70000 markers and fill bytes before the Exif APP1: no marker walk to run out. */
	j.len = 0;
	jpeg_put(&j, "\xff\xd8", 2);
	for (int i = 0; i < 35000; i++)
		jpeg_segment(&j, 0xfe, NULL, 0);
	for (int i = 0; i < 35000; i++)
		jpeg_put(&j, "\xff", 1);
	build_standard(&t, &scratch, false);
	b = jpeg_exif(&j, &t);
	jpeg_put(&j, "\xff\xd9", 2);
	{
		const struct byte_range want[] = {
			{ b + 100, 66 }, { b + 240, 24 }, { b + 280, 8 }, { b + 300, 11 },
		};

		cr_assert_eq(check_hand(&j, want, 4), 0);
	}
}

/* ---- malformed input ---- */

Test(media_location, every_truncation)
{
	const char *path = path_of("trunc.jpg");
	struct byte_range *full, *r;
	size_t n_full, n, size;
	bool *want, *got;
	struct stat st;
	int fd;

	gen("trunc.jpg", "--order mm --thumbnail --app 2 --size 16x16");
	cr_assert_eq(stat(path, &st), 0);
	size = st.st_size;
	cr_assert_eq(ranges_of(path, &full, &n_full), 0);
	cr_assert_gt(n_full, 0);
	want = malloc(size);
	got = malloc(size);
	cr_assert(want && got);
	fd = open(path, O_RDWR);
	cr_assert(fd >= 0);
	/*
	 * Every length from the whole file down to nothing.  The GPS bytes that
	 * remain are exactly the full file's ranges cut at the length: libexif
	 * lays the values out after their IFD, so a cut never hides a value
	 * whose bytes are still there.
	 */
	for (size_t len = size; len-- > 0;) {
		int ret;

		cr_assert_eq(ftruncate(fd, len), 0);
		ret = media_location_ranges(fd, &r, &n);
		cr_assert_eq(ret, 0, "length %zu: %s", len, strerror(-ret));
		assert_well_formed(r, n, len);
		memset(want, 0, size);
		memset(got, 0, size);
		map_ranges(want, len, full, n_full);
		map_ranges(got, len, r, n);
		assert_maps_equal(got, want, len, "truncated");
		free(r);
	}
	close(fd);
	free(full);
	free(want);
	free(got);
}

/* xorshift64*, seeded: every run fuzzes the same inputs. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static int fuzz_one(int fd, const void *buf, size_t len, unsigned *bad)
{
	struct byte_range *r;
	size_t n;
	int ret;

	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, buf, len, 0), (ssize_t)len);
	ret = media_location_ranges(fd, &r, &n);
	cr_assert(ret == 0 || ret == -EBADMSG, "ret %d (%s)", ret, strerror(-ret));
	if (ret)
		++*bad;
	else
		assert_well_formed(r, n, len);
	free(r);
	return ret;
}

Test(media_location, random_mutations_and_garbage)
{
	static const char *const seeds[] = { "--order ii --thumbnail", "--order mm --app 1" };
	static unsigned char buf[70000];
	uint64_t s = 0x9e3779b97f4a7c15ull;
	unsigned bad = 0, runs = 0;
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	cr_assert(fd >= 0);
	/* Real files with 1 to 8 bytes changed in their first 1.5 KiB (the EXIF). */
	for (size_t f = 0; f < 2; f++) {
		size_t size;
		unsigned char *orig;

		gen("seed.jpg", seeds[f]);
		orig = file_read(path_of("seed.jpg"), &size);
		for (int i = 0; i < 4000; i++, runs++) {
			unsigned flips = 1 + rnd(&s) % 8;

			memcpy(buf, orig, size);
			while (flips--)
				buf[rnd(&s) % 1536 % size] = rnd(&s);
			fuzz_one(fd, buf, size, &bad);
		}
		free(orig);
	}
	/* SOI, an Exif APP1 and a TIFF header, then random bytes. */
	for (int i = 0; i < 4000; i++, runs++) {
		size_t len = 20 + rnd(&s) % 600;
		const bool be = i & 1;

		memcpy(buf, "\xff\xd8\xff\xe1\0\0Exif\0\0", 12);
		buf[4] = (len - 4) >> 8;
		buf[5] = len - 4;
		memcpy(buf + 12, be ? "MM\0\x2a\0\0\0\x08" : "II\x2a\0\x08\0\0\0", 8);
		for (size_t k = 20; k < len; k++) {
			/* Mostly small numbers, so counts and offsets land inside. */
			uint64_t x = rnd(&s);

			buf[k] = x % 4 ? (uint8_t)(x >> 8) % 40 : (uint8_t)(x >> 8);
		}
		fuzz_one(fd, buf, len, &bad);
	}
	/* Pure garbage, with and without a JPEG SOI in front. */
	for (int i = 0; i < 500; i++, runs++) {
		size_t len = rnd(&s) % sizeof(buf);

		for (size_t k = 0; k < len; k++)
			buf[k] = rnd(&s);
		if (i & 1 && len >= 2)
			memcpy(buf, "\xff\xd8", 2);
		fuzz_one(fd, buf, len, &bad);
	}
	close(fd);
	/*
	 * -EBADMSG is for files past the limits or where libexif and the walk
	 * disagree; random damage rarely does either, so many of them would
	 * mean the walk misreads what libexif reads.
	 */
	cr_log_info("media_location fuzz: %u of %u inputs refused", bad, runs);
	cr_assert_leq(bad, runs / 100, "%u of %u inputs refused with EBADMSG", bad, runs);
}

/* ---- what tolerant readers find ---- */

/* Redacts PATH into OUT as the daemon serves it; returns the ranges' count. */
static size_t redact_file(const char *path, const char *out)
{
	struct byte_range *r;
	size_t n, size;
	unsigned char *buf = file_read(path, &size);
	int ret = ranges_of(path, &r, &n);

	cr_assert_eq(ret, 0, "%s: %s", path, strerror(-ret));
	assert_well_formed(r, n, size);
	media_location_redact(buf, size, 0, r, n);
	file_write(out, buf, size);
	free(buf);
	free(r);
	return n;
}

/* What exiftool prints of PATH's GPS tags, in every group ("" if none). */
static char *exiftool_gps(const char *path)
{
	char cmd[PATH_MAX + 64], *out = calloc(1, 65536);
	size_t len = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "exiftool -a -G -s -gps:all -xmp:all '%s' 2>&1", path);
	f = popen(cmd, "r");
	cr_assert(f && out);
	while (len < 65535 && fgets(out + len, 65536 - len, f)) {
		/* Only GPS lines: the title and warnings are not location. */
		if (strstr(out + len, "GPS"))
			len += strlen(out + len);
		else
			out[len] = '\0';
	}
	pclose(f);
	return out;
}

/* Served bytes of PATH: libexif, exiftool and the scan itself find no location in them. */
static void assert_served_without_location(const char *file)
{
	char path[PATH_MAX], out[PATH_MAX];
	struct byte_range *r;
	unsigned char *buf;
	size_t size, n;
	char *gps;

	/* path_of's buffers are reused: keep copies. */
	snprintf(path, sizeof(path), "%s", file);
	snprintf(out, sizeof(out), "%s", path_of("served.jpg"));
	redact_file(path, out);
	buf = file_read(out, &size);
	cr_assert_eq(oracle_libexif_gps(buf, size), 0, "%s: libexif finds GPS once redacted", path);
	gps = exiftool_gps(out);
	cr_assert_str_empty(gps, "%s: exiftool finds location once redacted:\n%s", path, gps);
	free(gps);
	cr_assert_eq(ranges_of(out, &r, &n), 0);
	for (size_t i = 0; i < n; i++)
		for (uint64_t b = r[i].off; b < r[i].off + r[i].len; b++)
			cr_assert_eq(buf[b], r[i].fill, "%s: location left at byte %llu", path,
				     (unsigned long long)b);
	free(r);
	free(buf);
}

/* The ranges of PATH, as a byte map of SIZE bytes. */
static bool *map_of(const char *path, size_t size)
{
	bool *map = calloc(size, 1);
	struct byte_range *r;
	size_t n;

	cr_assert(map);
	cr_assert_eq(ranges_of(path, &r, &n), 0);
	map_ranges(map, size, r, n);
	free(r);
	return map;
}

/*
 * The bypass this module once had: one 0xd8 after SOI stopped its marker
 * walk, while libexif and exiftool skip it and read the GPS.  Junk before a
 * marker, which libjpeg and exiftool skip, is the same attack.
 */
Test(media_location, junk_after_soi_is_read_through)
{
	static const char *const junk[] = { "\xd8", "\xd8\xd8", "\x00", "junk!", "\xff\xff\xd8" };
	size_t size;
	unsigned char *orig;
	bool *want;

	need_exiftool();
	gen("orig.jpg", "--order ii --app 2");
	orig = file_read(path_of("orig.jpg"), &size);
	want = map_of(path_of("orig.jpg"), size);
	for (size_t k = 0; k < sizeof(junk) / sizeof(junk[0]); k++) {
		size_t jl = strlen(junk[k]) ? strlen(junk[k]) : 1;
		unsigned char *mod = malloc(size + jl);
		bool *got, *shifted = calloc(size + jl, 1);
		char *gps;

		cr_assert(mod && shifted);
		/* Inserted after SOI, and (k == 0) the byte after SOI overwritten. */
		memcpy(mod, orig, 2);
		memcpy(mod + 2, junk[k], jl);
		memcpy(mod + 2 + jl, orig + 2, size - 2);
		file_write(path_of("mod.jpg"), mod, size + jl);
		if (!k) {
			memcpy(mod, orig, size);
			mod[2] = 0xd8;
			file_write(path_of("mod.jpg"), mod, size);
		}
		/* The readers still see the GPS: the attack is real. */
		gps = exiftool_gps(path_of("mod.jpg"));
		cr_assert(strstr(gps, "GPSLatitude") || oracle_libexif_gps(mod, size + jl),
			  "junk %zu: no reader finds the GPS; the test proves nothing", k);
		free(gps);
		/* The same ranges, moved by the junk, and nothing left once served. */
		memcpy(shifted + (k ? 2 + jl : 0), want + (k ? 2 : 0), k ? size - 2 : size);
		got = map_of(path_of("mod.jpg"), k ? size + jl : size);
		assert_maps_equal(got, shifted, k ? size + jl : size, junk[k]);
		assert_served_without_location(path_of("mod.jpg"));
		free(got);
		free(shifted);
		free(mod);
	}
	free(want);
	free(orig);
}

/* GPS in XMP: each property blanked whole with spaces, the rest of the packet kept. */
Test(media_location, xmp_gps_properties_blanked)
{
	const char *path = path_of("xmp.jpg");
	struct byte_range *r;
	unsigned char *buf;
	size_t size, n, xmp = 0;
	char *tags;

	need_exiftool();
	gen("xmp.jpg", "--order mm --xmp");
	buf = file_read(path, &size);
	cr_assert_eq(ranges_of(path, &r, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const char *text = (const char *)buf + r[i].off;

		if (r[i].fill != ' ')
			continue;
		xmp++;
		/* Exactly an attribute or an element, from its name to its end. */
		if (text[0] == '<') {
			cr_assert(!strncmp(text, "<exif:GPSAltitude>", 18));
			cr_assert(!memcmp(text + r[i].len - 19, "</exif:GPSAltitude>", 19));
		} else {
			cr_assert(!strncmp(text, "exif:GPSLatitude=\"", 18) ||
					  !strncmp(text, "exif:GPSLongitude=\"", 19),
				  "%.*s", (int)r[i].len, text);
			cr_assert_eq(text[r[i].len - 1], '"');
		}
	}
	cr_assert_eq(xmp, 3, "%zu XMP ranges", xmp);
	free(r);
	free(buf);
	assert_served_without_location(path);
	/* The packet still parses: its title is there. */
	tags = exiftool_tags(path_of("served.jpg"));
	cr_assert(strstr(tags, "jpeggen"), "XMP title lost:\n%s", tags);
	free(tags);
}

/* Where the XMP text cannot be blanked for sure, the file is refused. */
Test(media_location, xmp_refused_when_unsure)
{
	static const char *const packets[] = {
		/* No end tag. */
		"<x:xmpmeta><exif:GPSLatitude>48,51.5N</x:xmpmeta>",
		/* A comment that hides an end tag from a count, not from a parser. */
		"<x:xmpmeta><exif:GPSLatitude><!-- </exif:GPSLatitude> -->48N</exif:GPSLatitude>",
		/* An attribute whose value runs out of the packet. */
		"<rdf:Description exif:GPSLongitude=\"2,17.6",
	};
	static struct jpeg j;
	char payload[512];
	unsigned char wide[64];
	size_t wl = 0;

	for (size_t k = 0; k < sizeof(packets) / sizeof(packets[0]); k++) {
		size_t len = strlen(packets[k]);

		memcpy(payload, "http://ns.adobe.com/xap/1.0/", 29);
		memcpy(payload + 29, packets[k], len);
		j.len = 0;
		jpeg_put(&j, "\xff\xd8", 2);
		jpeg_segment(&j, 0xe1, payload, 29 + len);
		jpeg_put(&j, "\xff\xd9", 2);
		cr_assert_eq(check_hand(&j, NULL, 0), -EBADMSG, "packet %zu", k);
	}
	/* Location in UTF-16: no reader here decodes it. */
	for (const char *c = " exif:GPSLatitude=\"1N\""; *c; c++) {
		wide[wl++] = *c;
		wide[wl++] = 0;
	}
	j.len = 0;
	jpeg_put(&j, "\xff\xd8", 2);
	jpeg_segment(&j, 0xfe, wide, wl);
	jpeg_put(&j, "\xff\xd9", 2);
	cr_assert_eq(check_hand(&j, NULL, 0), -EBADMSG);
}

/* ":GPS" outside any XMP packet is image data or a comment's words: left alone. */
Test(media_location, gps_words_outside_xmp_kept)
{
	static struct jpeg j;
	static const char com[] = "made with <GPS> off: exif:GPSLatitude=\"0\"";

	j.len = 0;
	jpeg_put(&j, "\xff\xd8", 2);
	jpeg_segment(&j, 0xfe, com, sizeof(com) - 1);
	jpeg_put(&j, "\xff\xd9", 2);
	cr_assert_eq(check_hand(&j, NULL, 0), 0);
}

/*
 * Which files are read: what a JPEG or EXIF reader accepts at the start.
 * An MP4 holding an EXIF block is not; a file starting with APP1 without
 * its 0xff is (libexif reads it).
 */
Test(media_location, which_files_are_read)
{
	static struct tiff t;
	static struct jpeg j, scratch;
	uint64_t b;

	build_standard(&t, &scratch, false);
	j.len = 0;
	jpeg_put(&j, "\0\0\0\x18" "ftypisom", 12);
	jpeg_exif(&j, &t);
	cr_assert_eq(check_hand(&j, NULL, 0), 0);

	j.len = 0;
	b = jpeg_exif(&j, &t);
	memmove(j.b, j.b + 1, j.len - 1); /* drop the 0xff: the file starts with 0xe1 */
	j.len--;
	b--;
	{
		const struct byte_range want[] = {
			{ b + 100, 66 }, { b + 240, 24 }, { b + 280, 8 }, { b + 300, 11 },
		};

		cr_assert(oracle_libexif_gps(j.b, j.len), "libexif does not read it: no test");
		cr_assert_eq(check_hand(&j, want, 4), 0);
	}
}

/* The fuzzer's seeds and the inputs it once failed on, through its oracle. */
Test(media_location, fuzz_corpus_served_without_location)
{
	char corpus[PATH_MAX];
	struct dirent *e;
	unsigned files = 0;
	DIR *d;

	need_exiftool();
	find_above("selftests/fuzz/corpus-location", corpus, sizeof(corpus));
	d = opendir(corpus);
	cr_assert_not_null(d, "%s: %s", corpus, strerror(errno));
	while ((e = readdir(d))) {
		char path[PATH_MAX * 2];
		struct byte_range *r;
		size_t n;
		int ret;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus, e->d_name);
		ret = ranges_of(path, &r, &n);
		cr_assert(ret == 0 || ret == -EBADMSG, "%s: %s", path, strerror(-ret));
		if (!ret) {
			free(r);
			assert_served_without_location(path);
		}
		files++;
	}
	closedir(d);
	cr_assert_geq(files, 10, "only %u files in %s", files, corpus);
}

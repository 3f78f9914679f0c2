// SPDX-License-Identifier: MIT
/*
 * jpeggen: writes one real, decodable JPEG (libjpeg-turbo) with an EXIF APP1
 * built by libexif, for the tests and the demo of the media overlay.
 *
 *   jpeggen [options] OUT.jpg
 *     --size WxH      image size in pixels (default 64x48)
 *     --seed N        varies the pixels (default 1)
 *     --order ii|mm   EXIF byte order: II little-endian, MM big-endian (ii)
 *     --no-gps        no GPS IFD (the other tags stay)
 *     --no-exif       no APP1 at all
 *     --lat DEG --lon DEG --alt M
 *                     position written to the GPS IFD (default the Eiffel
 *                     tower: 48.858370, 2.294481, 35.5); negative values set
 *                     the S / W / below-sea-level references
 *     --thumbnail     IFD1 and a JPEG thumbnail in the APP1
 *     --app N         N extra APPn segments (APP2, APP13, APP15...) between
 *                     the JFIF APP0 and the APP1 (0..12, default 0)
 *     --no-jfif       no JFIF APP0: the APP1 follows SOI, as cameras write it
 *     --xmp           an XMP APP1 after the EXIF one, with the position as
 *                     exif:GPSLatitude and exif:GPSLongitude attributes and an
 *                     exif:GPSAltitude element, and a dc:title to keep
 *
 * The GPS IFD holds GPSVersionID, the latitude and longitude and their
 * references, altitude and its reference, GPSTimeStamp, GPSDateStamp,
 * GPSMapDatum and GPSProcessingMethod: inline values (BYTE[4], short ASCII)
 * and out-of-line ones (RATIONAL[3], RATIONAL, longer ASCII, UNDEFINED).
 * IFD0 and the Exif IFD carry Make, Model, DateTime, DateTimeOriginal and a
 * few more, so a reader can check they survive redaction.  The output is
 * deterministic for given options.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <libexif/exif-data.h>
#include <libexif/exif-utils.h>

struct gen_opts {
	unsigned width, height, seed;
	ExifByteOrder order;
	bool gps, exif, thumbnail, jfif, xmp;
	unsigned extra_app;
	double lat, lon, alt;
	const char *out;
};

/* Adds a zero-filled entry of N components to IFD and returns its data. */
static unsigned char *entry_put(ExifData *ed, ExifMem *mem, ExifIfd ifd, ExifTag tag,
				ExifFormat fmt, unsigned n)
{
	ExifEntry *e = exif_entry_new_mem(mem);
	unsigned size = exif_format_get_size(fmt) * n;
	unsigned char *d;

	if (!e)
		return NULL;
	e->data = exif_mem_alloc(mem, size);
	if (!e->data) {
		exif_entry_unref(e);
		return NULL;
	}
	memset(e->data, 0, size);
	e->tag = tag;
	e->format = fmt;
	e->components = n;
	e->size = size;
	exif_content_add_entry(ed->ifd[ifd], e);
	/* libexif refuses a tag twice in one IFD; the entry then dies here. */
	d = e->parent == ed->ifd[ifd] ? e->data : NULL;
	exif_entry_unref(e);
	return d;
}

static int put_ascii(ExifData *ed, ExifMem *mem, ExifIfd ifd, ExifTag tag, const char *s)
{
	unsigned char *d = entry_put(ed, mem, ifd, tag, EXIF_FORMAT_ASCII, strlen(s) + 1);

	if (!d)
		return -ENOMEM;
	memcpy(d, s, strlen(s) + 1);
	return 0;
}

static int put_short(ExifData *ed, ExifMem *mem, ExifIfd ifd, ExifTag tag, ExifShort v)
{
	unsigned char *d = entry_put(ed, mem, ifd, tag, EXIF_FORMAT_SHORT, 1);

	if (!d)
		return -ENOMEM;
	exif_set_short(d, exif_data_get_byte_order(ed), v);
	return 0;
}

static int put_rationals(ExifData *ed, ExifMem *mem, ExifIfd ifd, ExifTag tag,
			 const ExifRational *v, unsigned n)
{
	unsigned char *d = entry_put(ed, mem, ifd, tag, EXIF_FORMAT_RATIONAL, n);

	if (!d)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		exif_set_rational(d + 8 * i, exif_data_get_byte_order(ed), v[i]);
	return 0;
}

static int put_bytes(ExifData *ed, ExifMem *mem, ExifIfd ifd, ExifTag tag, ExifFormat fmt,
		     const void *v, unsigned n)
{
	unsigned char *d = entry_put(ed, mem, ifd, tag, fmt, n);

	if (!d)
		return -ENOMEM;
	memcpy(d, v, n);
	return 0;
}

/* Degrees as degrees, minutes and seconds with 1/10000 s. */
static void gen_dms(double deg, ExifRational dms[3])
{
	double a = fabs(deg);
	unsigned d = (unsigned)a;
	unsigned m = (unsigned)((a - d) * 60);
	double s = ((a - d) * 60 - m) * 60;

	dms[0] = (ExifRational){ d, 1 };
	dms[1] = (ExifRational){ m, 1 };
	dms[2] = (ExifRational){ (ExifLong)llround(s * 10000), 10000 };
}

static int gen_gps(ExifData *ed, ExifMem *mem, const struct gen_opts *o)
{
	static const unsigned char version[4] = { 2, 3, 0, 0 };
	static const char method[] = "ASCII\0\0\0GPS";
	const ExifRational stamp[3] = { { 12, 1 }, { 34, 1 }, { 5600, 100 } };
	ExifRational lat[3], lon[3];
	const ExifRational alt = { (ExifLong)llround(fabs(o->alt) * 100), 100 };
	const unsigned char alt_ref = o->alt < 0;
	int ret = 0;

	gen_dms(o->lat, lat);
	gen_dms(o->lon, lon);
	ret |= put_bytes(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_VERSION_ID, EXIF_FORMAT_BYTE,
			 version, 4);
	ret |= put_ascii(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_LATITUDE_REF, o->lat < 0 ? "S" : "N");
	ret |= put_rationals(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_LATITUDE, lat, 3);
	ret |= put_ascii(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_LONGITUDE_REF, o->lon < 0 ? "W" : "E");
	ret |= put_rationals(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_LONGITUDE, lon, 3);
	ret |= put_bytes(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_ALTITUDE_REF, EXIF_FORMAT_BYTE,
			 &alt_ref, 1);
	ret |= put_rationals(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_ALTITUDE, &alt, 1);
	ret |= put_rationals(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_TIME_STAMP, stamp, 3);
	ret |= put_ascii(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_MAP_DATUM, "WGS-84");
	ret |= put_bytes(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_PROCESSING_METHOD,
			 EXIF_FORMAT_UNDEFINED, method, sizeof(method) - 1);
	ret |= put_ascii(ed, mem, EXIF_IFD_GPS, EXIF_TAG_GPS_DATE_STAMP, "2024:05:01");
	return ret ? -ENOMEM : 0;
}

/* The tags that must survive redaction, in IFD0 and the Exif IFD. */
static int gen_tags(ExifData *ed, ExifMem *mem, const struct gen_opts *o)
{
	const ExifRational res = { 72, 1 }, exposure = { 1, 125 }, fnumber = { 28, 10 };
	int ret = 0;

	ret |= put_ascii(ed, mem, EXIF_IFD_0, EXIF_TAG_IMAGE_DESCRIPTION, "fusebpf test image");
	ret |= put_ascii(ed, mem, EXIF_IFD_0, EXIF_TAG_MAKE, "FuseBPF");
	ret |= put_ascii(ed, mem, EXIF_IFD_0, EXIF_TAG_MODEL, "jpeggen");
	ret |= put_short(ed, mem, EXIF_IFD_0, EXIF_TAG_ORIENTATION, 1);
	ret |= put_rationals(ed, mem, EXIF_IFD_0, EXIF_TAG_X_RESOLUTION, &res, 1);
	ret |= put_rationals(ed, mem, EXIF_IFD_0, EXIF_TAG_Y_RESOLUTION, &res, 1);
	ret |= put_short(ed, mem, EXIF_IFD_0, EXIF_TAG_RESOLUTION_UNIT, 2);
	ret |= put_ascii(ed, mem, EXIF_IFD_0, EXIF_TAG_SOFTWARE, "jpeggen 1");
	ret |= put_ascii(ed, mem, EXIF_IFD_0, EXIF_TAG_DATE_TIME, "2024:05:01 12:34:56");
	ret |= put_short(ed, mem, EXIF_IFD_0, EXIF_TAG_YCBCR_POSITIONING, 1);
	ret |= put_bytes(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_EXIF_VERSION, EXIF_FORMAT_UNDEFINED,
			 "0232", 4);
	ret |= put_bytes(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_COMPONENTS_CONFIGURATION,
			 EXIF_FORMAT_UNDEFINED, "\1\2\3\0", 4);
	ret |= put_bytes(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_FLASH_PIX_VERSION, EXIF_FORMAT_UNDEFINED,
			 "0100", 4);
	ret |= put_rationals(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_EXPOSURE_TIME, &exposure, 1);
	ret |= put_rationals(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_FNUMBER, &fnumber, 1);
	ret |= put_short(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_ISO_SPEED_RATINGS, 100);
	ret |= put_ascii(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_ORIGINAL,
			 "2024:05:01 12:34:56");
	ret |= put_ascii(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_DATE_TIME_DIGITIZED,
			 "2024:05:01 12:34:56");
	ret |= put_short(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_COLOR_SPACE, 1);
	ret |= put_short(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_X_DIMENSION, o->width);
	ret |= put_short(ed, mem, EXIF_IFD_EXIF, EXIF_TAG_PIXEL_Y_DIMENSION, o->height);
	if (o->thumbnail) {
		ret |= put_short(ed, mem, EXIF_IFD_1, EXIF_TAG_COMPRESSION, 6);
		ret |= put_rationals(ed, mem, EXIF_IFD_1, EXIF_TAG_X_RESOLUTION, &res, 1);
		ret |= put_rationals(ed, mem, EXIF_IFD_1, EXIF_TAG_Y_RESOLUTION, &res, 1);
		ret |= put_short(ed, mem, EXIF_IFD_1, EXIF_TAG_RESOLUTION_UNIT, 2);
	}
	return ret ? -ENOMEM : 0;
}

/* A deterministic RGB pattern: gradients, a checkerboard, and the seed. */
static unsigned char *gen_pixels(unsigned w, unsigned h, unsigned seed)
{
	unsigned char *px = malloc((size_t)w * h * 3);

	if (!px)
		return NULL;
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++) {
			unsigned char *p = px + ((size_t)y * w + x) * 3;

			p[0] = (x * 255 / (w > 1 ? w - 1 : 1) + seed * 37) & 0xff;
			p[1] = (y * 255 / (h > 1 ? h - 1 : 1) + seed * 91) & 0xff;
			p[2] = (((x / 8 + y / 8) & 1) ? 200 : 40) ^ (seed & 0x1f);
		}
	return px;
}

/*
 * Compresses PX (w x h RGB) to memory.  APP1 (may be NULL) and the extra
 * APPn segments go right after the header libjpeg writes (SOI, and JFIF
 * APP0 when asked), before the tables and the frame.
 */
static void gen_jpeg(const unsigned char *px, unsigned w, unsigned h, bool jfif, unsigned extra,
		     const unsigned char *app1, unsigned app1_len, const char *xmp,
		     unsigned xmp_len, unsigned char **out, unsigned long *out_len)
{
	static const int extra_markers[] = { 2, 13, 15, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	unsigned char payload[64];

	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	*out = NULL;
	*out_len = 0;
	jpeg_mem_dest(&c, out, out_len);
	c.image_width = w;
	c.image_height = h;
	c.input_components = 3;
	c.in_color_space = JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 90, TRUE);
	c.write_JFIF_header = jfif;
	jpeg_start_compress(&c, TRUE);
	for (unsigned i = 0; i < extra && i < sizeof(extra_markers) / sizeof(extra_markers[0]);
	     i++) {
		int n = snprintf((char *)payload, sizeof(payload),
				 "jpeggen APP%d filler segment %u", extra_markers[i], i);

		jpeg_write_marker(&c, JPEG_APP0 + extra_markers[i], payload, n + 1);
	}
	if (app1)
		jpeg_write_marker(&c, JPEG_APP0 + 1, app1, app1_len);
	if (xmp)
		jpeg_write_marker(&c, JPEG_APP0 + 1, (const JOCTET *)xmp, xmp_len);
	while (c.next_scanline < c.image_height) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * 3);

		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
}

/* "Exif\0\0" + TIFF, as the APP1 payload; *len 0 when it cannot be built. */
static int gen_exif(const struct gen_opts *o, unsigned char **app1, unsigned *len)
{
	ExifMem *mem = exif_mem_new_default();
	ExifData *ed = mem ? exif_data_new_mem(mem) : NULL;
	int ret = -ENOMEM;

	*app1 = NULL;
	*len = 0;
	if (!ed)
		goto out;
	/* Exactly the entries below: no fix-ups, no mandatory tags added. */
	exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
	exif_data_set_byte_order(ed, o->order);
	exif_data_set_data_type(ed, EXIF_DATA_TYPE_COMPRESSED);
	ret = gen_tags(ed, mem, o);
	if (!ret && o->gps)
		ret = gen_gps(ed, mem, o);
	if (!ret && o->thumbnail) {
		unsigned char *thumb_px = gen_pixels(16, 12, o->seed + 1);
		unsigned char *thumb = NULL;
		unsigned long thumb_len = 0;

		ret = -ENOMEM;
		if (thumb_px) {
			gen_jpeg(thumb_px, 16, 12, false, 0, NULL, 0, NULL, 0, &thumb, &thumb_len);
			free(thumb_px);
			/* ExifData frees its thumbnail with its own allocator. */
			ed->data = exif_mem_alloc(mem, thumb_len);
			if (ed->data) {
				memcpy(ed->data, thumb, thumb_len);
				ed->size = thumb_len;
				ret = 0;
			}
		}
		free(thumb);
	}
	if (ret)
		goto out;
	exif_data_save_data(ed, app1, len);
	ret = *len && *len <= 65533 ? 0 : -EOVERFLOW;
out:
	if (ed)
		exif_data_unref(ed);
	if (mem)
		exif_mem_unref(mem);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: jpeggen [--size WxH] [--seed N] [--order ii|mm] [--no-gps] [--no-exif]\n"
		   "               [--lat DEG] [--lon DEG] [--alt M] [--thumbnail] [--app N]\n"
		   "               [--no-jfif] [--xmp] OUT.jpg\n");
}

/* "DD,MM.mmmmH", XMP's GPSCoordinate. */
static void xmp_coord(char *buf, size_t size, double deg, char pos, char neg)
{
	double a = fabs(deg);

	snprintf(buf, size, "%d,%.4f%c", (int)a, (a - (int)a) * 60, deg < 0 ? neg : pos);
}

/* The XMP APP1 payload into buf: its signature and its NUL, then a packet; returns its length. */
static unsigned gen_xmp(const struct gen_opts *o, char *buf, size_t size)
{
	char lat[32], lon[32];
	int n;

	xmp_coord(lat, sizeof(lat), o->lat, 'N', 'S');
	xmp_coord(lon, sizeof(lon), o->lon, 'E', 'W');
	memcpy(buf, "http://ns.adobe.com/xap/1.0/", 29);
	n = snprintf(buf + 29, size - 29,
		     "<?xpacket begin=\"\xef\xbb\xbf\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
		     "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
		     " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
		     "  <rdf:Description rdf:about=\"\"\n"
		     "    xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
		     "    xmlns:exif=\"http://ns.adobe.com/exif/1.0/\"\n"
		     "    exif:GPSLatitude=\"%s\"\n"
		     "    exif:GPSLongitude=\"%s\">\n"
		     "   <exif:GPSAltitude>%d/100</exif:GPSAltitude>\n"
		     "   <dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">jpeggen</rdf:li></rdf:Alt>"
		     "</dc:title>\n"
		     "  </rdf:Description>\n"
		     " </rdf:RDF>\n"
		     "</x:xmpmeta>\n"
		     "<?xpacket end=\"w\"?>",
		     lat, lon, (int)lround(fabs(o->alt) * 100));
	return 29 + (unsigned)n;
}

static int parse_double(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || !(*v >= lo && *v <= hi) ? -EINVAL : 0;
}

static int bad_arg(const char *opt, const char *arg)
{
	fprintf(stderr, "jpeggen: bad --%s '%s'\n", opt, arg);
	return -EINVAL;
}

static int parse_args(int argc, char **argv, struct gen_opts *o)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 's' },  { "seed", required_argument, NULL, 'S' },
		{ "order", required_argument, NULL, 'o' }, { "no-gps", no_argument, NULL, 'G' },
		{ "no-exif", no_argument, NULL, 'E' },	   { "lat", required_argument, NULL, 'a' },
		{ "lon", required_argument, NULL, 'b' },   { "alt", required_argument, NULL, 'c' },
		{ "thumbnail", no_argument, NULL, 't' },   { "app", required_argument, NULL, 'p' },
		{ "no-jfif", no_argument, NULL, 'J' },	   { "help", no_argument, NULL, 'h' },
		{ "xmp", no_argument, NULL, 'X' },
		{ 0 }
	};
	int c;

	*o = (struct gen_opts){ .width = 64, .height = 48, .seed = 1,
				.order = EXIF_BYTE_ORDER_INTEL, .gps = true, .exif = true,
				.jfif = true, .lat = 48.858370, .lon = 2.294481, .alt = 35.5 };
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char tail;
		int n = 0;

		switch (c) {
		case 's':
			if (sscanf(optarg, "%ux%u%c", &o->width, &o->height, &tail) != 2 ||
			    !o->width || !o->height || o->width > 4096 || o->height > 4096) {
				fprintf(stderr, "jpeggen: bad --size '%s' (WxH, 1..4096)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'S':
			if (sscanf(optarg, "%u%c", &o->seed, &tail) != 1) {
				fprintf(stderr, "jpeggen: bad --seed '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case 'o':
			if (!strcmp(optarg, "ii")) {
				o->order = EXIF_BYTE_ORDER_INTEL;
			} else if (!strcmp(optarg, "mm")) {
				o->order = EXIF_BYTE_ORDER_MOTOROLA;
			} else {
				fprintf(stderr, "jpeggen: bad --order '%s' (ii or mm)\n", optarg);
				return -EINVAL;
			}
			break;
		case 'G':
			o->gps = false;
			break;
		case 'E':
			o->exif = false;
			break;
		case 'a':
			if (parse_double(optarg, -90, 90, &o->lat))
				return bad_arg("lat", optarg);
			break;
		case 'b':
			if (parse_double(optarg, -180, 180, &o->lon))
				return bad_arg("lon", optarg);
			break;
		case 'c':
			if (parse_double(optarg, -1e5, 1e5, &o->alt))
				return bad_arg("alt", optarg);
			break;
		case 't':
			o->thumbnail = true;
			break;
		case 'p':
			if (sscanf(optarg, "%d%c", &n, &tail) != 1 || n < 0 || n > 12) {
				fprintf(stderr, "jpeggen: bad --app '%s' (0..12)\n", optarg);
				return -EINVAL;
			}
			o->extra_app = n;
			break;
		case 'J':
			o->jfif = false;
			break;
		case 'X':
			o->xmp = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -EINVAL;
	}
	o->out = argv[optind];
	return 0;
}

int main(int argc, char **argv)
{
	struct gen_opts o;
	unsigned char *px = NULL, *app1 = NULL, *jpeg = NULL;
	char xmp[2048];
	unsigned app1_len = 0;
	unsigned long jpeg_len = 0;
	FILE *f;
	int ret;

	if (parse_args(argc, argv, &o))
		return 2;
	ret = o.exif ? gen_exif(&o, &app1, &app1_len) : 0;
	if (ret) {
		fprintf(stderr, "jpeggen: building the EXIF block: %s\n", strerror(-ret));
		return 1;
	}
	px = gen_pixels(o.width, o.height, o.seed);
	if (!px) {
		fprintf(stderr, "jpeggen: %s\n", strerror(ENOMEM));
		return 1;
	}
	/* libjpeg's errors (out of memory only, here) print and exit. */
	gen_jpeg(px, o.width, o.height, o.jfif, o.extra_app, app1, app1_len, o.xmp ? xmp : NULL,
		 o.xmp ? gen_xmp(&o, xmp, sizeof(xmp)) : 0, &jpeg, &jpeg_len);
	f = fopen(o.out, "wb");
	ret = f && fwrite(jpeg, 1, jpeg_len, f) == jpeg_len ? 0 : -1;
	if (f && fclose(f))
		ret = -1;
	if (ret) {
		fprintf(stderr, "jpeggen: writing %s: %s\n", o.out, strerror(errno));
		return 1;
	}
	free(px);
	free(app1);
	free(jpeg);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * The oracle of location_oracle.h.  Both of libexif's entry points, with
 * their options as applications leave them, less the one that adds
 * mandatory tags that were not in the file (FOLLOW_SPECIFICATION would add
 * a GPSVersionID to an empty GPS IFD: no location, but not the file's).
 */
#include "location_oracle.h"

#include <libexif/exif-data.h>
#include <libexif/exif-loader.h>

static unsigned gps_entries(ExifData *ed)
{
	return ed && ed->ifd[EXIF_IFD_GPS] ? ed->ifd[EXIF_IFD_GPS]->count : 0;
}

unsigned oracle_libexif_gps(const unsigned char *buf, size_t len)
{
	ExifLoader *loader = exif_loader_new();
	ExifData *ed;
	unsigned found = 0;

	/* exif_loader_write_file's way: 1 KiB at a time, until the loader has enough. */
	for (size_t off = 0; loader && off < len; off += 1024) {
		size_t n = len - off < 1024 ? len - off : 1024;

		if (!exif_loader_write(loader, (unsigned char *)buf + off, (unsigned)n))
			break;
	}
	ed = loader ? exif_loader_get_data(loader) : NULL;
	if (gps_entries(ed))
		found |= ORACLE_LOADER;
	exif_data_unref(ed);
	exif_loader_unref(loader);

	ed = exif_data_new();
	if (ed) {
		exif_data_unset_option(ed, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
		exif_data_load_data(ed, buf, (unsigned)len);
		if (gps_entries(ed))
			found |= ORACLE_DATA;
		exif_data_unref(ed);
	}
	return found;
}

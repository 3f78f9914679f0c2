/* SPDX-License-Identifier: MIT */
/*
 * The oracle of the location redaction tests and fuzzer: whether libexif,
 * called as applications call it, still finds GPS entries in a file's bytes.
 */
#ifndef LOCATION_ORACLE_H
#define LOCATION_ORACLE_H

#include <stddef.h>

#define ORACLE_LOADER                                                                              \
	(1u << 0) /* exif_loader fed the file in 1 KiB writes (exif_data_new_from_file) */
#define ORACLE_DATA (1u << 1) /* exif_data_load_data on the whole file (exif_data_new_from_data)   \
			       */

/* Which of the two ways find GPS entries in BUF (LEN bytes): a mask of ORACLE_*. */
unsigned oracle_libexif_gps(const unsigned char *buf, size_t len);

#endif /* LOCATION_ORACLE_H */

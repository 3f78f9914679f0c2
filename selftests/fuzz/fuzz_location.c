// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the location redaction of the media overlay
 * (media/media_location.c).  An input is a whole file.
 *
 * The oracle is what an app without the location grant could read: the
 * file as the media module serves it, its location ranges blanked.  In
 * those bytes
 *
 * - libexif, either way an application calls it (a file loader fed 1 KiB
 *   at a time, exif_data_new_from_data on the whole), finds no GPS entry;
 * - the project's own scan finds nothing left to blank: its ranges in the
 *   redacted bytes, if any, already read as their fill (a GPSInfo pointer
 *   to an IFD of zero entries is a range of zeros), or it refuses them.
 *
 * A file the scan refuses (-EBADMSG) is not served to such an app at all,
 * so there is nothing to check; any other error is a bug.  The ranges must
 * also be what the API promises: sorted, inside the file, not empty.
 */
#define _GNU_SOURCE
#include "../../media/media_location.h"
#include "../media/location_oracle.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int file_fd = -1;

static void die(const char *what, size_t size)
{
	fprintf(stderr, "fuzz_location: %s (input of %zu bytes)\n", what, size);
	abort();
}

/* Puts BUF in the scratch file; its fd. */
static int file_of(const unsigned char *buf, size_t len)
{
	if (file_fd < 0)
		file_fd = memfd_create("fuzz_location", MFD_CLOEXEC);
	if (file_fd < 0 || ftruncate(file_fd, 0) ||
	    (len && pwrite(file_fd, buf, len, 0) != (ssize_t)len))
		die("the scratch file", len);
	return file_fd;
}

static void check_ranges(const struct byte_range *r, size_t n, size_t size)
{
	for (size_t i = 0; i < n; i++) {
		if (!r[i].len || r[i].off + r[i].len > size)
			die("a range empty or past the end", size);
		if (i && r[i].off < r[i - 1].off)
			die("ranges unsorted", size);
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct byte_range *r, *again;
	size_t n, n_again;
	unsigned char *served;
	unsigned found;
	int ret;

	ret = media_location_ranges(file_of(data, size), &r, &n);
	if (ret == -EBADMSG)
		return 0;
	if (ret)
		die(strerror(-ret), size);
	check_ranges(r, n, size);
	served = malloc(size ? size : 1);
	if (!served)
		die("out of memory", size);
	memcpy(served, data, size);
	media_location_redact(served, size, 0, r, n);
	free(r);

	found = oracle_libexif_gps(served, size);
	if (found)
		die(found & ORACLE_LOADER ? "libexif's loader finds GPS in the served bytes"
					  : "exif_data_load_data finds GPS in the served bytes",
		    size);
	ret = media_location_ranges(file_of(served, size), &again, &n_again);
	if (ret && ret != -EBADMSG)
		die(strerror(-ret), size);
	for (size_t i = 0; !ret && i < n_again; i++)
		for (uint64_t b = again[i].off; b < again[i].off + again[i].len; b++)
			if (served[b] != again[i].fill)
				die("the scan finds location left in the served bytes", size);
	if (!ret)
		free(again);
	free(served);
	return 0;
}

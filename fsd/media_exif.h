/* SPDX-License-Identifier: MIT */
/*
 * Location redaction of JPEG files for the media storage overlay: where the
 * GPS information of a JPEG's EXIF lies in the file, and zeroing those bytes
 * in data read from the file.  The module reads files; it keeps no state.
 */
#ifndef FSD_MEDIA_EXIF_H
#define FSD_MEDIA_EXIF_H

#include <stddef.h>
#include <stdint.h>

/* Bytes [off, off + len) of a file. */
struct byte_range {
	uint64_t off;
	uint64_t len;
};

/*
 * media_exif_gps_ranges - the byte ranges of file FD that hold GPS data.
 *
 * Reads FD with pread only (its file offset is not used or moved): the JPEG
 * markers from SOI up to SOS, and every APP1 segment whose payload starts
 * with "Exif\0\0".  For each GPS IFD of each such segment the ranges cover
 * the IFD itself (entry count, every 12-byte entry, next-IFD offset) and
 * every value stored outside an entry, clipped to the segment.  The GPSInfo
 * pointer entry of the IFD that refers to the GPS IFD is not included: once
 * the ranges read as zeros it points at an IFD of zero entries, so the file
 * keeps its size, its other tags and its image.
 *
 * On success returns 0 with *ranges a malloc()ed array of *count ranges
 * sorted by offset, neither overlapping nor touching (free() it), or with
 * *ranges NULL and *count 0 when there is nothing to redact: not a JPEG, no
 * EXIF, EXIF without GPS.  A truncated file is parsed as far as it goes;
 * bytes that are not a JPEG marker where one is expected end the scan, as
 * they end it in the readers.
 *
 * Returns -errno on failure: the error of pread, -ENOMEM, or -EBADMSG when
 * the file cannot be vouched for: libexif sees GPS data the structure walk
 * cannot place, or the file has more JPEG segments or GPS ranges than any
 * real image (see the limits in media_exif.c).  A caller that must not leak
 * location data fails the open on any error.
 *
 * The ranges describe the file as it was when read: a caller that serves a
 * file which may be written meanwhile must compute them again.
 */
int media_exif_gps_ranges(int fd, struct byte_range **ranges, size_t *count);

/*
 * media_exif_redact - zeroes the parts of BUF, LEN bytes read from file
 * offset OFF, that fall inside any of the COUNT ranges.  Any ranges will do
 * (unsorted, overlapping, past the end of the buffer).
 */
void media_exif_redact(void *buf, size_t len, uint64_t off, const struct byte_range *ranges,
		       size_t count);

#endif /* FSD_MEDIA_EXIF_H */

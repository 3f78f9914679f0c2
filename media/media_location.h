/* SPDX-License-Identifier: MIT */
/*
 * Location redaction for the media storage overlay: where the location data
 * of a file lies (the GPS data of its EXIF blocks, the GPS properties of its
 * XMP packets), and blanking those bytes in data read from the file.  The
 * module reads files; it keeps no state.
 */
#ifndef FSD_MEDIA_LOCATION_H
#define FSD_MEDIA_LOCATION_H

#include <stddef.h>
#include <stdint.h>

/* Bytes [off, off + len) of a file, which read as FILL when redacted. */
struct byte_range {
	uint64_t off;
	uint64_t len;
	unsigned char fill; /* 0 in EXIF; ' ' in XMP, which stays well-formed XML */
};

/*
 * media_location_ranges - the byte ranges of file FD that hold location data.
 *
 * Decided by content alone, never by name.  A file whose first bytes no
 * JPEG or EXIF reader accepts (libjpeg and exiftool want SOI; libexif's two
 * loaders also take a raw EXIF block, a RAF header, and a file starting
 * with any marker byte they skip) has none, and only its first bytes are
 * read.  Any other file is read whole, with pread only (its file offset is
 * not used or moved), and every place a tolerant reader could take location
 * from is found wherever it lies, whatever junk, fill bytes or bogus
 * markers come before it:
 *
 * - every EXIF block (the "Exif\0\0" magic and a TIFF header), bounded as
 *   the readers bound it (its APP1 segment's length); for each GPS IFD the
 *   ranges cover the IFD itself and every value it stores out of line;
 *   the GPSInfo pointer stays, and points at an IFD of zero entries;
 * - every GPS property (a name whose local part starts with "GPS", element
 *   or attribute) of every XMP packet: standard XMP APP1 segments, extended
 *   XMP chunks, and <?xpacket ...?> packets anywhere; each is blanked to
 *   spaces whole, from its name to its end tag or closing quote.
 *
 * On success returns 0 with *ranges a malloc()ed array of *count ranges
 * sorted by offset, ranges of one fill neither overlapping nor touching
 * (free() it), or *ranges NULL and *count 0 when there is nothing to redact.
 *
 * Returns -errno on failure: the error of pread, -ENOMEM, or -EBADMSG when
 * the file cannot be vouched for: libexif sees GPS data the structure walk
 * cannot place; an XMP GPS property whose end cannot be found inside its
 * packet, or that a chunk boundary of extended XMP cuts; XMP location in
 * UTF-16 or UTF-32; or more EXIF blocks, IFDs, XMP properties or ranges
 * than any real image has (the limits in media_location.c).  A caller that
 * must not leak location fails the open on any error.
 *
 * The ranges describe the file as it was when read: a caller that serves a
 * file which may be written meanwhile must compute them again.
 */
int media_location_ranges(int fd, struct byte_range **ranges, size_t *count);

/*
 * media_location_left - whether file FD still holds location in the COUNT
 * RANGES: 1 when some byte in them is not its range's fill, 0 when they
 * all read blank already (a file redacted before, a camera's empty GPS
 * IFD), or -errno.
 */
int media_location_left(int fd, const struct byte_range *ranges, size_t count);

/*
 * media_location_redact - sets the parts of BUF, LEN bytes read from file
 * offset OFF, that fall inside any of the COUNT ranges to the range's fill.
 * Any ranges will do (unsorted, overlapping, past the end of the buffer).
 */
void media_location_redact(void *buf, size_t len, uint64_t off, const struct byte_range *ranges,
			   size_t count);

#endif /* FSD_MEDIA_LOCATION_H */

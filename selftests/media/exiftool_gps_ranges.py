#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Where exiftool says the GPS data of a JPEG lies, for the unit tests of
media/media_location.c: an expectation that owes nothing to the code under test.

    exiftool_gps_ranges.py FILE

Prints one "OFFSET LENGTH" line (decimal file offsets) per range: the GPS
IFD (entry count, the 12-byte entries, next-IFD offset) and each GPS value
longer than 4 bytes, i.e. stored outside its entry.  No line when the file
has no GPS IFD.  Exits 1 when exiftool's output is not what this expects.

Everything comes from `exiftool -v3`, whose hex dumps are addressed by file
offset: the start of the APP1 payload ("Exif\\0\\0", then the TIFF header),
the byte order, the GPSInfo pointer (an offset from the TIFF header), the
entry count of the GPS directory, and the address and size of each GPS value.
"""
import re
import subprocess
import sys

HEX = re.compile(r"^[\s|]*([0-9a-f]{4,}): ((?:[0-9a-f]{2} )*[0-9a-f]{2})")
TAG = re.compile(r"^([\s|]*)- Tag 0x([0-9a-f]{4}) \((\d+) bytes")
GPS_DIR = re.compile(r"^([\s|]*)\+ \[GPS directory with (\d+) entries\]")


def fail(msg):
    print("exiftool_gps_ranges: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 2:
        fail("usage: exiftool_gps_ranges.py FILE")
    out = subprocess.run(["exiftool", "-v3", sys.argv[1]], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    tiff = None         # file offset of the TIFF header in the APP1
    order = None        # "big" or "little"
    pending = None      # (tag, size) waiting for its first hex line
    gps_prefix = None   # line prefix of the GPS directory's entries, while in it
    gps_ptrs = []       # GPSInfo values
    dirs = []           # entry counts of the GPS directories, in order
    ranges = []
    in_app1 = False
    for line in out:
        if line.startswith("JPEG APP1 "):
            in_app1 = True
            continue
        m = HEX.match(line)
        if in_app1 and m:
            in_app1 = False
            if m.group(2).startswith("45 78 69 66 00 00"):
                tiff = int(m.group(1), 16) + 6
            continue
        m = re.match(r"^\s*ExifByteOrder = (II|MM)", line)
        if m:
            order = "little" if m.group(1) == "II" else "big"
            continue
        m = GPS_DIR.match(line)
        if m:
            gps_prefix = m.group(1) + "| "
            dirs.append(int(m.group(2)))
            continue
        if gps_prefix is not None and not line.startswith(gps_prefix):
            gps_prefix = None
        m = TAG.match(line)
        if m:
            pending = (int(m.group(2), 16), int(m.group(3)), gps_prefix is not None)
            continue
        m = HEX.match(line)
        if m and pending:
            tag, size, in_gps = pending
            pending = None
            addr = int(m.group(1), 16)
            if tag == 0x8825 and not in_gps:
                if order is None or size != 4:
                    fail("GPSInfo before the byte order, or not 4 bytes")
                gps_ptrs.append(int.from_bytes(bytes.fromhex(m.group(2))[:4], order))
            elif in_gps and size > 4:
                ranges.append((addr, size))
    if len(dirs) != len(gps_ptrs):
        fail("%d GPSInfo pointers but %d GPS directories" % (len(gps_ptrs), len(dirs)))
    if dirs and tiff is None:
        fail("GPS directory but no EXIF APP1 start")
    for ptr, n in zip(gps_ptrs, dirs):
        ranges.append((tiff + ptr, 2 + 12 * n + 4))
    for off, size in sorted(ranges):
        print(off, size)


main()

#!/bin/bash
# Writes the seed corpus of the location fuzzer (selftests/fuzz/corpus-location):
# small JPEGs from jpeggen in each layout it makes, and the shapes of
# file that once got past the redaction or that readers take in odd ways.
# Usage: selftests/fuzz/make_location_corpus.sh JPEGGEN
set -eu
gen=${1:?usage: $0 JPEGGEN}
out=$(cd "$(dirname "$0")" && pwd)/corpus-location
mkdir -p "$out"
j() { "$gen" --size 16x16 "$@"; }

j --order ii "$out/ii.jpg"
j --order mm --thumbnail "$out/mm-thumbnail.jpg"
j --order ii --app 3 --no-jfif "$out/ii-app3-nojfif.jpg"
j --order mm --xmp "$out/mm-xmp.jpg"
j --order ii --no-gps --xmp "$out/xmp-only-gps.jpg"
j --no-exif "$out/no-exif.jpg"

# One 0xd8 after SOI: a marker walk stops, libexif and exiftool read on.
python3 - "$out" <<'PY'
import struct, sys
out = sys.argv[1]
src = open(out + "/ii.jpg", "rb").read()
open(out + "/d8-after-soi.jpg", "wb").write(src[:2] + b"\xd8" + src[3:])
# Junk between SOI and the APP1: libjpeg and exiftool skip to the next 0xff.
open(out + "/junk-before-app1.jpg", "wb").write(src[:2] + b"junk" + src[2:])
# The EXIF block alone, as libexif's loaders also take it.
i = src.index(b"Exif\0\0")
n = struct.unpack(">H", src[i - 2:i])[0]
open(out + "/raw-exif", "wb").write(src[i:i - 2 + n])
open(out + "/len-then-exif", "wb").write(src[i - 2:i - 2 + n])
# An XMP packet in a comment segment, and extended XMP cut through a GPS name.
pkt = b'<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="48,51.5N"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
com = b"\xff\xfe" + struct.pack(">H", len(pkt) + 2) + pkt
open(out + "/xpacket-in-com.jpg", "wb").write(src[:2] + com + src[2:])
text = b'<x:xmpmeta><rdf:Description><exif:GPSLongitude>2,17.6E</exif:GPSLongitude></rdf:Description></x:xmpmeta>'
cut = text.index(b"GPSLong") - 2
guid = b"0" * 32
def chunk(off, part):
    body = b"http://ns.adobe.com/xmp/extension/\0" + guid + struct.pack(">II", len(text), off) + part
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
ext = chunk(0, text[:cut]) + chunk(cut, text[cut:])
open(out + "/xmp-extension-cut.jpg", "wb").write(src[:2] + ext + src[2:])
PY

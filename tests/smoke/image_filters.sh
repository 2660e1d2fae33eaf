# image-filters convolves the built-in test image with hand-made grayscale and Sobel filters
# and writes five PNGs.
set -e
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
log=$("$1/examples/image-filters" --out "$out")
echo "$log"
for f in input grayscale sobel_x sobel_y edges; do
  echo "$log" | grep -q "^wrote $out/$f.png" || { echo "not reported: $f.png" >&2; exit 1; }
  # A real PNG: the 8-byte signature.
  [ "$(head -c 8 "$out/$f.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
    { echo "not a PNG: $out/$f.png" >&2; exit 1; }
done
# The input is 320x240; the valid 3x3 Sobel output is 318x238 (PNG IHDR width/height).
[ "$(od -An -tu1 -j16 -N8 "$out/edges.png" | tr -s ' ' | sed 's/^ //')" = "0 0 1 62 0 0 0 238" ]
# An unreadable image is a clear error and exit status 1.
if "$1/examples/image-filters" "$out/missing.png" --out "$out" 2> "$out/err"; then exit 1; fi
grep -q "error: .*missing.png" "$out/err"
# Bad arguments name themselves.
if "$1/examples/image-filters" a.png b.png --out "$out" 2> "$out/err"; then exit 1; fi
grep -q "one image at most, got 2" "$out/err"
if "$1/examples/image-filters" --size 2x9 --out "$out" 2> "$out/err"; then exit 1; fi
grep -q "size wants WxH (at least 3x3), got '2x9'" "$out/err"
"$1/examples/image-filters" --help | grep -q "^usage: image-filters"

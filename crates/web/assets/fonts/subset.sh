#!/usr/bin/env bash
# Makes the poster fonts in this folder from Debian's fonts-noto-cjk (see README.md): Noto Sans
# CJK SC Regular and Bold cut down to the characters a poster can need, so the binary carries
# ~3 MB of font instead of 40. Needs apt-get (Debian) and pip's fonttools; touches nothing
# outside a temporary folder and this one.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
version="1:20220127+repack1-1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v pyftsubset >/dev/null || pip install --quiet fonttools
cd "$work"
apt-get download "fonts-noto-cjk=$version"
dpkg-deb -x fonts-noto-cjk_*.deb deb

# Every character of GB2312 (its 6763 hanzi and its symbol rows), from Python's own codec.
python3 - <<'PY'
chars = set()
for hi in range(0xA1, 0xF8):
    for lo in range(0xA1, 0xFF):
        try:
            chars.add(bytes([hi, lo]).decode("gb2312"))
        except UnicodeDecodeError:
            pass
open("gb2312.txt", "w", encoding="utf-8").write("".join(sorted(chars)))
PY

# ASCII and Latin-1, general punctuation (· — “” …), CJK punctuation, fullwidth forms. Index 2
# of the collection is the SC face. No layout tables or hints: the poster renderer neither
# shapes nor hints. The .notdef box is kept: a character outside the subset prints as a box.
for weight in Regular Bold; do
    pyftsubset "deb/usr/share/fonts/opentype/noto/NotoSansCJK-$weight.ttc" --font-number=2 \
        --unicodes="U+0020-007E,U+00A0-00FF,U+2010-2027,U+2030-203B,U+3000-303F,U+FF01-FF5E,U+FFE0-FFE6" \
        --text-file=gb2312.txt --layout-features='' --no-hinting --notdef-outline \
        --drop-tables+=vhea,vmtx,VORG,BASE \
        --output-file="$here/NotoSansSC-$weight-subset.otf"
done
ls -l "$here"/*.otf

#!/usr/bin/env bash
# Add Debian's python3 and its libiio bindings (python3-libiio: iio.py over libiio.so.0, the
# layer pyadi-iio is built on) to a guest root being built:
#   guest-python.sh ROOT
# Only what a libiio script loads: the interpreter, the modules and extension modules that
# `import iio` and the guest's scripts pull in on this host (with their compiled .pyc), the
# shared libraries they link into ROOT/usr/lib/iiousb, and an ld.so cache for that directory
# (ctypes' find_library("iio") asks `ldconfig -p`). A few MB instead of the whole stdlib.
set -euo pipefail
root=${1:?usage: guest-python.sh ROOT}
fail() { echo "guest-python: $*" >&2; exit 1; }
# Debian's interpreter (a pyenv or venv python3 on PATH would not see python3-libiio).
python=/usr/bin/python3
[ -x $python ] || fail "$python is not installed (tests/install-deps.sh)"
$python -c 'import iio' 2> /dev/null || fail "python3-libiio is not installed (tests/install-deps.sh)"

py=$(readlink -f $python)
mkdir -p "$root/usr/bin" "$root/usr/lib/iiousb" "$root/etc" "$root/sbin"
cp "$py" "$root/usr/bin/"
ln -sf "$(basename "$py")" "$root/usr/bin/python3"

# Every module file loaded after the imports the guest scripts use (tests/vm/progs/*.py).
mapfile -t files < <($python - << 'PY'
import importlib.util
import sys

import argparse, array, iio, os, struct, time  # noqa: F401 (what the guest scripts import)

seen = set()
for m in list(sys.modules.values()):
    f = getattr(m, "__file__", None)
    if not f or not f.startswith("/") or f in seen:
        continue
    seen.add(f)
    print(f)
    if f.endswith(".py"):
        c = importlib.util.cache_from_source(f)
        try:
            open(c, "rb").close()
            print(c)
        except OSError:
            pass
PY
)
[ "${#files[@]}" -gt 10 ] || fail "python3 listed only ${#files[@]} module files"
# libiio itself is loaded by ctypes, not linked. (awk reads to the end: an early exit would
# kill ldconfig with SIGPIPE, and pipefail would end this script without a word.)
libiio=$(ldconfig -p | awk '/libiio\.so\.0 .*x86-64/ && !found { print $NF; found = 1 }')
[ -n "$libiio" ] || fail "libiio.so.0 not in this host's ld.so cache"
declare -A libs=([$libiio]=1)
for f in "$py" "$libiio" "${files[@]}"; do
	if [ "$f" != "$py" ] && [ "$f" != "$libiio" ]; then
		mkdir -p "$root/$(dirname "$f")"
		cp -L "$f" "$root/$f"
	fi
	case $f in
	*.so | "$py" | "$libiio")
		while read -r lib; do libs[$lib]=1; done < <(ldd "$f" 2> /dev/null |
			awk '/=> \// { print $3 }')
		;;
	esac
done
for lib in "${!libs[@]}"; do
	case $lib in */ld-linux*) continue ;; esac
	cp -L "$lib" "$root/usr/lib/iiousb/"
done
cp /sbin/ldconfig "$root/sbin/ldconfig"
echo /usr/lib/iiousb > "$root/etc/ld.so.conf"
ldconfig -r "$root"
echo "guest-python: $(basename "$py"), ${#files[@]} module files, ${#libs[@]} libraries, $(du -sh "$root/usr/lib/python3"* 2> /dev/null | awk '{ s = s " " $1 } END { print s }')"

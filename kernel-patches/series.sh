#!/usr/bin/env bash
# The carried patches as the series upstream takes: one `git format-patch`
# series per subsystem (usb: dummy_hcd and f_fs; iio: the IIO core and
# industrialio-buffer-dma), numbered, with a cover letter each.
#
#   kernel-patches/series.sh --out DIR [--source TARBALL]
#
# The files the patches touch are extracted from the linux-source tarball into
# a scratch git repository; each subsystem's patches are applied there with
# `git am` (which also checks that every patch is a well-formed mail), then
# `git format-patch --cover-letter -n` writes DIR/<subsystem>/, the cover
# letter's subject and blurb filled from cover-letters/<subsystem>.txt (first
# line: subject; the rest: body), and `checkpatch.pl --strict` runs over every
# patch of the series (UNKNOWN_COMMIT_ID ignored: no upstream history here).
# The notes below each carried patch's `---` are ours and do not go into the
# series. Exit status 0 when every patch applied and is checkpatch clean.
# The sign-offs keep the placeholder identity; the submitter replaces it
# (e.g. `git rebase --exec 'git commit --amend --no-edit -s'` in a real tree).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
out=
tarball=/usr/src/linux-source-6.12.tar.xz

while [ $# -gt 0 ]; do
	case $1 in
	--out) out=$2; shift 2 ;;
	--source) tarball=$2; shift 2 ;;
	-h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "series.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
fail() { echo "series.sh: $*" >&2; exit 1; }
[ -n "$out" ] || fail "--out is required"
[ -f "$tarball" ] || fail "$tarball: linux-source tarball not found"

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# subsystem -> its patches, in the order they apply.
declare -A globs=([usb]='000[1-9]-usb-* 002[0-9]-usb-*' [iio]='001[0-9]-iio-*')
declare -A list
all=()
for sub in usb iio; do
	list[$sub]=
	for g in ${globs[$sub]}; do
		for p in "$here"/linux-6.12/$g.patch; do
			[ -f "$p" ] || continue
			list[$sub]+="$p"$'\n'
			all+=("$p")
		done
	done
	[ -n "${list[$sub]}" ] || fail "no patches for $sub"
done
# One pass over the tarball (xz decompresses the whole stream): every file a patch
# touches, and checkpatch with its data files.
mapfile -t files < <(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' "${all[@]}" | sort -u)
top=$(basename "$tarball" .tar.xz)
checker=(scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch)
mkdir -p "$work/pristine"
echo "series.sh: extracting ${#files[@]} files and checkpatch.pl from $tarball"
tar xJf "$tarball" -C "$work/pristine" --strip-components=1 "${files[@]/#/$top/}" \
	"${checker[@]/#/$top/}"

status=0
for sub in usb iio; do
	mapfile -t patches < <(printf '%s' "${list[$sub]}")
	repo=$work/$sub
	mkdir -p "$repo"
	(cd "$work/pristine" && cp --parents $(sed -n 's|^+++ b/\([^[:space:]]*\).*|\1|p' \
		"${patches[@]}" | sort -u) "$repo/")
	git -C "$repo" init -q
	git -C "$repo" -c user.name=base -c user.email=base@invalid add -A
	git -C "$repo" -c user.name=base -c user.email=base@invalid commit -qm "$top"
	git -C "$repo" -c user.name=series -c user.email=series@invalid am -q "${patches[@]}" ||
		fail "$sub: a patch does not apply with git am"
	cover=$here/cover-letters/$sub.txt
	[ -f "$cover" ] || fail "$cover: no cover letter"
	rm -rf "${out:?}/$sub"
	git -C "$repo" -c core.abbrev=12 -c user.name="iiousb developers" -c user.email=dev@iiousb.invalid \
		format-patch -q --cover-letter -n --zero-commit \
		--no-signature -o "$out/$sub" "HEAD~${#patches[@]}..HEAD"
	subject=$(head -n 1 "$cover")
	blurb=$(tail -n +3 "$cover")
	c=$(ls "$out/$sub"/0000-*.patch)
	SUBJECT=$subject BLURB=$blurb perl -0pi -e \
		's/\*\*\* SUBJECT HERE \*\*\*/$ENV{SUBJECT}/; s/\*\*\* BLURB HERE \*\*\*/$ENV{BLURB}/' "$c"
	! grep -q '\*\*\* .* HERE \*\*\*' "$c" || fail "$c: cover letter placeholders left"
	# checkpatch from the tarball, outside any git work tree (see checkpatch.sh).
	for p in "$out/$sub"/0*.patch; do
		case $p in */0000-*) continue ;; esac
		if ! r=$(cd "$work/pristine" && perl scripts/checkpatch.pl --strict --no-tree \
			--ignore UNKNOWN_COMMIT_ID --color=never "$p" 2>&1); then
			echo "$r"
			status=1
		fi
	done
	echo "series.sh: $sub: ${#patches[@]} patches and a cover letter in $out/$sub"
done
exit $status

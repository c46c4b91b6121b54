#!/usr/bin/env bash
# packaging/check.sh must fail when the recipes and the CMake project disagree: this runs
# it on copies of the tree with one defect each and expects a non-zero exit status and
# the FAIL line that names the defect.
#
#   packaging/tests/check-fails.sh [--daemon BIN --tool BIN]
#
# The copies are scratch trees (packaging/, daemon/ and CMakeLists.txt copied, the rest
# linked); the source tree is not touched.
# (The defects are literal ${VAR} text.)
# shellcheck disable=SC2016
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
bins=("$@")
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

failures=0
n=0
# defect NAME EXPECTED-FAIL-REGEX [--no-install] -- COMMAND...: COMMAND runs in a fresh
# copy of the tree to break it, then check.sh must fail with a FAIL line matching.
defect() {
	local name=$1 want=$2 opts=()
	shift 2
	if [ "$1" = --no-install ]; then
		opts+=(--no-install)
		shift
	fi
	[ "$1" = -- ] && shift
	n=$((n + 1))
	local tree=$t/$n/tree entry
	mkdir -p "$tree"
	for entry in "$src"/* "$src"/.clang-format; do
		case ${entry##*/} in
		packaging | daemon | CMakeLists.txt | build | build-* | obj-*) ;;
		*) ln -s "$entry" "$tree/" ;;
		esac
	done
	cp -a "$src/packaging" "$src/daemon" "$src/CMakeLists.txt" "$tree/"
	(cd "$tree" && "$@")
	local status=0
	"$tree/packaging/check.sh" --work "$t/$n/work" "${opts[@]}" "${bins[@]}" > "$t/$n/out" 2>&1 ||
		status=$?
	if [ "$status" = 0 ]; then
		echo "FAIL: $name: check.sh passed"
		failures=$((failures + 1))
	elif ! grep -E "^FAIL .*$want" "$t/$n/out" > "$t/$n/hits"; then
		echo "FAIL: $name: check.sh failed (status $status) but no FAIL line matches '$want':"
		grep '^FAIL' "$t/$n/out" | sed 's/^/    /'
		failures=$((failures + 1))
	else
		echo "ok   $name: check.sh exit status $status: $(head -1 "$t/$n/hits")"
	fi
}
br=packaging/buildroot/package/iiousbd
recipe=("$src"/packaging/meta-iiousb/recipes-*/*/iiousbd_*.bb)
recipe=("${recipe[0]#"$src"/}")

defect "Buildroot version behind CMakeLists.txt" "IIOUSBD_VERSION: '0\\.0\\.9'" --no-install -- \
	sed -i 's/^IIOUSBD_VERSION = .*/IIOUSBD_VERSION = 0.0.9/' "$br/iiousbd.mk"
defect "init script syntax error" "sh -n S95iiousbd" --no-install -- \
	sed -i 's/^start() {$/start() { if true; then/' "$br/S95iiousbd"
defect "a setting the init script does not read" "settings in iiousbd.default" --no-install -- \
	sh -c "echo 'IIOUSBD_NICE=\"5\"' >> $br/iiousbd.default"
defect ".mk uses an option Config.in lacks" "BR2_PACKAGE_IIOUSBD_EXTRA \\(used by the .mk\\)" \
	--no-install -- sh -c "printf 'ifeq (\$(BR2_PACKAGE_IIOUSBD_EXTRA),y)\nendif\n' >> $br/iiousbd.mk"
defect "dependency not selected in Config.in" "dependency yaml-cpp" --no-install -- \
	sed -i '/select BR2_PACKAGE_YAML_CPP/d' "$br/Config.in"
defect "Config.in entry without a type" "has no type" --no-install -- \
	sed -i '/string "configuration installed/d' "$br/Config.in"
defect "CMake needs a library neither recipe has" "CMake needs libfoo" --no-install -- \
	sed -i 's/^pkg_check_modules(LIBIIO .*/&\npkg_check_modules(FOO REQUIRED IMPORTED_TARGET libfoo)/' \
	CMakeLists.txt
defect "Yocto DEPENDS lacks libusbgx" "Yocto DEPENDS libusbgx" --no-install -- \
	sed -i 's/^DEPENDS = "libusbgx /DEPENDS = "/' "${recipe[0]}"
defect "Yocto FILES:iiousb without the udev rule" "not shipped.*60-iiousb.rules" -- \
	sed -i 's|^FILES:iiousb = .*|FILES:iiousb = "${bindir}/iiousb"|' "${recipe[0]}"
defect "Yocto unit directory not passed to CMake" "FILES:iiousbd entry .*iiousbd.service" -- \
	sed -i '/-DIIOUSB_SYSTEMD_UNIT_DIR=/d' "${recipe[0]}"
defect "the config installed relative to the prefix (/usr/etc)" "br-systemd: no /usr/etc" -- \
	sed -i 's/DESTINATION ${CMAKE_INSTALL_FULL_SYSCONFDIR}\/iiousbd/DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}\/iiousbd/' \
	daemon/CMakeLists.txt
defect "Buildroot hook installs a config that does not exist" "the .mk's install steps failed" -- \
	sed -i 's|config/$(IIOUSBD_CONFIG_NAME).yaml|config/$(IIOUSBD_CONFIG_NAME).yml|' "$br/iiousbd.mk"

if [ "$failures" -ne 0 ]; then
	echo "check-fails: $failures of $n defects not caught"
	exit 1
fi
echo "check-fails: all $n defects caught"

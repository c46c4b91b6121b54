#!/usr/bin/env bash
# Cross-check the Buildroot package (packaging/buildroot) and the Yocto recipe
# (packaging/meta-iiousb) against the CMake project. Neither Buildroot nor BitBake runs
# here, so nothing is built for a board: the check configures the project as each one
# would (their cmake arguments plus the package's own), installs it into a scratch
# directory, plays the package's install steps on it (the .mk's hooks through a small
# stand-in for Buildroot's package infrastructure; the recipe's do_install:append and
# its FILES split) and compares the result with what CMake installs:
#
#   packaging/check.sh [--work DIR] [--daemon BIN --tool BIN] [--no-install]
#                      [--buildroot DIR] [--oe-layer DIR]...
#
# --work       scratch directory (default: a temporary one, removed afterwards)
# --daemon, --tool
#              the built iiousbd and iiousb (CTest passes them): installed in place of
#              the build's files, and iiousbd --check-config runs on each installed
#              configuration. Without them, empty stand-ins are installed.
# --no-install the static checks only (no configure, no install)
# --buildroot  a Buildroot tree: every BR2_ symbol and package the recipe uses must exist
#              there (without it, a list of symbols checked by hand stands in)
# --oe-layer   an OE layer (openembedded-core/meta, meta-openembedded/meta-oe): every
#              DEPENDS of the recipe must have a recipe in one of them
#
# What it checks, and what CMake's install is compared with: packaging/README.md. Prints
# "ok" and "FAIL" lines and a summary; exit status 1 if anything failed.
# (Literal ${VAR} text of recipes in single quotes is meant: no expansion. The file
# lists read word by word have no spaces in their names.)
# shellcheck disable=SC2016,SC2013
set -Eeuo pipefail
# A command failing where the script does not expect it is a failed check, never a
# silent stop.
trap 'echo "FAIL packaging/check.sh: unexpected error at line $LINENO (exit status $?)"' ERR

usage() {
	sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
}
src=$(cd "$(dirname "$0")/.." && pwd)
pkg=$src/packaging
work=
daemon_bin=
tool_bin=
buildroot=
oe_layers=()
install=yes
while [ $# -gt 0 ]; do
	case $1 in
	--work) work=$2; shift 2 ;;
	--daemon) daemon_bin=$2; shift 2 ;;
	--tool) tool_bin=$2; shift 2 ;;
	--no-install) install=no; shift ;;
	--buildroot) buildroot=$2; shift 2 ;;
	--oe-layer) oe_layers+=("$2"); shift 2 ;;
	*) usage ;;
	esac
done
if [ -z "$work" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
else
	rm -rf "$work"
	mkdir -p "$work"
	work=$(cd "$work" && pwd)
fi

br=$pkg/buildroot
brpkg=$br/package/iiousbd
mk=$brpkg/iiousbd.mk
kconfig=$brpkg/Config.in
layer=$pkg/meta-iiousb
recipes=("$layer"/recipes-*/*/iiousbd_*.bb)
recipe=${recipes[0]}

checks=0
failed=0
ok() {
	checks=$((checks + 1))
	echo "ok   $*"
}
bad() {
	checks=$((checks + 1))
	failed=$((failed + 1))
	echo "FAIL $*"
}
note() {
	echo "note $*"
}
# expect DESCRIPTION COMMAND...: ok or FAIL by the command's status.
expect() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}
# same DESCRIPTION GOT WANT
same() {
	if [ "$2" = "$3" ]; then ok "$1: $2"; else bad "$1: '$2', expected '$3'"; fi
}
# quiet COMMAND...: its stdout discarded.
quiet() { "$@" > /dev/null; }
section() {
	echo
	echo "== $*"
}

# ---------------------------------------------------------------------------------------
section "the recipes exist"
expect "one Yocto recipe iiousbd_*.bb (${#recipes[@]})" test "${#recipes[@]}" -eq 1 -a -f "$recipe"
for f in "$br/external.desc" "$br/external.mk" "$br/Config.in" "$kconfig" "$mk" \
	"$brpkg/iiousbd.default" "$layer/conf/layer.conf"; do
	expect "${f#"$pkg"/}" test -f "$f"
done
inits=("$brpkg"/S[0-9][0-9]iiousbd)
initscript=${inits[0]}
expect "one SysV init script S??iiousbd (${initscript##*/})" test -f "$initscript"

# The Buildroot .mk, read through GNU make with stand-ins for what Buildroot's package
# infrastructure defines before it includes a package (package/pkg-utils.mk qstrip,
# package/Makefile.in INSTALL and SED, pkg-generic.mk PKGDIR and the install steps of
# its .stamp_target_installed rule). "br VAR [MAKEVAR=VALUE...]" prints one variable.
cat > "$work/br.mk" << EOF
BR2_EXTERNAL_IIOUSB_PATH := $br
qstrip = \$(strip \$(subst ",,\$(1)))
INSTALL := install
SED := sed -i -e
IIOUSBD_PKGDIR := $brpkg
cmake-package :=
define sep


endef
include $mk
print-%:
	@:\$(info \$(\$*))
# The build directory is the source tree here: \$(@D) in the hooks.
\$(IIOUSBD_SITE)/install-hooks:
	\$(if \$(BR2_INIT_SYSTEMD),\$(IIOUSBD_INSTALL_INIT_SYSTEMD))
	\$(if \$(BR2_INIT_SYSV)\$(BR2_INIT_BUSYBOX),\$(IIOUSBD_INSTALL_INIT_SYSV))
	\$(foreach hook,\$(IIOUSBD_POST_INSTALL_TARGET_HOOKS),\$(call \$(hook))\$(sep))
.PHONY: \$(IIOUSBD_SITE)/install-hooks
EOF
br() {
	local var=$1
	shift
	make -s --no-print-directory -f "$work/br.mk" "$@" "print-$var"
}

# The recipe's variables (VAR = "...", ?=, +=, =+, with continuation lines) as
# NAME<TAB>VALUE lines, OE's own directory variables (bitbake.conf, with usrmerge, which
# OE-core's systemd requires) and PN/PV from the file name; expanded by oe_expand.
pv=$(basename "$recipe" .bb)
pv=${pv#iiousbd_}
awk '
	{ line = $0 }
	cont != "" { line = cont line; cont = "" }
	/\\$/ { sub(/\\$/, "", line); cont = line " "; next }
	line ~ /^[ \t]*#/ || line ~ /^do_/ || line ~ /^[ \t]/ || line ~ /^}/ { next }
	match(line, /^[A-Za-z0-9_:${}.-]+[ \t]*(\?\?=|\?=|\+=|=\+|:=|\.=|=)[ \t]*"/) {
		head = substr(line, 1, RLENGTH)
		value = substr(line, RLENGTH + 1)
		sub(/"[ \t]*$/, "", value)
		gsub(/[ \t]+/, " ", value)
		name = head
		sub(/[ \t]*(\?\?=|\?=|\+=|=\+|:=|\.=|=)[ \t]*"$/, "", name)
		op = head
		sub(/^[A-Za-z0-9_:${}.-]+[ \t]*/, "", op)
		sub(/[ \t]*"$/, "", op)
		if (op == "?=" || op == "??=") { if (!(name in v)) v[name] = value }
		else if (op == "+=") v[name] = (name in v ? v[name] " " : "") value
		else if (op == "=+") v[name] = value (name in v ? " " v[name] : "")
		else v[name] = value
		if (!(name in seen)) { seen[name] = 1; order[n++] = name }
	}
	END { for (i = 0; i < n; i++) printf "%s\t%s\n", order[i], v[order[i]] }
' "$recipe" > "$work/recipe.vars"
oe_vars=(
	"PN=iiousbd" "BPN=iiousbd" "PV=$pv" "prefix=/usr" "exec_prefix=/usr"
	"bindir=/usr/bin" "sbindir=/usr/sbin" "libdir=/usr/lib" "libexecdir=/usr/libexec"
	"includedir=/usr/include" "base_libdir=/usr/lib" "nonarch_base_libdir=/usr/lib"
	"base_bindir=/usr/bin" "base_sbindir=/usr/sbin" "sysconfdir=/etc"
	"localstatedir=/var" "sharedstatedir=/com" "datadir=/usr/share"
	"docdir=/usr/share/doc" "mandir=/usr/share/man" "infodir=/usr/share/info"
	"systemd_unitdir=/usr/lib/systemd" "systemd_system_unitdir=/usr/lib/systemd/system"
	"SOLIBS=.so.*" "SOLIBSDEV=.so"
)
recipe_var() {
	awk -F'\t' -v n="$1" '$1 == n { print $2; found = 1 } END { exit !found }' \
		"$work/recipe.vars"
}
# oe_expand TEXT: ${VAR} from OE's table, then the recipe's, until nothing changes.
oe_expand() {
	local text=$1 prev='' kv name value
	while [ "$text" != "$prev" ]; do
		prev=$text
		for kv in "${oe_vars[@]}"; do
			text=${text//"\${${kv%%=*}}"/${kv#*=}}
		done
		while read -r name; do
			[[ $name =~ ^[A-Za-z0-9_]+$ ]] || continue
			value=$(recipe_var "$name") || continue
			text=${text//"\${$name}"/$value}
		done < <(cut -f1 "$work/recipe.vars")
	done
	printf '%s' "$text"
}

# ---------------------------------------------------------------------------------------
section "versions"
cmake_version=$(sed -n 's/^project(iiousb VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
same "Buildroot IIOUSBD_VERSION" "$(br IIOUSBD_VERSION)" "$cmake_version"
same "Yocto recipe version (file name)" "$pv" "$cmake_version"
deb_version=$(sed -n '1s/^iiousb (\([^)-]*\).*/\1/p' "$src/debian/changelog")
same "debian/changelog" "$deb_version" "$cmake_version"

# ---------------------------------------------------------------------------------------
section "where the source comes from"
site=$(br IIOUSBD_SITE)
same "Buildroot IIOUSBD_SITE_METHOD" "$(br IIOUSBD_SITE_METHOD)" local
same "Buildroot IIOUSBD_SITE is this source tree" "$(cd "$site" 2> /dev/null && pwd -P)" \
	"$(cd "$src" && pwd -P)"
srcdir_rel=$(sed -n "s|^IIOUSB_SRCDIR := \"\${@os.path.normpath('\${LAYERDIR}/\(.*\)')}\"|\1|p" \
	"$layer/conf/layer.conf")
same "Yocto IIOUSB_SRCDIR (conf/layer.conf) is this source tree" \
	"$(cd "$layer/$srcdir_rel" 2> /dev/null && pwd -P)" "$(cd "$src" && pwd -P)"
same "Yocto EXTERNALSRC" "$(recipe_var EXTERNALSRC || true)" '${IIOUSB_SRCDIR}'
for f in $(br IIOUSBD_LICENSE_FILES); do
	expect "Buildroot IIOUSBD_LICENSE_FILES: $f exists" test -f "$src/$f"
done
license=$(recipe_var LICENSE || true)
if [ "$license" = CLOSED ]; then
	ok "Yocto LICENSE = CLOSED (no LIC_FILES_CHKSUM needed)"
else
	for entry in $(recipe_var LIC_FILES_CHKSUM || true); do
		file=${entry#file://}
		file=${file%%;*}
		want=${entry##*md5=}
		same "Yocto LIC_FILES_CHKSUM $file" "$(md5sum < "$src/$file" | cut -d' ' -f1)" "$want"
	done
fi

# ---------------------------------------------------------------------------------------
section "shell: $(basename "$initscript") and iiousbd.default"
for f in "$initscript" "$brpkg/iiousbd.default"; do
	expect "sh -n ${f##*/}" sh -n "$f"
	if command -v busybox > /dev/null; then
		expect "busybox sh -n ${f##*/}" busybox sh -n "$f"
	else
		bad "busybox sh -n ${f##*/}: no busybox (apt-get install busybox-static)"
	fi
done
if command -v shellcheck > /dev/null; then
	expect "shellcheck -s sh ${initscript##*/}" shellcheck -s sh "$initscript"
	expect "shellcheck -s sh iiousbd.default" shellcheck -s sh -e SC2034 "$brpkg/iiousbd.default"
else
	note "shellcheck not installed: skipped"
fi
expect "the .mk installs ${initscript##*/} as /etc/init.d/${initscript##*/}, mode 0755" grep -Fq \
	"\$(INSTALL) -D -m 0755 \$(IIOUSBD_PKGDIR)/${initscript##*/} \$(TARGET_DIR)/etc/init.d/${initscript##*/}" "$mk"
# Every setting in the defaults file is one the script has a default for and reads, and
# every IIOUSBD_ setting the script reads is in the defaults file.
settings=$(sed -n 's/^\(IIOUSBD_[A-Z_]*\)=.*/\1/p' "$brpkg/iiousbd.default" | sort -u)
script_settings=$(grep -o 'IIOUSBD_[A-Z_]*' "$initscript" | grep -v '^IIOUSBD_DEFAULTS$' | sort -u)
same "the settings in iiousbd.default are the script's" "$(tr '\n' ' ' <<< "$settings")" \
	"$(tr '\n' ' ' <<< "$script_settings")"
for s in $settings; do
	expect "${initscript##*/} has a default for $s" grep -q "^$s=" "$initscript"
done

# ---------------------------------------------------------------------------------------
section "Buildroot: external tree and Kconfig"
name=$(sed -n 's/^name: *//p' "$br/external.desc")
expect "external.desc name ($name) is [A-Za-z0-9_]+" grep -Eq '^[A-Za-z0-9_]+$' <<< "$name"
expect "the .mk uses BR2_EXTERNAL_${name}_PATH" grep -q "BR2_EXTERNAL_${name}_PATH" "$mk"
expect "external.mk includes package/*/*.mk" \
	grep -Fq "\$(BR2_EXTERNAL_${name}_PATH)/package/*/*.mk" "$br/external.mk"
for d in "$br"/package/*/; do
	p=$(basename "$d")
	expect "Config.in sources package/$p/Config.in" \
		grep -Fxq "source \"\$BR2_EXTERNAL_${name}_PATH/package/$p/Config.in\"" "$br/Config.in"
done
# Syntax: each config has a type, blocks are balanced, attributes are known keywords,
# help text is indented; prints "defined SYMBOL TYPE CHOICE" and "refs SYMBOL" lines.
if awk '
	function fail(msg) { printf "FAIL Config.in:%d: %s\n", NR, msg; bad = 1 }
	function refs(text,   s) {
		while (match(text, /BR2_[A-Z0-9_]+/)) {
			print "refs " substr(text, RSTART, RLENGTH)
			text = substr(text, RSTART + RLENGTH)
		}
	}
	function endconfig() { if (cur != "" && !typed) fail("config " cur " has no type"); cur = "" }
	# Continuation lines: one logical line.
	held != "" { $0 = held " " $0; held = "" }
	/\\$/ { held = substr($0, 1, length($0) - 1); next }
	/^[ \t]*$/ { next }
	inhelp && /^\t  / { next }
	{ inhelp = 0 }
	/^[ \t]*#/ { next }
	/^(menu)?config [A-Z0-9_]+$/ { endconfig(); cur = $2; typed = 0
		print "defined " cur " - " (choice ? "choice" : "-"); next }
	/^\t(bool|tristate|string|int|hex)([ \t]|$)/ { if (cur == "" && !inchoice) fail("type outside a config")
		typed = 1; if (cur != "") print "type " cur " " $1; next }
	/^\t(depends on|select|imply|default|range|visible if) / { refs($0); next }
	/^\tprompt / { next }
	/^\thelp$/ { inhelp = 1; next }
	/^choice$/ { endconfig(); choice++; inchoice = 1; next }
	/^endchoice$/ { endconfig(); if (!choice--) fail("endchoice without choice"); inchoice = 0; next }
	/^if / { endconfig(); refs($0); ifs++; next }
	/^endif$/ { endconfig(); if (!ifs--) fail("endif without if"); next }
	/^menu / { endconfig(); menus++; next }
	/^endmenu$/ { endconfig(); if (!menus--) fail("endmenu without menu"); next }
	/^comment / { endconfig(); next }
	/^source / { endconfig(); next }
	{ fail("not Kconfig: " $0) }
	END { endconfig(); if (ifs || choice || menus) fail("unbalanced if/choice/menu"); exit bad }
' "$kconfig" > "$work/kconfig.out"; then
	ok "Config.in: syntax (types, if/choice/menu balance, keywords, help indentation)"
else
	grep '^FAIL' "$work/kconfig.out" || true
	bad "Config.in: syntax"
fi
defined=$(sed -n 's/^defined \([A-Z0-9_]*\) .*/\1/p' "$work/kconfig.out" | sort -u)
choice_members=$(awk '/^choice$/ { c = 1 } /^endchoice$/ { c = 0 } c && /^config / { print $2 }' "$kconfig")
kconfig_refs=$(sed -n 's/^refs //p' "$work/kconfig.out" | sort -u)
mk_refs=$(grep -v '^[[:space:]]*#' "$mk" | grep -o 'BR2_[A-Z0-9_]*' | sort -u)
# The Buildroot symbols the package uses, each checked by hand in Buildroot (2026.08:
# toolchain/Config.in, system/Config.in, package/*/Config.in); --buildroot checks them
# in a real tree. BR2_PACKAGE_ELOGIND is no Buildroot symbol: it comes from a user's own
# elogind package, if any (packaging/README.md).
known_br=(BR2_USE_MMU BR2_INSTALL_LIBSTDCPP BR2_TOOLCHAIN_GCC_AT_LEAST_12
	BR2_TOOLCHAIN_HEADERS_AT_LEAST_6_0 BR2_TOOLCHAIN_USES_GLIBC BR2_TOOLCHAIN_HAS_THREADS
	BR2_PACKAGE_SYSTEMD BR2_INIT_SYSTEMD BR2_PACKAGE_LIBUSBGX BR2_PACKAGE_YAML_CPP
	BR2_PACKAGE_LIBIIO BR2_PACKAGE_ZLIB BR2_PACKAGE_LIBUSB)
user_provided=(BR2_PACKAGE_ELOGIND)
if [ -n "$buildroot" ]; then
	find "$buildroot" -name 'Config.in*' -not -path '*/output/*' -print0 |
		xargs -0 sed -n 's/^[[:space:]]*\(menu\)\{0,1\}config \(BR2_[A-Z0-9_]*\)[[:space:]]*$/\2/p' |
		sort -u > "$work/br-symbols"
	note "Buildroot symbols from $buildroot ($(wc -l < "$work/br-symbols"))"
fi
for sym in $(printf '%s\n' "$kconfig_refs" "$mk_refs" | sort -u); do
	if grep -qx "$sym" <<< "$defined"; then
		continue
	elif [ "$sym" = "BR2_EXTERNAL_${name}_PATH" ]; then
		continue
	elif printf '%s\n' "${user_provided[@]}" | grep -qx "$sym"; then
		if [ -n "$buildroot" ] && grep -qx "$sym" "$work/br-symbols"; then
			note "$sym is defined in $buildroot"
		else
			note "$sym: not a Buildroot symbol, from a user's own package (n otherwise)"
		fi
	elif [ -n "$buildroot" ]; then
		expect "$sym is a Buildroot symbol" grep -qx "$sym" "$work/br-symbols"
	else
		expect "$sym is a known Buildroot symbol" grep -qx "$sym" <(printf '%s\n' "${known_br[@]}")
	fi
done
for sym in $mk_refs; do
	case $sym in BR2_PACKAGE_IIOUSBD*)
		expect "$sym (used by the .mk) is defined in Config.in" grep -qx "$sym" <<< "$defined" ;;
	esac
done
for sym in $defined; do
	[ "$sym" = BR2_PACKAGE_IIOUSBD ] && continue
	grep -qx "$sym" <<< "$choice_members" && [ "$sym" != BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER ] &&
		continue
	expect "$sym (defined in Config.in) is used by the .mk" grep -qx "$sym" <<< "$mk_refs"
done
# Every package the .mk depends on is selected or depended on by the Kconfig entry (the
# rule for Buildroot packages), for both sd-event providers.
deps_systemd=$(br IIOUSBD_DEPENDENCIES BR2_PACKAGE_SYSTEMD=y BR2_INIT_SYSTEMD=y)
deps_elogind=$(br IIOUSBD_DEPENDENCIES BR2_PACKAGE_ELOGIND=y BR2_INIT_BUSYBOX=y)
# shellcheck disable=SC2086 # (word lists)
for dep in $(printf '%s\n' $deps_systemd $deps_elogind | sort -u); do
	case $dep in host-*) continue ;; esac
	sym=BR2_PACKAGE_$(tr 'a-z-' 'A-Z_' <<< "$dep")
	expect "dependency $dep: $sym in Config.in's depends/select" \
		grep -Eq "^[[:space:]]*(depends on|select) .*\\b$sym\\b" "$kconfig"
	if [ -n "$buildroot" ] && ! printf '%s\n' "${user_provided[@]}" | grep -qx "$sym"; then
		expect "dependency $dep: package/$dep in $buildroot" test -d "$buildroot/package/$dep"
	fi
done

# ---------------------------------------------------------------------------------------
section "dependencies: what CMake looks for is in both recipes"
# pkg-config modules and find_package() packages of the installed components (not the
# tests) -> Buildroot package, OE recipe. SD_EVENT is ${IIOUSB_SD_EVENT_PKG}.
declare -A br_of=([libusb-1.0]=libusb [libusbgx]=libusbgx [SD_EVENT]="systemd elogind"
	[yaml-cpp]=yaml-cpp [libiio]=libiio [ZLIB]=zlib [Threads]=- [PkgConfig]=host-pkgconf)
declare -A oe_of=([libusb-1.0]=libusb1 [libusbgx]=libusbgx [SD_EVENT]=systemd
	[yaml-cpp]=yaml-cpp [libiio]=libiio [ZLIB]=zlib [Threads]=- [PkgConfig]=-)
cmake_files=("$src/CMakeLists.txt" "$src/daemon/CMakeLists.txt" "$src"/daemon/*/CMakeLists.txt
	"$src/tools/CMakeLists.txt")
modules=$(cat "${cmake_files[@]}" |
	sed -n -e 's/.*pkg_check_modules([A-Z_]* REQUIRED IMPORTED_TARGET \([^ )]*\).*/\1/p' \
		-e 's/.*find_package(\([A-Za-z]*\) REQUIRED).*/\1/p' |
	sed 's/^\${IIOUSB_SD_EVENT_PKG}$/SD_EVENT/' | sort -u)
oe_depends=" $(oe_expand "$(recipe_var DEPENDS || true)") "
for m in $modules; do
	if [ -z "${br_of[$m]+x}" ]; then
		bad "CMake needs $m: unknown to this check; add it to both recipes and to br_of/oe_of"
		continue
	fi
	for p in ${br_of[$m]}; do
		[ "$p" = - ] && continue
		expect "CMake $m -> Buildroot dependency $p" \
			grep -qw -- "$p" <<< "$deps_systemd $deps_elogind"
	done
	for p in ${oe_of[$m]}; do
		[ "$p" = - ] && continue
		expect "CMake $m -> Yocto DEPENDS $p" grep -q -- " $p " <<< "$oe_depends"
	done
done
if [ ${#oe_layers[@]} -gt 0 ]; then
	for dep in $oe_depends; do
		found=$(find "${oe_layers[@]}" -path '*/recipes-*' \( -name "${dep}_*.bb" -o -name "$dep.bb" \) |
			head -1)
		expect "Yocto DEPENDS $dep has a recipe in the given layers (${found#"${found%/*/*/*}"/})" \
			test -n "$found"
	done
fi

# ---------------------------------------------------------------------------------------
# configure_install NAME CMAKE-ARGS...: configure the project into $work/NAME/build as a
# recipe would, put the built (or stand-in) programs where the install step expects them,
# install into $work/NAME/dest, and list the files per component (daemon/, tools/) in
# $work/NAME/{daemon,tools}.files and all in $work/NAME/cmake.files.
configure_install() {
	local name=$1 dir=$work/$1
	shift
	mkdir -p "$dir"
	if ! cmake -S "$src" -B "$dir/build" "$@" > "$dir/configure.log" 2>&1; then
		bad "$name: cmake configure failed ($dir/configure.log):"
		tail -5 "$dir/configure.log"
		return 1
	fi
	local exe
	for exe in $(sed -n 's/.*TYPE EXECUTABLE FILES "\([^"]*\)".*/\1/p' \
		"$dir/build"/*/cmake_install.cmake); do
		case ${exe##*/} in
		iiousbd) [ -n "$daemon_bin" ] && cp "$daemon_bin" "$exe" ;;
		iiousb) [ -n "$tool_bin" ] && cp "$tool_bin" "$exe" ;;
		esac
		[ -e "$exe" ] || install -m 0755 /dev/null "$exe"
	done
	local comp
	for comp in daemon tools; do
		DESTDIR=$dir/$comp cmake -P "$dir/build/$comp/cmake_install.cmake" > /dev/null
		(cd "$dir/$comp" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) > "$dir/$comp.files"
	done
	if ! DESTDIR=$dir/dest cmake --install "$dir/build" > "$dir/install.log" 2>&1; then
		bad "$name: cmake --install failed ($dir/install.log)"
		return 1
	fi
	(cd "$dir/dest" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort) > "$dir/cmake.files"
	if sort -u "$dir/daemon.files" "$dir/tools.files" | diff -q - "$dir/cmake.files" > /dev/null; then
		ok "$name: CMake installs daemon/'s and tools/' files, nothing else"
	else
		bad "$name: CMake installs files from other directories than daemon/ and tools/:"
		sort -u "$dir/daemon.files" "$dir/tools.files" | diff - "$dir/cmake.files" | sed 's/^/       /'
	fi
}
# shvalue NAME FILE: the value of NAME=VALUE or NAME="VALUE" in a shell script.
shvalue() { sed -n "s/^$1=\"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p" "$2"; }
files_in() { (cd "$1" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort); }
# check_unit NAME ROOT UNIT: the unit's programs and configuration files exist in ROOT.
check_unit() {
	local name=$1 root=$2 unit=$3 word path
	for word in $(sed -n 's/^ExecStart\(Pre\)\{0,1\}=//p' "$root/$unit" | tr ' ' '\n' | sort -u); do
		case $word in
		/*) path=$word ;;
		*) continue ;;
		esac
		expect "$name: ${unit##*/} names $path, which is installed" test -e "$root$path"
	done
	local doc
	doc=$(sed -n 's|^Documentation=file://||p' "$root/$unit")
	if [ -n "$doc" ] && [ ! -e "$root$doc" ]; then
		note "$name: ${unit##*/}'s Documentation=file://$doc is not in the image"
	fi
}
check_config() {
	local name=$1 file=$2 want=$3
	expect "$name: /etc/iiousbd/iiousbd.yaml is config/$want.yaml" cmp -s "$file" "$src/config/$want.yaml"
	if [ -n "$daemon_bin" ]; then
		expect "$name: iiousbd --check-config accepts it" quiet "$daemon_bin" --check-config "$file"
	fi
}

# ---------------------------------------------------------------------------------------
# The Kconfig defaults of the string options (what a user gets without changing them).
kdefault() { awk -v s="$1" '$1 == "config" { c = $2 } c == s && $1 == "default" { print $2; exit }' "$kconfig"; }
default_config=$(kdefault BR2_PACKAGE_IIOUSBD_CONFIG)
default_takeover=$(kdefault BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER_SCRIPT)
# pkg-cmake.mk's arguments for a target package (less the tool chain file and generator).
br_cmake=(-DCMAKE_INSTALL_PREFIX=/usr -DCMAKE_INSTALL_RUNSTATEDIR=/run -DBUILD_DOC=OFF
	-DBUILD_DOCS=OFF -DBUILD_EXAMPLE=OFF -DBUILD_EXAMPLES=OFF -DBUILD_TEST=OFF -DBUILD_TESTS=OFF
	-DBUILD_TESTING=OFF -DBUILD_SHARED_LIBS=ON)
# The elogind variant's configure needs a libelogind.pc: a stand-in with libsystemd's
# flags (install paths do not depend on it; tests/packaging/build-elogind.sh builds
# against the real one).
mkdir -p "$work/pc"
cat > "$work/pc/libelogind.pc" << EOF
Name: libelogind
Description: packaging/check.sh stand-in (libsystemd's flags)
Version: 246
Libs: $(pkg-config --libs libsystemd)
Cflags: $(pkg-config --cflags libsystemd)
EOF

# buildroot_variant NAME INIT KCONFIG...: Buildroot with that init system and options.
buildroot_variant() {
	local name=$1 init=$2 dir=$work/$1
	shift 2
	local kv=("$@") conf_opts
	section "Buildroot, $name: ${kv[*]}"
	conf_opts=$(br IIOUSBD_CONF_OPTS "${kv[@]}")
	note "$name: IIOUSBD_CONF_OPTS = $conf_opts"
	# shellcheck disable=SC2086 # the options are words
	PKG_CONFIG_PATH=$work/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
		configure_install "$name" "${br_cmake[@]}" $conf_opts || return 0
	# The target: CMake's install, the .mk's init and post-install steps, then what
	# target-finalize removes (Makefile: usr/share/doc, usr/share/man, ...).
	cp -a "$dir/dest" "$dir/target"
	if ! make -s --no-print-directory -f "$work/br.mk" "${kv[@]}" TARGET_DIR="$dir/target" \
		"$site/install-hooks" > "$dir/hooks.log" 2>&1; then
		bad "$name: the .mk's install steps failed:"
		cat "$dir/hooks.log"
		return 0
	fi
	rm -rf "$dir/target/usr/share/doc" "$dir/target/usr/share/man"
	files_in "$dir/target" > "$dir/target.files"

	local tool=no sysv=no cfg=$default_config kvs=" ${kv[*]} "
	[[ $kvs == *" BR2_PACKAGE_IIOUSBD_HOST_TOOL=y "* ]] && tool=yes
	[ "$init" = systemd ] || sysv=yes
	[[ $kvs =~ \ BR2_PACKAGE_IIOUSBD_CONFIG=\"([a-z0-9]*)\"\  ]] && cfg=\"${BASH_REMATCH[1]}\"
	cfg=${cfg//\"/}
	# What should be there: CMake's files less the docs, less the tool without the
	# option, plus the init script and its settings with a SysV init.
	{
		grep -v -e '^usr/share/doc/' -e '^usr/share/man/' "$dir/daemon.files"
		[ $tool = yes ] && cat "$dir/tools.files"
		if [ $sysv = yes ]; then
			echo "etc/init.d/${initscript##*/}"
			echo etc/default/iiousbd
		fi
	} | sort > "$dir/expected.files"
	if diff -u "$dir/expected.files" "$dir/target.files" > "$dir/files.diff"; then
		ok "$name: the target has exactly the expected files ($(wc -l < "$dir/target.files"))"
	else
		bad "$name: target files differ from CMake's install (- expected, + in the target):"
		tail -n +3 "$dir/files.diff" | grep '^[-+]' | sed 's/^/       /'
	fi
	expect "$name: the daemon is /usr/sbin/iiousbd" test -x "$dir/target/usr/sbin/iiousbd"
	expect "$name: no /usr/etc" test ! -e "$dir/target/usr/etc"
	check_config "$name" "$dir/target/etc/iiousbd/iiousbd.yaml" "$cfg"
	local unit=usr/lib/systemd/system/iiousbd.service
	if [ $sysv = no ]; then
		expect "$name: the unit is /$unit" test -f "$dir/target/$unit"
		[ -f "$dir/target/$unit" ] && check_unit "$name" "$dir/target" "$unit"
		return 0
	fi
	expect "$name: no systemd unit" test ! -e "$dir/target/$unit"
	local script=$dir/target/etc/init.d/${initscript##*/} settings=$dir/target/etc/default/iiousbd
	expect "$name: the init script is executable" test -x "$script"
	local daemon exe config gadget takeover
	daemon=$(shvalue DAEMON "$script")
	exe=$(shvalue EXEC "$script")
	exe=${exe//\$DAEMON/$daemon}
	expect "$name: init script's EXEC=$exe is installed" test -x "$dir/target$exe"
	config=$(shvalue IIOUSBD_CONFIG "$settings")
	expect "$name: /etc/default/$daemon's IIOUSBD_CONFIG=$config is installed" \
		test -f "$dir/target$config"
	same "$name: init script's and settings' IIOUSBD_CONFIG" \
		"$(shvalue IIOUSBD_CONFIG "$script")" "$config"
	gadget=$(shvalue IIOUSBD_GADGET "$settings")
	takeover=$(shvalue IIOUSBD_TAKEOVER_SCRIPT "$settings")
	if [[ $kvs == *" BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER=y "* ]]; then
		same "$name: IIOUSBD_GADGET" "$gadget" takeover
		local want=${default_takeover//\"/}
		[[ $kvs =~ \ BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER_SCRIPT=\"([^\"]*)\"\  ]] &&
			want=${BASH_REMATCH[1]}
		same "$name: IIOUSBD_TAKEOVER_SCRIPT" "$takeover" "$want"
	else
		same "$name: IIOUSBD_GADGET" "$gadget" beside
	fi
}

[ $install = yes ] || note "--no-install: no configure, no install"
[ $install = no ] || buildroot_variant br-systemd systemd BR2_INIT_SYSTEMD=y BR2_PACKAGE_SYSTEMD=y \
	"BR2_PACKAGE_IIOUSBD_CONFIG=$default_config" BR2_PACKAGE_IIOUSBD_HOST_TOOL=y
[ $install = no ] || buildroot_variant br-busybox-takeover busybox BR2_INIT_BUSYBOX=y BR2_PACKAGE_ELOGIND=y \
	'BR2_PACKAGE_IIOUSBD_CONFIG="pluto"' BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER=y \
	"BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER_SCRIPT=$default_takeover"
[ $install = no ] || buildroot_variant br-busybox-beside busybox BR2_INIT_BUSYBOX=y BR2_PACKAGE_ELOGIND=y \
	"BR2_PACKAGE_IIOUSBD_CONFIG=$default_config" BR2_PACKAGE_IIOUSBD_SYSV_BESIDE=y

# ---------------------------------------------------------------------------------------
section "Yocto: conf/layer.conf"
lc=$layer/conf/layer.conf
coll=$(sed -n 's/^BBFILE_COLLECTIONS += "\([A-Za-z0-9_-]*\)"/\1/p' "$lc")
expect "BBFILE_COLLECTIONS ($coll)" test -n "$coll"
for v in BBFILE_PATTERN BBFILE_PRIORITY LAYERSERIES_COMPAT LAYERDEPENDS; do
	expect "${v}_$coll is set" grep -q "^${v}_$coll " "$lc"
done
expect "LAYERDEPENDS has openembedded-layer (meta-oe: libusbgx, yaml-cpp, libiio)" \
	grep -q "^LAYERDEPENDS_$coll = \".*openembedded-layer" "$lc"
bbfiles_glob=$(sed -n 's/^BBFILES += "\${LAYERDIR}\/\([^ "]*\.bb\) .*/\1/p' "$lc")
# shellcheck disable=SC2053,SC2254 # the glob is the point
case ${recipe#"$layer"/} in
$bbfiles_glob) ok "BBFILES ($bbfiles_glob) finds ${recipe#"$layer"/}" ;;
*) bad "BBFILES ($bbfiles_glob) does not find ${recipe#"$layer"/}" ;;
esac

# ---------------------------------------------------------------------------------------
section "Yocto: the recipe"
inherits=" $(sed -n 's/^inherit //p' "$recipe" | tr '\n' ' ') "
for c in cmake pkgconfig systemd; do
	expect "inherit $c" grep -q " $c " <<< "$inherits"
done
if grep -q " systemd " <<< "$oe_depends"; then
	expect "DEPENDS has systemd: inherit features_check" grep -q " features_check " <<< "$inherits"
	expect "DEPENDS has systemd: REQUIRED_DISTRO_FEATURES has systemd" \
		grep -qw systemd <<< "$(recipe_var REQUIRED_DISTRO_FEATURES || true)"
fi
pn=iiousbd
extra=$(oe_expand "$(recipe_var EXTRA_OECMAKE || true)")
# cmake.bbclass's directory arguments (OE's paths relative to the prefix, sysconfdir and
# localstatedir absolute), then the recipe's.
oe_cmake=(-DCMAKE_INSTALL_PREFIX:PATH=/usr -DCMAKE_INSTALL_BINDIR:PATH=bin
	-DCMAKE_INSTALL_SBINDIR:PATH=sbin -DCMAKE_INSTALL_LIBEXECDIR:PATH=libexec
	-DCMAKE_INSTALL_SYSCONFDIR:PATH=/etc -DCMAKE_INSTALL_SHAREDSTATEDIR:PATH=../com
	-DCMAKE_INSTALL_LOCALSTATEDIR:PATH=/var -DCMAKE_INSTALL_LIBDIR:PATH=lib
	-DCMAKE_INSTALL_INCLUDEDIR:PATH=include -DCMAKE_INSTALL_DATAROOTDIR:PATH=share
	-DCMAKE_INSTALL_SO_NO_EXE=0)
note "yocto: EXTRA_OECMAKE = $extra"
# shellcheck disable=SC2086
if [ $install = yes ] && configure_install yocto "${oe_cmake[@]}" $extra; then
	d=$work/yocto/dest
	# do_install:append, expanded, run with sh.
	awk '/^do_install:append\(\) *\{/ { on = 1; next } on && /^\}/ { on = 0 } on' "$recipe" > "$work/yocto/append.raw"
	oe_expand "$(cat "$work/yocto/append.raw")" |
		sed -e "s|\${S}|$src|g" -e "s|\${D}|$d|g" > "$work/yocto/append.sh"
	if sh -e "$work/yocto/append.sh" > "$work/yocto/append.log" 2>&1; then
		ok "yocto: do_install:append runs"
	else
		bad "yocto: do_install:append failed:"
		cat "$work/yocto/append.log"
	fi
	files_in "$d" > "$work/yocto/image.files"
	# PACKAGES (bitbake.conf's list with the recipe's =+ / += applied) and their FILES
	# (bitbake.conf's defaults unless the recipe sets them).
	default_packages='${PN}-src ${PN}-dbg ${PN}-staticdev ${PN}-dev ${PN}-doc ${PN}-locale ${PN}'
	packages=$(oe_expand "$(awk -F'\t' '$1 == "PACKAGES" { print $2 }' "$work/recipe.vars")")
	prepend=$(sed -n 's/^PACKAGES =+ "\(.*\)"/\1/p' "$recipe")
	append=$(sed -n 's/^PACKAGES += "\(.*\)"/\1/p' "$recipe")
	packages=$(oe_expand "$prepend $default_packages $append")
	declare -A files_of=(
		[$pn]='${bindir}/* ${sbindir}/* ${libexecdir}/* ${libdir}/lib*${SOLIBS} ${sysconfdir} ${sharedstatedir} ${localstatedir} ${base_bindir}/* ${base_sbindir}/* ${base_libdir}/*${SOLIBS} ${base_prefix}/lib/udev ${prefix}/lib/udev ${base_libdir}/udev ${libdir}/udev ${datadir}/${BPN} ${libdir}/${BPN}/* ${datadir}/pixmaps ${datadir}/applications ${datadir}/idl ${datadir}/omf ${datadir}/sounds ${libdir}/bonobo/servers'
		[$pn-doc]='${docdir} ${mandir} ${infodir} ${datadir}/gtk-doc ${datadir}/gnome/help'
		[$pn-dev]='${includedir} ${base_libdir}/lib*${SOLIBSDEV} ${libdir}/lib*${SOLIBSDEV} ${libdir}/*.la ${libdir}/*.o ${libdir}/pkgconfig ${datadir}/pkgconfig ${datadir}/aclocal ${base_libdir}/*.o ${libdir}/${BPN}/*.la ${base_libdir}/*.la'
		[$pn-staticdev]='${libdir}/*.a ${base_libdir}/*.a ${libdir}/${BPN}/*.a'
		[$pn-locale]='${datadir}/locale'
		[$pn-src]='/usr/src/debug'
		[$pn-dbg]='/usr/lib/debug /usr/src/debug'
	)
	explicit=()
	while IFS=$'\t' read -r var value; do
		case $var in
		FILES:*)
			p=$(oe_expand "${var#FILES:}")
			files_of[$p]=$value
			explicit+=("$p")
			;;
		esac
	done < "$work/recipe.vars"
	for p in $packages; do
		files_of[$p]=$(oe_expand "${files_of[$p]:-}")
		files_of[$p]=${files_of[$p]//\$\{base_prefix\}/}
	done
	# claim FILE: the first package (in PACKAGES order) with a FILES entry that is the
	# file, a directory above it, or a glob matching it.
	claim() {
		local f=/$1 p e
		for p in $packages; do
			for e in ${files_of[$p]}; do
				# shellcheck disable=SC2254
				case $f in
				"$e" | "$e"/*) echo "$p"; return ;;
				$e) echo "$p"; return ;;
				esac
			done
		done
		echo "-"
	}
	: > "$work/yocto/packaged"
	while read -r f; do
		printf '%s\t%s\n' "$(claim "$f")" "$f" >> "$work/yocto/packaged"
	done < "$work/yocto/image.files"
	note "yocto: the package split:"
	sed 's/^/       /' "$work/yocto/packaged"
	unshipped=$(awk -F'\t' '$1 == "-" { print $2 }' "$work/yocto/packaged")
	if [ -z "$unshipped" ]; then
		ok "yocto: every installed file is in a package (no installed-vs-shipped)"
	else
		bad "yocto: installed but not shipped in any package: ${unshipped//$'\n'/ }"
	fi
	for p in "${explicit[@]}"; do
		for e in ${files_of[$p]}; do
			n=$(awk -F'\t' -v p="$p" -v e="${e#/}" '$1 == p && ($2 == e || index($2, e "/") == 1) { n++ } END { print n + 0 }' \
				"$work/yocto/packaged")
			if [ "$n" = 0 ]; then
				# a glob
				n=$(while IFS=$'\t' read -r q f; do
					[ "$q" = "$p" ] || continue
					# shellcheck disable=SC2254
					case /$f in $e) echo x ;; esac
				done < "$work/yocto/packaged" | wc -l)
			fi
			expect "yocto: FILES:$p entry $e matches installed files ($n)" test "$n" -gt 0
		done
	done
	in_package() { grep -qxF "$1	$2" "$work/yocto/packaged"; }
	for f in $(cat "$work/yocto/tools.files"); do
		expect "yocto: tool file /$f is in package iiousb" in_package iiousb "$f"
	done
	for f in $(grep -v '^usr/share/doc/' "$work/yocto/daemon.files"); do
		expect "yocto: daemon file /$f is in package $pn" in_package "$pn" "$f"
	done
	n=0
	for f in $(grep '^usr/share/doc/' "$work/yocto/daemon.files"); do
		in_package "$pn-doc" "$f" || { bad "yocto: /$f is not in $pn-doc"; n=$((n + 1)); }
	done
	[ "$n" != 0 ] || ok "yocto: the docs and examples are in $pn-doc"
	for f in $(oe_expand "$(recipe_var "CONFFILES:\${PN}" || true)"); do
		expect "yocto: CONFFILES $f is in $pn" in_package "$pn" "${f#/}"
	done
	check_config yocto "$d/etc/iiousbd/iiousbd.yaml" "$(oe_expand '${IIOUSB_CONFIG}')"
	unitdir=$(oe_expand '${systemd_system_unitdir}')
	for u in $(recipe_var "SYSTEMD_SERVICE:\${PN}" || true); do
		expect "yocto: SYSTEMD_SERVICE $u is installed in $unitdir and in $pn" \
			in_package "$pn" "${unitdir#/}/$u"
		[ -f "$d$unitdir/$u" ] && check_unit yocto "$d" "${unitdir#/}/$u"
	done
fi

echo
if [ "$failed" -ne 0 ]; then
	echo "packaging/check: $failed of $checks checks FAILED"
	exit 1
fi
echo "packaging/check: all $checks checks passed"

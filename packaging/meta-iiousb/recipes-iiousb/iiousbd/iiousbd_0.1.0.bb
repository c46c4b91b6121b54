SUMMARY = "Zero-copy IIO to USB streaming gadget daemon"
DESCRIPTION = "iiousbd streams Linux IIO devices over a USB gadget (FunctionFS), sharing \
DMABUFs between the IIO buffer and the USB endpoint where the kernel allows it, and \
serves libiio clients on a second interface. The iiousb package is the host tool."
SECTION = "net"
# The project states no license for the daemon and the tool (debian/copyright): CLOSED
# until it does.
LICENSE = "CLOSED"

# The layer sits in the source tree: build the checkout IIOUSB_SRCDIR names
# (conf/layer.conf). For a release, replace this with SRC_URI and SRCREV.
inherit externalsrc
EXTERNALSRC = "${IIOUSB_SRCDIR}"
# (externalsrc would otherwise put oe-workdir and oe-logs links into the checkout.)
EXTERNALSRC_SYMLINKS = ""

inherit cmake pkgconfig systemd features_check

# libsystemd (sd-event, sd-daemon, sd-journal): OE-core builds it only for systemd distros.
REQUIRED_DISTRO_FEATURES = "systemd"
DEPENDS = "libusbgx yaml-cpp systemd libiio zlib libusb1"

# No QEMU test rig, no unit tests, no -Werror. The unit and the udev rule where this
# distro keeps them.
EXTRA_OECMAKE = "-DIIOUSB_VM_TESTS=OFF -DBUILD_TESTING=OFF -DIIOUSB_WERROR=OFF \
                 -DIIOUSB_SD_EVENT_PKG=libsystemd \
                 -DIIOUSB_SYSTEMD_UNIT_DIR=${systemd_system_unitdir} \
                 -DIIOUSB_UDEV_RULES_DIR=${nonarch_base_libdir}/udev/rules.d"

# Which of the project's config/*.yaml is installed as /etc/iiousbd/iiousbd.yaml:
# iiousbd (simulated devices), pluto or zcu102. A bbappend can set it, or install its own.
IIOUSB_CONFIG ?= "iiousbd"

do_install:append() {
    install -m 0644 ${S}/config/${IIOUSB_CONFIG}.yaml ${D}${sysconfdir}/iiousbd/iiousbd.yaml
}

# The host tool and its udev rule in their own package (Debian's split too); the daemon,
# its configuration and its unit in ${PN}; the docs and example configurations in -doc.
PACKAGES =+ "iiousb"
SUMMARY:iiousb = "Host tool for iiousb USB gadgets"
FILES:iiousb = "${bindir}/iiousb ${nonarch_base_libdir}/udev/rules.d/60-iiousb.rules"
FILES:${PN} = "${sbindir}/iiousbd ${sysconfdir}/iiousbd ${systemd_system_unitdir}/iiousbd.service"

CONFFILES:${PN} = "${sysconfdir}/iiousbd/iiousbd.yaml"
SYSTEMD_SERVICE:${PN} = "iiousbd.service"

################################################################################
#
# iiousbd
#
################################################################################

# The project's version (CMakeLists.txt project(VERSION); packaging/check.sh compares).
IIOUSBD_VERSION = 0.1.0
# The source is the checkout this tree sits in (packaging/buildroot/): the local site
# method copies it into the build directory, so there is nothing to download and no
# hash file to check it against. Build directories made inside the checkout are not
# copied.
IIOUSBD_SITE = $(BR2_EXTERNAL_IIOUSB_PATH)/../..
IIOUSBD_SITE_METHOD = local
IIOUSBD_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /build --exclude '/build-*' --exclude '/obj-*'
# No license is stated for the daemon and the tool (debian/copyright says which files
# have one).
IIOUSBD_LICENSE = not stated
IIOUSBD_LICENSE_FILES = debian/copyright
IIOUSBD_SUPPORTS_IN_SOURCE_BUILD = NO
IIOUSBD_DEPENDENCIES = host-pkgconf libusbgx yaml-cpp libiio zlib libusb
# No QEMU test rig, no -Werror (a packager's compiler is not the developers'). Buildroot
# passes -DBUILD_TESTING=OFF itself.
IIOUSBD_CONF_OPTS = -DIIOUSB_VM_TESTS=OFF -DIIOUSB_WERROR=OFF

ifeq ($(BR2_PACKAGE_SYSTEMD),y)
IIOUSBD_DEPENDENCIES += systemd
IIOUSBD_CONF_OPTS += -DIIOUSB_SD_EVENT_PKG=libsystemd
else
IIOUSBD_DEPENDENCIES += elogind
IIOUSBD_CONF_OPTS += -DIIOUSB_SD_EVENT_PKG=libelogind
endif

# The unit is installed by CMake (with the daemon's and the config's paths filled in) when
# systemd is init; Buildroot's "systemctl preset-all" enables it. Otherwise no unit, and
# IIOUSBD_INSTALL_INIT_SYSV below.
ifeq ($(BR2_INIT_SYSTEMD),y)
IIOUSBD_CONF_OPTS += -DIIOUSB_SYSTEMD_UNIT_DIR=/usr/lib/systemd/system
else
IIOUSBD_CONF_OPTS += -DIIOUSB_SYSTEMD_UNIT_DIR=
endif

# The chosen config/NAME.yaml as /etc/iiousbd/iiousbd.yaml (CMake installs the default one
# there; examples go to /usr/share/doc, which Buildroot removes from the target).
IIOUSBD_CONFIG_NAME = $(call qstrip,$(BR2_PACKAGE_IIOUSBD_CONFIG))
define IIOUSBD_INSTALL_CONFIG
	$(INSTALL) -D -m 0644 $(@D)/config/$(IIOUSBD_CONFIG_NAME).yaml \
		$(TARGET_DIR)/etc/iiousbd/iiousbd.yaml
endef
IIOUSBD_POST_INSTALL_TARGET_HOOKS += IIOUSBD_INSTALL_CONFIG

ifneq ($(BR2_PACKAGE_IIOUSBD_HOST_TOOL),y)
define IIOUSBD_REMOVE_HOST_TOOL
	rm -f $(TARGET_DIR)/usr/bin/iiousb $(TARGET_DIR)/usr/lib/udev/rules.d/60-iiousb.rules
endef
IIOUSBD_POST_INSTALL_TARGET_HOOKS += IIOUSBD_REMOVE_HOST_TOOL
endif

ifeq ($(BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER),y)
IIOUSBD_SYSV_GADGET = takeover
else
IIOUSBD_SYSV_GADGET = beside
endif
IIOUSBD_SYSV_TAKEOVER_SCRIPT = $(call qstrip,$(BR2_PACKAGE_IIOUSBD_SYSV_TAKEOVER_SCRIPT))

# BusyBox init, sysvinit and (through its SysV compatibility) OpenRC.
define IIOUSBD_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(IIOUSBD_PKGDIR)/S95iiousbd $(TARGET_DIR)/etc/init.d/S95iiousbd
	$(INSTALL) -D -m 0644 $(IIOUSBD_PKGDIR)/iiousbd.default $(TARGET_DIR)/etc/default/iiousbd
	$(SED) 's|^IIOUSBD_GADGET=.*|IIOUSBD_GADGET="$(IIOUSBD_SYSV_GADGET)"|' \
		$(TARGET_DIR)/etc/default/iiousbd
	$(if $(IIOUSBD_SYSV_TAKEOVER_SCRIPT), \
		$(SED) 's|^IIOUSBD_TAKEOVER_SCRIPT=.*|IIOUSBD_TAKEOVER_SCRIPT="$(IIOUSBD_SYSV_TAKEOVER_SCRIPT)"|' \
			$(TARGET_DIR)/etc/default/iiousbd)
endef

$(eval $(cmake-package))

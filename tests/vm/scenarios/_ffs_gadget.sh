# Sourced by the FunctionFS scenarios (not a scenario itself): a configfs
# gadget with one FunctionFS function, as the test programs in tests/vm/progs
# expect it (VID:PID 1d6b:0104, functionfs mounted at $FFS_DIR).
# Needs /lib/iiousb/functions.sh (log, die) and load_udc first.

FFS_GADGET=/sys/kernel/config/usb_gadget/iiousb_test
FFS_DIR=/dev/ffs-test

ffs_gadget_create() {
	g=$FFS_GADGET
	mkdir "$g" || die "mkdir $g"
	echo 0x1d6b > "$g/idVendor"
	echo 0x0104 > "$g/idProduct"
	mkdir "$g/strings/0x409"
	echo iiousb > "$g/strings/0x409/manufacturer"
	echo "iiousb test gadget" > "$g/strings/0x409/product"
	echo 0001 > "$g/strings/0x409/serialnumber"
	mkdir "$g/configs/c.1"
	mkdir "$g/functions/ffs.test" || die "mkdir $g/functions/ffs.test"
	ln -s "$g/functions/ffs.test" "$g/configs/c.1/" || die "link ffs.test into c.1"
	mkdir -p "$FFS_DIR"
	mount -t functionfs test "$FFS_DIR" || die "mount -t functionfs test $FFS_DIR"
}

# ffs_wait_file FILE SECONDS: wait for a test program to create FILE.
ffs_wait_file() {
	n=0
	while [ ! -e "$1" ]; do
		n=$((n + 1))
		[ $n -le $(($2 * 10)) ] || return 1
		sleep 0.1
	done
}

# Bind the gadget to the UDC once the program has written its descriptors
# (it creates READY_FILE then).
ffs_gadget_bind() {
	ffs_wait_file "$1" 30 || die "the gadget program did not write its descriptors"
	echo "$(ls /sys/class/udc | head -n 1)" > "$FFS_GADGET/UDC" || die "binding the UDC"
	log "gadget bound to $(cat "$FFS_GADGET/UDC")"
}

# ffs_wait_gadget PID LOG: wait for the gadget program, show its output, return its status.
ffs_wait_gadget() {
	wait "$1"
	rc=$?
	sed 's/^/  gadget| /' "$2"
	return $rc
}

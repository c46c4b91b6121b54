#!/usr/bin/python3
"""A libiio client in Python (Debian's python3-libiio 0.24, the bindings pyadi-iio is built
on) against iiousbd's libiio interface, as tests/vm/scenarios/libiio_python.sh runs it:

  libiio_py.py attrs               the context's devices; sampling_frequency of the ADC read,
                                   written, read back, restored
  libiio_py.py rx SAMPLES BUFFERS  BUFFERS refills of SAMPLES sample sets of the ADC (all scan
                                   channels) written to stdout
  libiio_py.py tx FILE SAMPLES     FILE pushed to the DAC in buffers of SAMPLES sample sets
  libiio_py.py cyclic FILE SECONDS FILE pushed once to a cyclic DAC buffer (pyadi-iio's
                                   tx_cyclic_buffer), kept SECONDS, then destroyed
Exit status 0, or 1 with the reason on stderr.
"""
import sys
import time

import iio


def fail(msg):
    print("libiio_py: " + msg, file=sys.stderr)
    sys.exit(1)


def device(ctx, name):
    dev = ctx.find_device(name)
    if dev is None:
        fail("no device %s in the context (%s)" % (name, ", ".join(d.name or d.id for d in ctx.devices)))
    return dev


def enable_all(dev, output):
    chans = [c for c in dev.channels if c.scan_element and c.output == output]
    if not chans:
        fail("%s has no scan channels" % dev.name)
    for c in chans:
        c.enabled = True
    return chans


def attrs(ctx):
    names = sorted(d.name or d.id for d in ctx.devices)
    print("devices: " + " ".join(names))
    adc = device(ctx, "iio-sim-adc")
    attr = adc.attrs["sampling_frequency"]
    old = attr.value
    attr.value = "500000"
    new = adc.attrs["sampling_frequency"].value
    attr.value = old
    print("sampling_frequency: %s -> %s -> %s" % (old, new, adc.attrs["sampling_frequency"].value))
    if new != "500000":
        fail("sampling_frequency read back %s after writing 500000" % new)


def rx(ctx, samples, buffers):
    adc = device(ctx, "iio-sim-adc")
    chans = enable_all(adc, False)
    buf = iio.Buffer(adc, samples)
    out = sys.stdout.buffer
    total = 0
    for _ in range(buffers):
        buf.refill()
        data = buf.read()
        out.write(data)
        total += len(data)
    out.flush()
    del buf
    print("rx: %d bytes in %d buffers of %d sample sets, %d channels" % (total, buffers, samples, len(chans)),
          file=sys.stderr)


def tx(ctx, path, samples):
    dac = device(ctx, "iio-sim-dac")
    enable_all(dac, True)
    buf = iio.Buffer(dac, samples)
    size = samples * dac.sample_size
    with open(path, "rb") as f:
        data = f.read()
    if len(data) % size:
        fail("%s: %d bytes, not whole buffers of %d" % (path, len(data), size))
    for at in range(0, len(data), size):
        if buf.write(bytearray(data[at:at + size])) != size:
            fail("short buffer write")
        buf.push()
    del buf
    print("tx: %d bytes in buffers of %d bytes" % (len(data), size), file=sys.stderr)


def cyclic(ctx, path, seconds):
    dac = device(ctx, "iio-sim-dac")
    enable_all(dac, True)
    with open(path, "rb") as f:
        data = f.read()
    buf = iio.Buffer(dac, len(data) // dac.sample_size, cyclic=True)
    buf.write(bytearray(data))
    buf.push()
    time.sleep(seconds)
    del buf
    print("cyclic: %d bytes pushed once, kept %g s" % (len(data), seconds), file=sys.stderr)


def main():
    if len(sys.argv) < 2:
        fail("usage: libiio_py.py attrs|rx|tx|cyclic ...")
    ctx = iio.Context("usb:")
    cmd = sys.argv[1]
    try:
        if cmd == "attrs":
            attrs(ctx)
        elif cmd == "rx":
            rx(ctx, int(sys.argv[2]), int(sys.argv[3]))
        elif cmd == "tx":
            tx(ctx, sys.argv[2], int(sys.argv[3]))
        elif cmd == "cyclic":
            cyclic(ctx, sys.argv[2], float(sys.argv[3]))
        else:
            fail("unknown command " + cmd)
    except OSError as e:
        fail("%s: %s" % (cmd, e))


main()

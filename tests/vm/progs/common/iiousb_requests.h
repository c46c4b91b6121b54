/*
 * The iiousb vendor interface as docs/protocol.md defines it, for the guest programs that
 * speak it over libusb (daemon_probe, ep0_fault, tx_short): interface class triple and
 * control request codes.
 *
 * Header-only: every guest program is built from its own .c file.
 */
#ifndef IIOUSB_REQUESTS_H
#define IIOUSB_REQUESTS_H

#define IIOUSB_CLASS 0xff
#define IIOUSB_SUBCLASS 0x49
#define IIOUSB_PROTOCOL 0x01

#define REQ_GET_INFO 0x01
#define REQ_START 0x02
#define REQ_STOP 0x03
#define REQ_GET_STATS 0x04
#define REQ_START_CYCLIC 0x05

#endif

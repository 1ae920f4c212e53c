/* SPDX-License-Identifier: MIT */
/*
 * The provisioned secrets' layout in a device's EEPROM (AVR) or flash page
 * (Cortex-M): what src/device/provision.py writes and the firmware reads.
 * All multi-byte numbers are little-endian.
 *
 *   offset size
 *        0    4  magic "SIOT"
 *        4    1  layout version, 2
 *        5    1  key length, 16 .. 64
 *        6    4  unused (version 1's boot counter, which a reset in the
 *                middle of its write could take back)
 *       10   32  the DRBG's seed: secret, random, one per device
 *       42   64  client 0's key (key length bytes used)
 *      106   33  client 0's id, NUL-terminated
 *      139   33  the device id, NUL-terminated
 *      172    1  profile: 0 v1, 1 classic
 *      173    1  wake-up length, 1 .. 255
 *      174    2  the per-HELLO timeout in ms (0: 5000)
 *      176   32  the dummy key unknown client ids are scanned with: random
 *      208    8  boot counter, copy A: the count, then its complement
 *      216    8  boot counter, copy B: the same
 *      224    1  network block present: 1 (erased, 0xFF: none; a board on
 *                a serial line never reads it)
 *      225    6  MAC address
 *      231    4  IPv4 address, in network order (as are the next two)
 *      235    4  netmask
 *      239    4  gateway (0.0.0.0: none)
 *      243    2  TCP port
 *      245       end
 *
 * The firmware checks the version byte and serves nothing from an image
 * of another layout.
 * The boot counter is incremented before the first challenge after every
 * reset (PROTOCOL.md, "Serial lines").  A copy is valid when its complement
 * matches; the count is the larger valid one, and the next is written over
 * the other copy.  A reset in the middle of that write leaves that copy
 * invalid and the other one as it was, so the counter never goes back, and
 * the count that was being written was never used to seed the DRBG.
 */
#ifndef SIOT_PROVISION_H
#define SIOT_PROVISION_H

#define PROV_MAGIC "SIOT"
#define PROV_VERSION 2
#define PROV_OFF_VERSION 4
#define PROV_OFF_KEY_LEN 5
#define PROV_OFF_SEED 10
#define PROV_SEED_LEN 32
#define PROV_OFF_KEY 42
#define PROV_OFF_CLIENT_ID 106
#define PROV_OFF_DEVICE_ID 139
#define PROV_ID_SIZE 33
#define PROV_OFF_PROFILE 172
#define PROV_OFF_WAKEUP 173
#define PROV_OFF_TIMEOUT 174
#define PROV_OFF_DUMMY 176
#define PROV_DUMMY_LEN 32
#define PROV_OFF_BOOT_A 208
#define PROV_OFF_BOOT_B 216
#define PROV_BOOT_COPY 8
#define PROV_OFF_NET 224
#define PROV_OFF_MAC 225
#define PROV_OFF_IP 231
#define PROV_OFF_NETMASK 235
#define PROV_OFF_GATEWAY 239
#define PROV_OFF_PORT 243
#define PROV_SIZE 245

#include <stddef.h>
#include <stdint.h>

#include "siot_device.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What every board does with this layout (provision.c); the board gives a
 * reader of its EEPROM or flash page: len bytes at offset into out. */
typedef void (*prov_read_fn)(uint16_t offset, void *out, size_t len);

/* Check the magic and version and fill the timeout and the parameters
 * (the ids stay where they are: prov_id, as the board's id hook).  0, or -1
 * for a device not provisioned (or provisioned with values out of range). */
int prov_config(prov_read_fn read, struct siot_dev_config *cfg);

/* A board on a network: its settings from the network block. */
struct prov_network {
	uint8_t mac[6];
	uint8_t ip[4], netmask[4], gateway[4]; /* network order */
	uint16_t port;
};

/* The network block into *net: 0, or -1 when the image has none or its
 * values cannot serve (a multicast or zero MAC, a zero address, a netmask
 * that is not a prefix, port 0). */
int prov_network(prov_read_fn read, struct prov_network *net);

/* The device id (SIOT_DEV_DEVICE_ID) or client 0's id into buf
 * (PROV_ID_SIZE), NUL-terminated; empty for another client.  What a
 * siot_dev_board.id does. */
void prov_id(prov_read_fn read, uint8_t which, char *buf);

/* Client 0's key, or the dummy key for SIOT_DEV_DUMMY_KEY, into *key; the
 * raw bytes are wiped.  A siot_dev_board.load_key. */
int prov_load_key(prov_read_fn read, uint8_t client, struct siot_key *key);

/* A board's writer of its EEPROM or counter page: len bytes at offset. */
typedef void (*prov_write_fn)(uint16_t offset, const void *in, size_t len);

/* The next boot count: read from the two copies, written over the older
 * (or torn) one and read back, into *boot.  0, or -1 when neither copy is
 * valid (not provisioned), the count is exhausted or the write did not
 * read back.  read and write address PROV_OFF_BOOT_A .. PROV_SIZE. */
int prov_boot_next(prov_read_fn read, prov_write_fn write, uint32_t *boot);

/* Seed the DRBG with the provisioned seed, personalised with boot, the boot
 * counter the board has already incremented and stored; then mix in
 * entropy[0..n) (n may be 0).  0, or < 0. */
int prov_seed_drbg(prov_read_fn read, uint32_t boot, const uint8_t *entropy, size_t n);

#ifdef __cplusplus
}
#endif

#endif

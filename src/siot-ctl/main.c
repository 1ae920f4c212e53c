/* SPDX-License-Identifier: MIT */
/*
 * siot-ctl: send commands to a siot device, make keys, check the client
 * configuration.  See siot-ctl(1).
 */
#include <stdio.h>

#include "commands.h"
#include "options.h"
#include "siot.h"

int main(int argc, char **argv)
{
	struct options o;
	int r = options_parse(argc, argv, &o);

	if (r >= 0)
		return r;
	if (siot_init() < 0) {
		fprintf(stderr, "siot-ctl: libsodium cannot start\n");
		return 5;
	}
	switch (o.sub) {
	case SUB_KEYGEN:
		return cmd_keygen(o.keygen_out);
	case SUB_CHECK:
		return cmd_check(&o);
	case SUB_FINGERPRINT:
		return cmd_fingerprint(&o);
	case SUB_ENROLL:
		return cmd_enroll(&o);
	case SUB_SEND:
		return cmd_send(&o);
	}
	return 64;
}

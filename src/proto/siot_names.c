/* SPDX-License-Identifier: MIT */
/*
 * libsiot: names of the protocol's values, for messages and settings.  In a
 * file of its own so that a firmware image, which prints nothing, does not
 * carry these strings (on an AVR they would sit in RAM).
 */
#include "siot.h"
#include "crypto.h"

#include <string.h>

const char *siot_hash_name(enum siot_hash hash)
{
	switch (hash) {
	case SIOT_HASH_SHA256:
		return "sha256";
	case SIOT_HASH_SHA512:
		return "sha512";
	}
	return "unknown";
}

const char *siot_profile_name(enum siot_profile profile)
{
	switch (profile) {
	case SIOT_PROFILE_V1:
		return "v1";
	case SIOT_PROFILE_CLASSIC:
		return "classic";
	}
	return "unknown";
}

const char *siot_status_name(unsigned status)
{
	static const char *const names[] = { "ok", "failed", "rejected", "busy", "timeout", "error" };
	return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown";
}

int siot_hash_from_name(const char *name, enum siot_hash *out)
{
	if (strcmp(name, "sha256") == 0)
		*out = SIOT_HASH_SHA256;
	else if (strcmp(name, "sha512") == 0)
		*out = SIOT_HASH_SHA512;
	else
		return -EINVAL;
	return 0;
}

int siot_profile_from_name(const char *name, enum siot_profile *out)
{
	if (strcmp(name, "v1") == 0)
		*out = SIOT_PROFILE_V1;
	else if (strcmp(name, "classic") == 0)
		*out = SIOT_PROFILE_CLASSIC;
	else
		return -EINVAL;
	return 0;
}

const char *siot_reason_str(enum siot_reason reason)
{
	switch (reason) {
	case SIOT_REASON_NONE:
		return "no error";
	case SIOT_REASON_ID_LENGTH:
		return "client id length out of range (1..32)";
	case SIOT_REASON_MAGIC:
		return "wrong magic (not a siot v1 peer)";
	case SIOT_REASON_VERSION:
		return "unsupported protocol version";
	case SIOT_REASON_HASH:
		return "hash mismatch";
	case SIOT_REASON_TAG_LENGTH:
		return "tag length mismatch";
	case SIOT_REASON_CHALLENGE_LENGTH:
		return "challenge length mismatch";
	case SIOT_REASON_DEVICE_ID:
		return "invalid device id";
	case SIOT_REASON_OUTPUT_LENGTH:
		return "output length over the limit";
	case SIOT_REASON_STATE:
		return "call out of order";
	}
	return "unknown reason";
}

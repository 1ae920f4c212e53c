/* SPDX-License-Identifier: MIT */
/*
 * libmosquitto, loaded only when it is used: by siot-ctl -M, and by siotd
 * with mqtt = { ... }.  Linked in, it (and the OpenSSL and c-ares it
 * brings) cost every siot-ctl run about 2 ms of start-up, more than the
 * whole bare exchange (README, "Performance"), and every siotd 1.8 MB of
 * memory; most never use it.  The callers use the functions by their own
 * names: this header maps them to pointers that mosq_dl_load() fills with
 * dlsym().
 */
#ifndef SIOT_CTL_MOSQ_DL_H
#define SIOT_CTL_MOSQ_DL_H

#include <stddef.h>

#include <mosquitto.h>

#define MOSQ_DL_FUNCTIONS(X)                                                                    \
	X(mosquitto_connect_bind_v5)                                                            \
	X(mosquitto_connect_v5_callback_set)                                                    \
	X(mosquitto_destroy)                                                                    \
	X(mosquitto_disconnect_v5)                                                              \
	X(mosquitto_disconnect_v5_callback_set)                                                 \
	X(mosquitto_int_option)                                                                 \
	X(mosquitto_lib_cleanup)                                                                \
	X(mosquitto_lib_init)                                                                   \
	X(mosquitto_loop)                                                                       \
	X(mosquitto_loop_forever)                                                               \
	X(mosquitto_message_v5_callback_set)                                                    \
	X(mosquitto_new)                                                                        \
	X(mosquitto_property_add_binary)                                                        \
	X(mosquitto_property_add_int32)                                                         \
	X(mosquitto_property_add_string)                                                        \
	X(mosquitto_property_free_all)                                                          \
	X(mosquitto_property_read_binary)                                                       \
	X(mosquitto_property_read_string)                                                       \
	X(mosquitto_publish_v5)                                                                 \
	X(mosquitto_publish_v5_callback_set)                                                    \
	X(mosquitto_reason_string)                                                              \
	X(mosquitto_strerror)                                                                   \
	X(mosquitto_subscribe_v5)                                                               \
	X(mosquitto_subscribe_v5_callback_set)                                                  \
	X(mosquitto_threaded_set)                                                               \
	X(mosquitto_tls_set)                                                                    \
	X(mosquitto_unsubscribe_v5)                                                             \
	X(mosquitto_username_pw_set)                                                            \
	X(mosquitto_want_write)

#define MOSQ_DL_DECLARE(f) extern __typeof__(f) *mosq_dl_##f;
MOSQ_DL_FUNCTIONS(MOSQ_DL_DECLARE)
#undef MOSQ_DL_DECLARE

/* The library, once: 0, or -1 with the reason in err. */
int mosq_dl_load(char *err, size_t errlen);

#ifndef MOSQ_DL_IMPLEMENTATION
#define mosquitto_connect_bind_v5 mosq_dl_mosquitto_connect_bind_v5
#define mosquitto_connect_v5_callback_set mosq_dl_mosquitto_connect_v5_callback_set
#define mosquitto_destroy mosq_dl_mosquitto_destroy
#define mosquitto_disconnect_v5 mosq_dl_mosquitto_disconnect_v5
#define mosquitto_disconnect_v5_callback_set mosq_dl_mosquitto_disconnect_v5_callback_set
#define mosquitto_int_option mosq_dl_mosquitto_int_option
#define mosquitto_lib_cleanup mosq_dl_mosquitto_lib_cleanup
#define mosquitto_lib_init mosq_dl_mosquitto_lib_init
#define mosquitto_loop mosq_dl_mosquitto_loop
#define mosquitto_loop_forever mosq_dl_mosquitto_loop_forever
#define mosquitto_message_v5_callback_set mosq_dl_mosquitto_message_v5_callback_set
#define mosquitto_new mosq_dl_mosquitto_new
#define mosquitto_property_add_binary mosq_dl_mosquitto_property_add_binary
#define mosquitto_property_add_int32 mosq_dl_mosquitto_property_add_int32
#define mosquitto_property_add_string mosq_dl_mosquitto_property_add_string
#define mosquitto_property_free_all mosq_dl_mosquitto_property_free_all
#define mosquitto_property_read_binary mosq_dl_mosquitto_property_read_binary
#define mosquitto_property_read_string mosq_dl_mosquitto_property_read_string
#define mosquitto_publish_v5 mosq_dl_mosquitto_publish_v5
#define mosquitto_publish_v5_callback_set mosq_dl_mosquitto_publish_v5_callback_set
#define mosquitto_reason_string mosq_dl_mosquitto_reason_string
#define mosquitto_strerror mosq_dl_mosquitto_strerror
#define mosquitto_subscribe_v5 mosq_dl_mosquitto_subscribe_v5
#define mosquitto_subscribe_v5_callback_set mosq_dl_mosquitto_subscribe_v5_callback_set
#define mosquitto_threaded_set mosq_dl_mosquitto_threaded_set
#define mosquitto_tls_set mosq_dl_mosquitto_tls_set
#define mosquitto_unsubscribe_v5 mosq_dl_mosquitto_unsubscribe_v5
#define mosquitto_username_pw_set mosq_dl_mosquitto_username_pw_set
#define mosquitto_want_write mosq_dl_mosquitto_want_write
#endif

#endif

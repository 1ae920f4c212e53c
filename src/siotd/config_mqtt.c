/* SPDX-License-Identifier: MIT */
/* siot.conf's mqtt = { ... }: serving through a broker (siot.conf(5)). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"
#include "hostport.h"
#include "utf8.h"

static void parse_broker(struct cfg_reader *r, const config_setting_t *s, struct mqtt_config *m)
{
	char host[256], err[400];

	if (hostport_mqtt_url(m->broker, host, sizeof(host), &m->port, &m->tls, err, sizeof(err)) <
	    0) {
		cfg_report(r, s, "mqtt: broker %s", err);
		return;
	}
	m->host = config_xstrdup(host);
}

static char *get_path(struct cfg_reader *r, const config_setting_t *g, const char *name)
{
	const char *v = cfg_get_string(r, g, name);

	if (!v)
		return NULL;
	if (v[0] != '/') {
		cfg_report(r, config_setting_get_member(g, name), "mqtt: %s must be an absolute path",
			   name);
		return NULL;
	}
	return config_xstrdup(v);
}

void config_load_mqtt(struct cfg_reader *r, const config_setting_t *root, struct config *c)
{
	static const char *const keys[] = { "broker",  "prefix",	 "username",
					    "password_file", "ca_file",	 "tls_cert_file",
					    "tls_key_file",  "max_sessions", "keepalive",
					    "request_rate",  NULL };
	const config_setting_t *g = config_setting_get_member(root, "mqtt");
	struct mqtt_config *m;
	const char *v, *why;

	if (!g || !cfg_want_type(r, g, "mqtt", CONFIG_TYPE_GROUP))
		return;
	m = config_xcalloc(1, sizeof(*m));
	c->mqtt = m;
	m->line = (int)config_setting_source_line(g);
	m->max_sessions = CONFIG_DEFAULT_MQTT_SESSIONS;
	m->request_rate = CONFIG_DEFAULT_MQTT_RATE;
	m->keepalive = 30;
	cfg_check_members(r, g, keys, "mqtt");
	v = cfg_get_string(r, g, "broker");
	if (!v) {
		if (!config_setting_get_member(g, "broker"))
			cfg_report(r, g, "mqtt needs broker = \"mqtt://HOST[:PORT]\" (or mqtts://)");
	} else {
		m->broker = config_xstrdup(v);
		parse_broker(r, config_setting_get_member(g, "broker"), m);
	}
	v = cfg_get_string(r, g, "prefix");
	m->prefix = config_xstrdup(v ? v : "siot");
	if ((why = utf8_topic_problem(m->prefix)) != NULL)
		cfg_report(r, config_setting_get_member(g, "prefix"),
			   "mqtt: prefix \"%s\": a topic of up to 128 characters of UTF-8, without + "
			   "or #, control characters, a leading $ or a / at either end (%s)",
			   m->prefix, why);
	/* Classic binds no device id: whoever can read one device's topics and
	 * write another's could hand a client one device's challenge and
	 * forward its request to the other (siot-protocol(7)). */
	if (c->params.profile == SIOT_PROFILE_CLASSIC)
		cfg_report(r, g, "mqtt: protocol \"classic\" cannot be served through a broker: it "
				 "binds no device id, so a request could be forwarded to another device; "
				 "use protocol \"v1\"");
	v = cfg_get_string(r, g, "username");
	if (v)
		m->username = config_xstrdup(v);
	m->password_file = get_path(r, g, "password_file");
	if (m->password_file && !m->username)
		cfg_report(r, config_setting_get_member(g, "password_file"),
			   "mqtt: a password_file needs a username");
	m->ca_file = get_path(r, g, "ca_file");
	m->tls_cert_file = get_path(r, g, "tls_cert_file");
	m->tls_key_file = get_path(r, g, "tls_key_file");
	if (!m->tls && (m->ca_file || m->tls_cert_file || m->tls_key_file))
		cfg_report(r, g, "mqtt: ca_file, tls_cert_file and tls_key_file are for mqtts://");
	if (m->tls && !m->ca_file)
		cfg_report(r, g, "mqtt: mqtts:// needs ca_file (for example "
				 "/etc/ssl/certs/ca-certificates.crt)");
	if (!m->tls_cert_file != !m->tls_key_file)
		cfg_report(r, g, "mqtt: tls_cert_file and tls_key_file go together");
	cfg_get_uint(r, g, "max_sessions", &m->max_sessions, 1, CONFIG_MAX_MQTT_SESSIONS);
	cfg_get_uint(r, g, "keepalive", &m->keepalive, 5, 3600);
	cfg_get_uint(r, g, "request_rate", &m->request_rate, 1, CONFIG_MAX_MQTT_RATE);
}

void config_free_mqtt(struct mqtt_config *m)
{
	if (!m)
		return;
	free(m->broker);
	free(m->host);
	free(m->prefix);
	free(m->username);
	free(m->password_file);
	free(m->ca_file);
	free(m->tls_cert_file);
	free(m->tls_key_file);
	free(m);
}

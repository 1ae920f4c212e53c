#!/usr/bin/env python3
"""Turn tests/siot-vectors.json into a C header: the vector structs and
their tables, as hex strings.

The JSON file is a copy of ../shared/vectors/siot-vectors.json, computed by an
independent implementation of PROTOCOL.md, and the one copy in the
repository: the C unit tests, the fuzzers and the Node.js client's tests all
read it.  The C tests decode the hex with libsodium and must reproduce every
byte.
"""
import json
import sys


def c_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def main(src, dst):
    with open(src, encoding='utf-8') as f:
        d = json.load(f)
    out = ['/* Generated from siot-vectors.json by gen-vectors.py; do not edit. */', '',
           'struct v1_vector {',
           '\tconst char *hash;',
           '\tunsigned tag_length;',
           '\tconst char *key, *device_id, *client_id, *command, *hello, *request;',
           '\tunsigned status, result;',
           '\tconst char *output, *response;',
           '};',
           'struct classic_vector {',
           '\tconst char *hash, *key, *challenge, *command, *request;',
           '\tunsigned result;',
           '\tconst char *response;',
           '};',
           'struct negative_vector {',
           '\tconst char *why, *key, *hello, *request;',
           '\tconst char *commands[%d];' % (max(len(v['commands']) for v in d['negatives']) + 1),
           '};',
           '']
    out.append('static const struct v1_vector v1_vectors[] = {')
    for v in d['v1']:
        out.append('\t{ %s, %d, %s, %s, %s, %s, %s, %s, %d, %d, %s, %s },' % (
            c_str(v['hash']), v['tag_length'], c_str(v['key']), c_str(v['device_id']),
            c_str(v['client_id']), c_str(v['command']), c_str(v['hello']),
            c_str(v['request']), v['status'], v['result'], c_str(v['output']),
            c_str(v['response'])))
    out.append('};')
    out.append('static const struct classic_vector classic_vectors[] = {')
    for v in d['classic']:
        out.append('\t{ %s, %s, %s, %s, %s, %d, %s },' % (
            c_str(v['hash']), c_str(v['key']), c_str(v['challenge']), c_str(v['command']),
            c_str(v['request']), v['result'], c_str(v['response'])))
    out.append('};')
    out.append('static const struct negative_vector negative_vectors[] = {')
    for v in d['negatives']:
        cmds = ', '.join(c_str(c) for c in v['commands'])
        out.append('\t{ %s, %s, %s, %s, { %s, NULL } },' % (
            c_str(v['why']), c_str(v['key']), c_str(v['hello']), c_str(v['request']), cmds))
    out.append('};')
    with open(dst, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])

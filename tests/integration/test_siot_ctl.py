#!/usr/bin/env python3
"""siot-ctl against a real siotd on loopback and against small fake servers
that misbehave on purpose: every exit status of siot-ctl(1)."""
import base64
import hashlib
import hmac
import json
import os
import pty
import signal
import re
import socket
import stat
import subprocess
import termios
import threading
import time
import unittest

from harness import SIOT_CTL, SIOTD, Case, ctl, free_port, wait_until, write_key, write_script


class FakeServer:
    """One-connection-at-a-time server on 127.0.0.1 with a scripted behaviour."""

    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.got = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                c.settimeout(10)
                try:
                    self.behaviour(self, c)
                except OSError:
                    pass

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.sock.close()


def hello(hash_id=1, tag=32, challenge=32, device=b'fake', magic=b'SIOT', version=1):
    return magic + bytes([version, hash_id, tag, challenge]) + os.urandom(challenge) + \
        bytes([len(device)]) + device


def forge(srv, c):
    c.sendall(hello())
    srv.got.append(c.recv(1 + 5 + 32))
    c.sendall(bytes([0, 0, 0]) + os.urandom(32))  # status OK with a made-up tag


def forge_rejected(srv, c):
    c.sendall(hello())
    srv.got.append(c.recv(1 + 5 + 32))
    c.sendall(bytes([2, 0, 0]) + os.urandom(32))


def hold_open(c, limit):
    """Keep the connection open until the client closes it, or limit seconds."""
    c.settimeout(limit)
    try:
        while c.recv(4096):
            pass
    except OSError:
        pass


def other_hash(srv, c):
    c.sendall(hello(hash_id=2, tag=64))
    hold_open(c, 5)


def other_magic(srv, c):
    c.sendall(b'SSH-2.0-OpenSSH_9.2\r\n' + b'\0' * 40)
    hold_open(c, 5)


def silent(srv, c):
    hold_open(c, 5)


def huge_output(srv, c):
    c.sendall(hello())
    c.recv(64)
    c.sendall(bytes([0, 0x10, 0x01]))  # 4097 bytes announced
    hold_open(c, 5)


GOLDEN_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'golden',
                           'siot-ctl-json.txt')
# Where json-c (siot-ctl since the move to it) and the hand-written emitter
# before it differ: json-c names \b and \f and leaves DEL as it is, as
# JavaScript's JSON.stringify does.  Both decode to the same strings.
JSON_C_ESCAPES = ((b'\\u0008', b'\\b'), (b'\\u000c', b'\\f'), (b'\\u007f', b'\x7f'))


def read_pty(master):
    """Everything written to a pseudo-terminal until its other side closed."""
    out = b''
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return out


class JsonBytes(Case):
    """siot-ctl --json, byte for byte, against the output recorded from the
    emitter it had before json-c (tests/integration/golden)."""

    def test_json_bytes_match_the_recorded_output(self):
        d = self.dir
        controls = ''.join('%%' if b == 0o45 else '\\%03o' % b for b in range(1, 128))
        write_script(self.path('controls.sh'), "printf '%s'" % controls)
        write_script(self.path('utf8.sh'), "printf 'Temp\\303\\251rature \\342\\234\\223 "
                                           "\\360\\237\\230\\200\\n'")
        write_script(self.path('bin.sh'), "printf '\\377\\000\\033[31mred'")
        write_script(self.path('fail.sh'), "printf 'disk \"full\"\\\\\\n'; exit 3")
        write_script(self.path('hang.sh'), 'sleep 60')
        conf = ('device_id = "testdev";\nmax_requests = 10;\n'
                'clients = ( { id = "alice"; key_file = "%(d)s/alice.key"; '
                'commands = [ "controls", "utf8", "bin", "fail", "hang" ]; } );\n'
                'commands = (\n'
                ' { name = "controls"; exec = [ "%(d)s/controls.sh" ]; output = true; },\n'
                ' { name = "utf8"; exec = [ "%(d)s/utf8.sh" ]; output = true; },\n'
                ' { name = "bin"; exec = [ "%(d)s/bin.sh" ]; output = true; },\n'
                ' { name = "fail"; exec = [ "%(d)s/fail.sh" ]; output = true; },\n'
                ' { name = "hang"; exec = [ "%(d)s/hang.sh" ]; timeout = 0.2; },\n'
                ' { name = "forbidden"; exec = [ "%(d)s/fail.sh" ]; }\n'
                ');\n' % {'d': d})
        daemon = self.daemon(conf)
        env = dict(os.environ, SIOT_CTL_CONFIG='/nonexistent')
        base = [SIOT_CTL, '-H', '127.0.0.1', '-p', str(daemon.port), '-i', 'alice',
                '-k', self.alice_key_path, '--json', 'send']
        out = b''
        for args in (base + ['controls', 'utf8', 'bin', 'fail', 'controls'],
                     base + ['hang'], base + ['forbidden'],
                     [SIOT_CTL, '-U', self.path('no.sock'), '-i', 'alice', '-k',
                      self.alice_key_path, '--json', 'send', 'controls']):
            out += subprocess.run(args, capture_output=True, timeout=60, env=env).stdout
        out = out.replace(self.path('no.sock').encode(), b'SOCKET')
        if os.environ.get('SIOT_RECORD_GOLDEN'):
            with open(GOLDEN_JSON, 'wb') as f:
                f.write(out)
        with open(GOLDEN_JSON, 'rb') as f:
            want = f.read()
        for old, new in JSON_C_ESCAPES:
            want = want.replace(old, new)
        self.assertEqual(out, want)
        # Every line is one JSON object, and the controls came through whole.
        objs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(objs[0]['output'], ''.join(chr(b) for b in range(1, 128)))
        self.assertEqual([o['status'] for o in objs],
                         ['ok', 'ok', 'ok', 'failed', 'not-sent', 'timeout', 'rejected',
                          'error'])


class Ctl(Case):
    def setUp(self):
        super().setUp()
        d = self.dir
        write_script(self.path('ok.sh'), 'echo ran >> "%s/ran"\nprintf "hello\\n"' % d)
        write_script(self.path('fail.sh'), 'echo fail >> "%s/ran"\nprintf "disk full\\n"\nexit 3' % d)
        write_script(self.path('bin.sh'), 'printf "\\377\\000\\033[31mred"')
        write_script(self.path('slow.sh'), 'echo slow >> "%s/ran"\nsleep 2' % d)
        write_script(self.path('hang.sh'), 'sleep 60')
        write_script(self.path('gone.sh'), 'true')
        write_script(self.path('lines.sh'), 'printf "one\\ntwo\\nno newline"')
        self.conf_text = (
            'device_id = "testdev";\nmax_requests = 10;\n'
            'clients = ( { id = "alice"; key_file = "%(d)s/alice.key"; commands = [ "ok", "fail", "bin", "slow", "hang", "gone", "lines" ]; } );\n'
            'commands = (\n'
            ' { name = "ok"; exec = [ "%(d)s/ok.sh" ]; output = true; },\n'
            ' { name = "fail"; exec = [ "%(d)s/fail.sh" ]; output = true; },\n'
            ' { name = "bin"; exec = [ "%(d)s/bin.sh" ]; output = true; },\n'
            ' { name = "slow"; exec = [ "%(d)s/slow.sh" ]; },\n'
            ' { name = "hang"; exec = [ "%(d)s/hang.sh" ]; timeout = 0.5; },\n'
            ' { name = "gone"; exec = [ "%(d)s/gone.sh" ]; },\n'
            ' { name = "lines"; exec = [ "%(d)s/lines.sh" ]; output = true; },\n'
            ' { name = "forbidden"; exec = [ "%(d)s/ok.sh" ]; }\n'
            ');\n' % {'d': d})

    def ran(self):
        try:
            with open(self.path('ran')) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def fake(self, behaviour):
        srv = FakeServer(behaviour)
        self.addCleanup(srv.close)
        return srv

    def ctl_to(self, port, *args, key=None):
        return ctl(['-H', '127.0.0.1', '-p', str(port), '-i', 'alice',
                    '-k', key or self.alice_key_path] + list(args))

    # ---- against siotd ----------------------------------------------------

    def test_every_status_and_exit_code(self):
        d = self.daemon(self.conf_text)
        p = self.send(d, 'ok')
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, 'hello\n')
        self.assertEqual(p.stderr, '')
        p = self.send(d, 'fail')
        self.assertExit(p, 1)
        self.assertEqual(p.stdout, 'disk full\n')
        self.assertEqual(p.stderr, 'siot-ctl: fail: exit 3\n')
        p = self.send(d, 'forbidden')
        self.assertExit(p, 2)
        self.assertEqual(p.stderr, 'siot-ctl: forbidden: rejected: no command that this client '
                                   'may run has this name\n')
        self.assertIn('command=forbidden outcome=rejected reason=not-allowed', d.log())
        p = self.send(d, 'nosuch')
        self.assertExit(p, 2)
        self.assertIn('nosuch: rejected: no command that this client may run', p.stderr)
        p = self.send(d, 'hang')
        self.assertExit(p, 4)
        self.assertIn('timeout', p.stderr)
        os.unlink(self.path('gone.sh'))  # checked at load, gone at run time
        p = self.send(d, 'gone')
        self.assertExit(p, 5)
        self.assertIn('gone: error', p.stderr)
        # busy: a second run while the first is under way
        first = self.send_background(d, 'slow')
        self.assertTrue(wait_until(lambda: 'slow' in self.ran(), 10))
        p = self.send(d, 'slow')
        self.assertExit(p, 3)
        self.assertEqual(p.stderr, 'siot-ctl: slow: busy: the command or its GPIO line is in '
                                   'use; try again when it has finished\n')
        self.assertIn('command=slow outcome=busy reason=in-use', d.log())
        self.assertEqual(first.wait(30), 0)
        self.assertEqual(self.ran().count('slow'), 1)

    def test_backing_off_says_so(self):
        """BUSY because of failed attempts says so, unlike BUSY in use."""
        d = self.daemon(self.conf_text.replace(
            'max_requests = 10;', 'backoff = { failures = 1; base = 60.0; max = 60.0; };'))
        wrong = self.path('wrong.key')
        write_key(wrong)
        self.assertExit(self.send(d, 'ok', key=wrong), 76)  # refused, not verified
        p = self.send(d, 'ok')
        self.assertExit(p, 3)
        self.assertEqual(p.stderr, 'siot-ctl: ok: busy: this client or address is backing off '
                                   'after failed attempts; wait a while and try again\n')
        self.assertIn('outcome=busy reason=backing-off', d.log())
        self.assertEqual(self.ran(), [])

    def test_several_commands_named_and_verbose(self):
        """With several commands each output is introduced by its name; -v
        adds a line for each command that went well."""
        d = self.daemon(self.conf_text)
        p = self.send(d, 'ok', 'gone', 'ok')
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, 'ok: hello\nok: hello\n')
        self.assertEqual(p.stderr, '')
        p = self.send(d, 'ok', 'gone', extra=['-v'])
        self.assertExit(p, 0)
        self.assertEqual(p.stderr, 'siot-ctl: ok: ok\nsiot-ctl: gone: ok\n')
        p = self.send(d, 'gone', 'fail')
        self.assertExit(p, 1)
        self.assertEqual(p.stdout, 'fail: disk full\n')
        self.assertEqual(p.stderr, 'siot-ctl: fail: exit 3\n')
        # Several lines: the name on a line of its own; a last line without
        # a newline gets one, so the next name starts a line.
        p = self.send(d, 'lines', 'ok')
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, 'lines:\none\ntwo\nno newline\nok: hello\n')
        p = self.send(d, 'lines')
        self.assertEqual(p.stdout, 'one\ntwo\nno newline')  # alone: exactly the bytes

    def test_json_objects(self):
        d = self.daemon(self.conf_text)
        p = self.send(d, 'ok', 'fail', 'ok', extra=['--json'])
        self.assertExit(p, 1)
        objs = [json.loads(line) for line in p.stdout.splitlines()]
        self.assertEqual(objs, [
            {'command': 'ok', 'status': 'ok', 'result': 0, 'output': 'hello\n', 'authentic': True},
            {'command': 'fail', 'status': 'failed', 'result': 3, 'output': 'disk full\n',
             'authentic': True},
            {'command': 'ok', 'status': 'not-sent', 'authentic': False},
        ])
        self.assertEqual(self.ran(), ['ran', 'fail'])  # stopped at the first failure

    def test_binary_output(self):
        d = self.daemon(self.conf_text)
        p = self.send(d, 'bin', extra=['--json'])
        self.assertExit(p, 0)
        o = json.loads(p.stdout)
        self.assertNotIn('output', o)
        self.assertEqual(base64.b64decode(o['output_base64']), b'\xff\x00\x1b[31mred')
        # Raw bytes on a pipe, escaped on a terminal.
        p = subprocess.run([os.environ['SIOT_CTL'], '-H', '127.0.0.1', '-p', str(d.port), '-i',
                            'alice', '-k', self.alice_key_path, 'send', 'bin'],
                           capture_output=True, env=dict(os.environ, SIOT_CTL_CONFIG='/x'))
        self.assertEqual(p.stdout, b'\xff\x00\x1b[31mred')
        master, slave = pty.openpty()
        proc = subprocess.Popen([os.environ['SIOT_CTL'], '-H', '127.0.0.1', '-p', str(d.port),
                                 '-i', 'alice', '-k', self.alice_key_path, 'send', 'bin'],
                                stdout=slave, stderr=subprocess.DEVNULL,
                                env=dict(os.environ, SIOT_CTL_CONFIG='/x'))
        os.close(slave)
        self.assertEqual(proc.wait(30), 0)
        out = read_pty(master)
        self.assertNotIn(b'\x1b', out)
        self.assertIn(b'\\x1b[31mred', out)

    def test_terminal_escaping_cases(self):
        """On a terminal, every case of tests/tty-escape-cases.json (shared
        with siot-client's tests) prints as the file says."""
        with open(os.path.join(os.environ['SOURCE_ROOT'], 'tests', 'tty-escape-cases.json'),
                  encoding='utf-8') as f:
            cases = json.load(f)['cases']
        case_file = self.path('case.bin')
        write_script(self.path('case.sh'), 'cat "%s"' % case_file)
        d = self.daemon(self.conf_text.replace(
            ' { name = "forbidden";',
            ' { name = "case"; exec = [ "%s" ]; output = true; },\n { name = "forbidden";'
            % self.path('case.sh')).replace('"gone", "lines" ]', '"gone", "lines", "case" ]'))
        for case in cases:
            with open(case_file, 'wb') as f:
                f.write(bytes.fromhex(case['hex']))
            master, slave = pty.openpty()
            attrs = termios.tcgetattr(slave)
            attrs[1] &= ~termios.ONLCR  # newlines as they are
            termios.tcsetattr(slave, termios.TCSANOW, attrs)
            proc = subprocess.Popen([SIOT_CTL, '-H', '127.0.0.1', '-p', str(d.port), '-i',
                                     'alice', '-k', self.alice_key_path, 'send', 'case'],
                                    stdout=slave, stderr=subprocess.DEVNULL,
                                    env=dict(os.environ, SIOT_CTL_CONFIG='/x'))
            os.close(slave)
            self.assertEqual(proc.wait(30), 0, case['name'])
            out = read_pty(master)
            self.assertEqual(out.decode('utf-8'), case['terminal'], case['name'])

    def test_several_commands_one_connection(self):
        d = self.daemon(self.conf_text)
        p = self.send(d, 'ok', 'ok', 'ok')
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, 'ok: hello\n' * 3)
        self.assertEqual(self.ran(), ['ran'] * 3)
        self.assertEqual(d.log().count(': connected'), 1)

    def test_unix_socket(self):
        sock = self.path('siotd.sock')
        d = self.daemon(self.conf_text, start=False, extra=['--listen', sock])
        d.start()
        self.assertTrue(wait_until(lambda: os.path.exists(sock), 5))
        p = ctl(['-U', sock, '-i', 'alice', '-k', self.alice_key_path, 'send', 'ok'])
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, 'hello\n')
        self.assertIn('peer=uid=%d' % os.getuid(), d.log())

    def test_config_file_targets(self):
        d = self.daemon(self.conf_text)
        cfg = self.path('ctl.conf')
        with open(cfg, 'w') as f:
            f.write('default = "dev";\ntargets = (\n'
                    '  { name = "dev"; host = "127.0.0.1"; port = %d; device = "testdev"; id = "alice"; key_file = "%s"; },\n'
                    '  { name = "impostor"; host = "127.0.0.1"; port = %d; device = "garage"; id = "alice"; key_file = "%s"; }\n'
                    ');\n' % (d.port, self.alice_key_path, d.port, self.alice_key_path))
        p = ctl(['send', 'ok'], config=cfg)
        self.assertExit(p, 0)
        p = ctl(['-c', cfg, '-t', 'impostor', 'send', 'ok'])
        self.assertExit(p, 76)
        self.assertIn('is device "testdev", not "garage"', p.stderr)
        self.assertEqual(self.ran(), ['ran'])
        p = ctl(['-c', cfg, '-t', 'nope', 'send', 'ok'])
        self.assertExit(p, 78)
        p = ctl(['-c', cfg, 'check'])
        self.assertExit(p, 0)
        os.chmod(self.alice_key_path, 0o644)  # check looks at the key files too
        p = ctl(['-c', cfg, 'check'])
        self.assertExit(p, 78)
        self.assertIn('%s:3: %s: unprotected key file' % (cfg, self.alice_key_path), p.stderr)

    def test_target_host_with_port(self):
        """A target's host takes -H's forms; a port in both host and port is
        reported at its line."""
        d = self.daemon(self.conf_text)
        cfg = self.path('hp.conf')
        with open(cfg, 'w') as f:
            f.write('targets = (\n'
                    '  { name = "a"; host = "127.0.0.1:%d"; id = "alice"; key_file = "%s"; },\n'
                    '  { name = "b"; host = "127.0.0.1:1"; port = 2; },\n'
                    '  { name = "c"; host = "[::1"; }\n'
                    ');\n' % (d.port, self.alice_key_path))
        p = ctl(['-c', cfg, 'check'])
        self.assertExit(p, 78)
        self.assertIn('%s:3: give the port once: in host or in port, not both' % cfg, p.stderr)
        self.assertIn('%s:4: host "[::1": no closing \']\'' % cfg, p.stderr)
        with open(cfg, 'w') as f:
            f.write('targets = ( { name = "a"; host = "127.0.0.1:%d"; id = "alice"; '
                    'key_file = "%s"; } );\n' % (d.port, self.alice_key_path))
        self.assertExit(ctl(['-c', cfg, 'send', 'ok']), 0)

    def test_targets_are_found_listed_and_suggested(self):
        """XDG_CONFIG_HOME is honoured, check lists the targets it read, and
        an unknown -t suggests the nearest name."""
        d = self.daemon(self.conf_text)
        xdg = self.path('xdg')
        os.makedirs(os.path.join(xdg, 'siot'))
        cfg = os.path.join(xdg, 'siot', 'siot-ctl.conf')
        with open(cfg, 'w') as f:
            f.write('default = "garage";\ntargets = (\n'
                    '  { name = "garage"; host = "127.0.0.1"; port = %d; id = "alice"; key_file = "%s"; },\n'
                    '  { name = "cabin"; socket = "/run/cabin.sock"; id = "alice"; key_file = "%s"; }\n'
                    ');\n' % (d.port, self.alice_key_path, self.alice_key_path))
        env = {'SIOT_CTL_CONFIG': '', 'XDG_CONFIG_HOME': xdg, 'HOME': self.path('nohome')}
        p = ctl(['send', 'ok'], env=env)
        self.assertExit(p, 0)
        p = ctl(['check'], env=env)
        self.assertExit(p, 0)
        self.assertEqual(p.stdout.splitlines(), [
            '%s: OK, 2 target(s)' % cfg,
            '  garage               127.0.0.1:%d  (default)' % d.port,
            '  cabin                /run/cabin.sock'])
        p = ctl(['-t', 'garge', 'send', 'ok'], env=env)
        self.assertExit(p, 78)
        self.assertIn('no target named "garge"; did you mean "garage"?', p.stderr)
        p = ctl(['-t', 'attic', 'send', 'ok'], env=env)
        self.assertExit(p, 78)
        self.assertNotIn('did you mean', p.stderr)
        # A relative XDG_CONFIG_HOME is ignored, as the XDG rule says.
        p = ctl(['check'], env=dict(env, XDG_CONFIG_HOME='relative'))
        self.assertExit(p, 78)
        self.assertIn('nohome/.config/siot/siot-ctl.conf: no such file', p.stderr)
        self.assertEqual(self.ran(), ['ran'])

    def test_broken_config_ignored_when_flags_give_everything(self):
        """A config with a syntax error is a warning, not a failure, when
        -H, -i and -k name everything; with -t it is still an error."""
        d = self.daemon(self.conf_text)
        cfg = self.path('broken.conf')
        with open(cfg, 'w') as f:
            f.write('targets = ( { name = "a"; host = "x" } { name = "b"; } );\n')
        p = ctl(['-H', '127.0.0.1', '-p', str(d.port), '-i', 'alice', '-k', self.alice_key_path,
                 'send', 'ok'], config=cfg)
        self.assertExit(p, 0)
        self.assertIn('siot-ctl: warning: %s:1: syntax error' % cfg, p.stderr)
        self.assertIn('ignored: -H/-U, -i and -k give everything needed', p.stderr)
        p = ctl(['-t', 'a', 'send', 'ok'], config=cfg)
        self.assertExit(p, 78)
        self.assertNotIn('warning', p.stderr)
        p = ctl(['-H', '127.0.0.1', '-p', str(d.port), '-i', 'alice', 'send', 'ok'], config=cfg)
        self.assertExit(p, 78)  # no -k: the file was needed

    def test_config_writable_by_others_is_refused(self):
        """As ssh refuses such a config: whoever can edit it can point this
        user's keys anywhere.  Refused even when the flags give everything."""
        d = self.daemon(self.conf_text)
        cfg = self.path('loose.conf')
        with open(cfg, 'w') as f:
            f.write('targets = ( { name = "a"; host = "127.0.0.1"; port = %d; id = "alice"; '
                    'key_file = "%s"; } );\n' % (d.port, self.alice_key_path))
        for mode, who in ((0o664, 'group'), (0o646, 'others'), (0o666, 'group and others')):
            os.chmod(cfg, mode)
            for args in (['send', 'ok'], ['-H', '127.0.0.1', '-p', str(d.port), '-i', 'alice',
                                          '-k', self.alice_key_path, 'send', 'ok'], ['check']):
                p = ctl(args, config=cfg)
                self.assertExit(p, 78)
                self.assertIn('%s: writable by %s; siot-ctl refuses it' % (cfg, who), p.stderr)
                self.assertIn('chmod go-w %s' % cfg, p.stderr)
        os.chmod(cfg, 0o644)
        self.assertExit(ctl(['send', 'ok'], config=cfg), 0)
        self.assertEqual(self.ran(), ['ran'])

    def test_check_reports_lines(self):
        cfg = self.path('bad.conf')
        with open(cfg, 'w') as f:
            f.write('default = "a";\ntargets = (\n  { name = "a"; port = 99999; hash = "md5"; },\n'
                    '  { name = "b"; colour = "blue"; key_file = "/nonexistent.key"; }\n);\n')
        p = ctl(['-c', cfg, 'check'])
        self.assertExit(p, 78)
        self.assertIn('%s:3: port = 99999 is out of range' % cfg, p.stderr)
        self.assertIn('%s:3: hash "md5"' % cfg, p.stderr)
        self.assertIn("%s:4: unknown setting 'colour'" % cfg, p.stderr)
        self.assertIn('%s:4: /nonexistent.key: cannot open key file' % cfg, p.stderr)

    # ---- against fakes ----------------------------------------------------

    def test_forged_response(self):
        srv = self.fake(forge)
        p = self.ctl_to(srv.port, 'send', 'ok')
        self.assertExit(p, 76)
        self.assertIn('not authentic', p.stderr)
        self.assertEqual(len(srv.got), 1)

    def test_forged_rejection(self):
        srv = self.fake(forge_rejected)
        p = self.ctl_to(srv.port, '--json', 'send', 'ok')
        self.assertExit(p, 76)
        o = json.loads(p.stdout)
        self.assertEqual(o['authentic'], False)
        self.assertNotIn('result', o)
        self.assertIn('refused, not verified: the key is wrong, or the device does not know '
                      'this client id', o['error'])

    def test_other_hash(self):
        srv = self.fake(other_hash)
        p = self.ctl_to(srv.port, 'send', 'ok')
        self.assertExit(p, 76)
        self.assertIn('uses hash sha512', p.stderr)
        self.assertIn('configured for sha256', p.stderr)

    def test_other_protocol(self):
        srv = self.fake(other_magic)
        p = self.ctl_to(srv.port, 'send', 'ok')
        self.assertExit(p, 76)
        self.assertIn('does not speak siot', p.stderr)

    def test_output_length_refused(self):
        srv = self.fake(huge_output)
        p = self.ctl_to(srv.port, 'send', 'ok')
        self.assertExit(p, 76)
        self.assertIn('output length', p.stderr)

    def test_every_bad_hello(self):
        """Each way a HELLO can be wrong gets its own message and exit 76,
        and no request is sent."""
        cases = [
            (hello(version=2), 'speaks siot protocol version 2, not 1'),
            (hello(hash_id=9), 'uses hash an unknown hash, this target is configured for sha256'),
            (hello(tag=16), 'uses tag length 16, this target is configured for 32'),
            (hello(challenge=16), 'uses challenge length 16, this target is configured for 32'),
            (hello(device=b'bad id'), 'sent an invalid device id'),
        ]
        for data, words in cases:
            with self.subTest(words=words):
                def send_hello(srv, c, data=data):
                    c.sendall(data)
                    c.settimeout(2)
                    try:
                        srv.got.append(c.recv(64))
                    except OSError:
                        pass
                srv = self.fake(send_hello)
                p = self.ctl_to(srv.port, 'send', 'ok')
                self.assertExit(p, 76)
                self.assertIn(words, p.stderr)
                self.assertTrue(wait_until(lambda: srv.got, 5))
                self.assertEqual(srv.got, [b''])  # the client sent nothing, then closed

    def test_server_closes_at_each_step(self):
        """A peer that closes before its HELLO (69, a connection limit), or
        after the request (76, no response): each said so."""
        def close_at_once(srv, c):
            c.close()

        def close_after_request(srv, c):
            c.sendall(hello())
            srv.got.append(c.recv(64))
        p = self.ctl_to(self.fake(close_at_once).port, 'send', 'ok')
        self.assertExit(p, 69)
        self.assertIn('closed the connection before its HELLO', p.stderr)
        srv = self.fake(close_after_request)
        p = self.ctl_to(srv.port, 'send', 'ok')
        self.assertExit(p, 76)
        self.assertIn('closed the connection without a response', p.stderr)
        self.assertEqual(len(srv.got), 1)

    def test_silent_after_request_may_have_run(self):
        """A response that never comes: network timeout (75), and the message
        says the command may still have run."""
        def hold_after_request(srv, c):
            c.sendall(hello())
            srv.got.append(c.recv(64))
            hold_open(c, 5)
        p = self.ctl_to(self.fake(hold_after_request).port, '-T', '1', 'send', 'ok')
        self.assertExit(p, 75)
        self.assertIn('the command may still have run on the device', p.stderr)

    def test_unresolvable_host(self):
        p = ctl(['-H', 'nonexistent.invalid', '-i', 'alice', '-k', self.alice_key_path,
                 'send', 'ok'])
        self.assertExit(p, 69)
        self.assertIn('cannot resolve nonexistent.invalid', p.stderr)

    def test_socket_path_too_long(self):
        p = ctl(['-U', '/tmp/' + 'x' * 150, '-i', 'alice', '-k', self.alice_key_path,
                 'send', 'ok'])
        self.assertExit(p, 64)
        self.assertIn('socket path is too long', p.stderr)

    def test_reasons_this_client_does_not_know(self):
        """A genuine BUSY or REJECTED answer with a reason byte this siot-ctl
        does not know (a newer device) says so, instead of guessing."""
        key = self.alice_key

        def answer(status, result):
            def behaviour(srv, c):
                h = hello()
                c.sendall(h)
                req = c.recv(1 + 5 + 32)
                srv.got.append(req)
                cid, tag = req[1:1 + req[0]], req[1 + req[0]:]
                resp_tag = hmac.new(key, b'siot-v1 response\0' + h + bytes([len(cid)]) + cid +
                                    tag + bytes([status, 0, 0, result]),
                                    hashlib.sha256).digest()
                c.sendall(bytes([status, 0, 0]) + resp_tag)
            return behaviour
        for status, result, code, words in ((3, 7, 3, 'ok: busy: for a reason this siot-ctl does '
                                             'not know'),
                                            (2, 9, 2, 'ok: rejected: for a reason this siot-ctl '
                                             'does not know'),
                                            (2, 1, 2, 'ok: rejected: this client may not connect '
                                             'from this address')):
            p = self.ctl_to(self.fake(answer(status, result)).port, 'send', 'ok')
            self.assertExit(p, code)
            self.assertIn(words, p.stderr)
            p = self.ctl_to(self.fake(answer(status, result)).port, '--json', 'send', 'ok')
            self.assertEqual(json.loads(p.stdout)['result'], result)

    def test_silent_server_times_out(self):
        srv = self.fake(silent)
        t0 = time.monotonic()
        p = self.ctl_to(srv.port, '-T', '1', 'send', 'ok')
        self.assertExit(p, 75)
        self.assertLess(time.monotonic() - t0, 4)
        self.assertIn('timed out', p.stderr)

    def test_unreachable(self):
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()  # bound once, nobody listens now
        p = self.ctl_to(port, 'send', 'ok')
        self.assertExit(p, 69)
        self.assertIn('Connection refused', p.stderr)

    def test_key_file_permissions(self):
        for mode in (0o640, 0o604, 0o644):
            os.chmod(self.alice_key_path, mode)
            p = self.ctl_to(1, 'send', 'ok')
            self.assertExit(p, 78)
            self.assertIn('chmod 600', p.stderr)
        os.chmod(self.alice_key_path, 0o400)
        p = self.ctl_to(1, 'send', 'ok')
        self.assertExit(p, 69)  # the key is fine; nothing listens on port 1

    def test_key_file_that_is_a_fifo(self):
        """-k naming a FIFO is refused at once (78), not waited on past -T."""
        fifo = self.path('fifo.key')
        os.mkfifo(fifo, 0o600)
        t0 = time.monotonic()
        p = ctl(['-H', '127.0.0.1', '-p', '1', '-i', 'alice', '-k', fifo, '-T', '1',
                 'send', 'ok'], timeout=20)
        self.assertExit(p, 78)
        self.assertIn('not a regular file', p.stderr)
        self.assertLess(time.monotonic() - t0, 5)

    def test_classic_refuses_one_character_names(self):
        """A man in the middle that echoes the request digest made
        --protocol classic report 'failed, result 120, authentic' for a
        one-character command; the client refuses such names (64)."""
        def echo_digest(srv, c):
            c.sendall(os.urandom(32))
            digest = c.recv(32)
            srv.got.append(digest)
            c.sendall(digest)
            hold_open(c, 5)
        srv = self.fake(echo_digest)
        p = self.ctl_to(srv.port, '--protocol', 'classic', 'send', 'x')
        self.assertExit(p, 64)
        self.assertIn('one-character', p.stderr)
        self.assertEqual(srv.got, [])  # nothing was sent
        p = self.ctl_to(srv.port, '--protocol', 'classic', 'send', 'ab', 'x')
        self.assertExit(p, 64)

    def test_usage_errors(self):
        """Every wrong command line: exit 64, one message that says what is
        wrong, and nothing sent anywhere."""
        k = self.alice_key_path
        base = ['-H', '127.0.0.1', '-p', '1', '-i', 'alice', '-k', k]
        cases = [
            (['send'], 'send needs at least one command name'),
            (['frobnicate'], "unknown command 'frobnicate'"),
            (['-H', '127.0.0.1', 'send', 'ok'], 'no client id'),
            (['-H', '127.0.0.1', '-i', 'a', '-k', 'x', 'send', 'bad name'], 'is not a command name'),
            (['--tag-length', '8', 'send', 'x'], '--tag-length must be an integer from 16'),
            (['-p', '0', 'send', 'ok'], 'port must be an integer from 1 to 65535'),
            (['-p', '80x', 'send', 'ok'], "not '80x'"),
            (['-T', '0', 'send', 'ok'], "-T takes seconds (more than 0), not '0'"),
            (['-T', 'soon', 'send', 'ok'], "not 'soon'"),
            (['--challenge-length', '8', 'send', 'ok'], '--challenge-length must be'),
            (['--wakeup-length', '-1', 'send', 'ok'], '--wakeup-length must be'),
            (['-H', 'h' * 300, 'send', 'ok'], '": too long (HOST, HOST:PORT, [IPV6] or [IPV6]:PORT)'),
            (['-k', 'k' * 5000, 'send', 'ok'], 'key file is too long'),
            (['--bogus', 'send', 'ok'], "unrecognized option '--bogus'"),
            (['keygen', 'extra'], 'keygen takes no arguments'),
            (['-o', 'x.key', 'send', 'ok'], '-o is for keygen'),
            (['check', 'extra'], 'check takes no arguments'),
            (base + ['send'], 'send needs at least one command name'),
            (base + ['send'] + ['c%d' % i for i in range(300)], 'at most'),
            (['-i', 'alice', '-k', k, 'send', 'ok'], 'no device to talk to'),
            (base + ['--protocol', 'v9', 'send', 'ok'], "protocol must be v1 or classic, not 'v9'"),
            (base + ['--hash', 'md5', 'send', 'ok'], "hash must be sha256 or sha512, not 'md5'"),
            (['-H', '127.0.0.1', '-i', 'bad id', '-k', k, 'send', 'ok'], 'client id "bad id": use'),
            (['-H', '127.0.0.1', '-i', 'alice', 'send', 'ok'], 'no key: give -k'),
            (base + ['--protocol', 'classic', '--tag-length', '16', 'send', 'ok'],
             'classic always uses the full digest'),
            (base + ['--tag-length', '40', 'send', 'ok'], 'tag length 40 does not fit hash sha256'),
        ]
        for args, words in cases:
            with self.subTest(args=args[:8]):
                p = ctl(args, env={'SIOT_CTL_CONFIG': '/nonexistent'})
                self.assertExit(p, 64)
                self.assertIn(words, p.stderr)
                # One message, and at most a pointer to --help.
                self.assertIn(p.stderr.splitlines()[1:], ([], ["Try 'siot-ctl --help'."]),
                              p.stderr)

    def test_help_and_version(self):
        """--help lists every option on a line of its own, and where the
        targets are read from."""
        p = ctl(['--help'], env={'SIOT_CTL_CONFIG': '/some/where/siot-ctl.conf'})
        self.assertExit(p, 0)
        self.assertIn('Usage:', p.stdout)
        for opt in ('-c, --config', '-t, --target', '-H, --host', '-p, --port', '-U, --socket',
                    '-D, --device', '-i, --id', '-k, --key', '--protocol', '--hash',
                    '--tag-length', '--challenge-length', '--wakeup-length', '-T, --timeout',
                    '--json', '-v, --verbose', '-q, --quiet', '--parallel', '-o, --output',
                    '--version', '-h, --help'):
            self.assertRegex(p.stdout, r'(?m)^ +%s ' % re.escape(opt), opt)
        self.assertIn('Targets: /some/where/siot-ctl.conf (or -c FILE)', p.stdout)
        for sub in ('send', 'keygen', 'fingerprint', 'check'):
            self.assertRegex(p.stdout, r'siot-ctl (\[.*\] )?%s' % sub)
        p = ctl(['--version'])
        self.assertExit(p, 0)
        self.assertRegex(p.stdout, r'^siot-ctl \d+\.\d+')

    def test_missing_config_and_target(self):
        """-c or -t naming what is not there is a config error (78)."""
        p = ctl(['-c', self.path('none.conf'), 'send', 'ok'])
        self.assertExit(p, 78)
        self.assertIn('none.conf: no such file', p.stderr)
        p = ctl(['-t', 'x', 'send', 'ok'], env={'SIOT_CTL_CONFIG': self.path('none.conf')})
        self.assertExit(p, 78)
        self.assertIn('no such file (needed for -t)', p.stderr)
        cfg = self.path('nodefault.conf')
        with open(cfg, 'w') as f:
            f.write('targets = ( { name = "a"; host = "127.0.0.1"; },\n'
                    '  { name = "b"; host = "127.0.0.1"; } );\n')
        p = ctl(['-c', cfg, 'send', 'ok'])
        self.assertExit(p, 78)
        self.assertIn('(set default, or give -t NAME)', p.stderr)
        with open(cfg, 'w') as f:
            f.write('targets = ( { name = = "a"; } );\n')  # syntax error
        p = ctl(['-c', cfg, 'send', 'ok'])
        self.assertExit(p, 78)
        self.assertIn('nodefault.conf:1:', p.stderr)

    def test_enroll(self):
        """siot-ctl enroll NAME: a key beside the client config, the target
        block added to the file as text (comments and the rest kept), the
        device-side steps printed; the same name again is refused unless
        --force, which replaces it in place and keeps its key."""
        def read(path):
            with open(path) as f:
                return f.read()
        home = self.path('enroll-home')
        cfg = os.path.join(home, '.config', 'siot', 'siot-ctl.conf')
        env = {'SIOT_CTL_CONFIG': cfg}
        d = self.daemon(self.conf_text)
        p = ctl(['enroll', 'bench', '-H', '127.0.0.1:%d' % d.port, '-i', 'alice', '-D',
                 'testdev'], env=env)
        self.assertExit(p, 0)
        key = os.path.join(os.path.dirname(cfg), 'bench-alice.key')
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        fp = ctl(['fingerprint', '-k', key]).stdout.split()[0]
        self.assertIn('Created %s (%s)' % (key, fp), p.stdout)
        self.assertIn('install -D -m 0640 -o root -g siot bench-alice.key '
                      '/etc/siot/keys/alice.key', p.stdout)
        self.assertIn('{ id = "alice"; key_file = "/etc/siot/keys/alice.key"; }', p.stdout)
        self.assertIn('device_id = "testdev";', p.stdout)
        # The device side, as printed: this test's siotd knows alice by the
        # key in alice.key; give it the enrolled one.
        with open(key, 'rb') as src, open(self.alice_key_path, 'wb') as dst:
            dst.write(src.read())
        d.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: 'reloaded' in d.log(), 10))
        self.assertExit(ctl(['-t', 'bench', 'send', 'ok'], env=env), 0)
        self.assertEqual(self.ran(), ['ran'])

        # A file of the user's own: every line of it is kept.
        with open(cfg, 'w') as f:
            f.write('# my devices\ndefault = "old";   # the usual one\n'
                    'targets = (\n  { name = "old"; host = "10.0.0.1"; } // the old box\n);\n'
                    '# end\n')
        before = read(cfg).splitlines()
        self.assertExit(ctl(['enroll', 'bench', '-H', '127.0.0.1', '-p', str(d.port), '-i',
                             'alice'], env=env), 73)  # the key exists
        os.unlink(key)
        self.assertExit(ctl(['enroll', 'bench', '-H', '127.0.0.1', '-p', str(d.port), '-i',
                             'alice'], env=env), 0)
        after = read(cfg)
        for line in before:
            if 'name = "old"' in line:
                self.assertIn(line.replace('}', '},', 1), after)
            else:
                self.assertIn(line, after)
        p = ctl(['check'], env=env)
        self.assertIn('  bench ', p.stdout)
        self.assertIn('  old ', p.stdout)
        text = read(cfg)
        p = ctl(['enroll', 'bench', '-H', '127.0.0.1', '-i', 'alice'], env=env)
        self.assertExit(p, 73)
        self.assertIn('already has a target "bench" (--force replaces it', p.stderr)
        self.assertEqual(read(cfg), text)
        with open(key) as f:
            key_text = f.read()
        p = ctl(['enroll', 'bench', '-H', '127.0.0.2', '-p', str(d.port), '-i', 'alice',
                 '--force'], env=env)
        self.assertExit(p, 0)
        # In place, under the same name, with the same key; the file as it
        # was beside it, and no extra target.
        self.assertIn('Kept %s' % key, p.stdout)
        with open(key) as f:
            self.assertEqual(f.read(), key_text)
        m = re.search(r'Replaced target "bench" in (\S+) \(the file as it was: (\S+)\)', p.stdout)
        self.assertTrue(m, p.stdout)
        self.assertEqual(read(m.group(2)), text)
        p = ctl(['check'], env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn('127.0.0.2', p.stdout)
        self.assertNotIn('replaced', p.stdout)
        self.assertEqual(read(cfg).count('name = "bench"'), 1)

        # A file with problems is not edited; a usage error is 64.
        with open(cfg, 'w') as f:
            f.write('targets = ( { name = "a" } { name = "b" } );\n')
        text = read(cfg)
        p = ctl(['enroll', 'other', '-H', 'h', '-i', 'alice'], env=env)
        self.assertExit(p, 78)
        self.assertEqual(read(cfg), text)
        self.assertExit(ctl(['enroll', 'other', '-i', 'alice'], env=env), 64)
        self.assertExit(ctl(['enroll', 'bad name', '-H', 'h', '-i', 'alice'], env=env), 64)
        self.assertExit(ctl(['enroll', '-H', 'h', '-i', 'alice'], env=env), 64)
        self.assertExit(ctl(['--force', 'send', 'ok'], env=env), 64)

    def test_enroll_steps_make_a_working_device(self):
        """The steps enroll prints, followed as printed on a fresh device
        config: the key installed, the device id, client and command put in
        siot.conf, the config checked, siotd (re)started, and the printed
        send works.  (Paths under /etc are taken under this test's folder,
        the key's group is this user's when there is no group siot, and the
        harness starts siotd where step 3 asks systemd to.)  The steps once
        left out the device id and the command, and ended with a reload
        that fails while a socket-activated siotd is not running."""
        import grp
        home = self.path('steps-home')
        cfg = os.path.join(home, '.config', 'siot', 'siot-ctl.conf')
        env = {'SIOT_CTL_CONFIG': cfg}
        port = free_port()
        p = ctl(['enroll', 'shed', '-H', '127.0.0.1:%d' % port, '-i', 'alice'], env=env)
        self.assertExit(p, 0)
        out = p.stdout
        root = self.path('device-root')
        os.makedirs(root)
        etc = lambda t: t.replace('/etc/', root + '/etc/')
        install = [l.strip() for l in out.splitlines() if l.strip().startswith('install ')]
        self.assertEqual(len(install), 1, out)
        argv = etc(install[0]).split()
        try:
            grp.getgrnam('siot')
        except KeyError:
            argv[argv.index('-g') + 1] = grp.getgrgid(os.getgid()).gr_name
        subprocess.run(argv, cwd=os.path.dirname(cfg), check=True)
        # Step 2's lines, from "device_id" to the end of the commands list.
        lines = out.splitlines()
        first = next(i for i, l in enumerate(lines) if l.strip().startswith('device_id'))
        last = next(i for i in range(first, len(lines)) if lines[i].strip() == ');' and
                    any('commands' in l for l in lines[first:i]))
        conf = os.path.join(root, 'etc', 'siot.conf')
        with open(conf, 'w') as f:
            f.write(etc('\n'.join(l[3:] for l in lines[first:last + 1])) + '\n')
        with open(conf) as f:
            self.assertIn('device_id = "shed";', f.read())
        check = [l.strip() for l in lines if 'siotd --check-config' in l]
        self.assertEqual(check, ['siotd --check-config && systemctl try-reload-or-restart '
                                 'siotd.service'])
        c = subprocess.run([SIOTD, '--check-config', '-c', conf], capture_output=True, text=True)
        self.assertEqual(c.returncode, 0, c.stderr + c.stdout)
        with open(conf) as f:
            d = self.daemon(f.read(), port=port)
        send = [l.split(': ', 1)[1] for l in lines if l.startswith('Then here: ')]
        self.assertEqual(send, ['siot-ctl -t shed send hello'])
        p = ctl(send[0].split()[1:], env=env)
        self.assertExit(p, 0)
        self.assertIn('hello from shed', p.stdout)
        self.assertIn('outcome=ok', d.log())

    def test_enroll_force_on_a_host_first_block(self):
        """--force finds the target by its name setting: in a block written
        host first, whose host is also its name, only that target changes,
        its key is kept, the default still names it, and the other target
        that has the same host stays as it was.  Text search once renamed the
        host instead, and left a new key with the file unchanged."""
        d = self.path('force')
        os.makedirs(d)
        cfg = os.path.join(d, 'siot-ctl.conf')
        key = os.path.join(d, 'garage.key')
        write_key(key)
        with open(key) as f:
            key_text = f.read()
        text = ('default = "garage";\n'
                'targets = (\n'
                '  { host = "garage"; name = "garage"; id = "alice"; key_file = "%s"; },\n'
                '  { name = "cabin"; host = "garage"; id = "alice"; key_file = "%s"; }\n'
                ');\n' % (key, key))
        with open(cfg, 'w') as f:
            f.write(text)
        os.chmod(cfg, 0o600)
        env = {'SIOT_CTL_CONFIG': cfg}
        p = ctl(['enroll', 'garage', '-H', 'garage2', '-i', 'alice', '--force'], env=env)
        self.assertExit(p, 0)
        with open(key) as f:
            self.assertEqual(f.read(), key_text)
        self.assertEqual(sorted(os.listdir(d))[:2], ['garage.key', 'siot-ctl.conf'])
        p = ctl(['check'], env=env)
        self.assertExit(p, 0)
        self.assertRegex(p.stdout, r'\n  garage +garage2 +\(default\)\n')
        self.assertRegex(p.stdout, r'\n  cabin +garage\n')
        # --new-key: a key in a file of its own; the old one is left alone.
        p = ctl(['enroll', 'garage', '-H', 'garage3', '-i', 'alice', '--force', '--new-key'],
                env=env)
        self.assertExit(p, 0)
        self.assertIn('Created %s' % os.path.join(d, 'garage-alice.key'), p.stdout)
        with open(key) as f:
            self.assertEqual(f.read(), key_text)

    def test_enroll_through_a_symlink(self):
        """A symlinked siot-ctl.conf is edited where it points; the link
        stays a link.  A link to nothing is refused, and nothing is made."""
        real_dir, link_dir = self.path('real'), self.path('links')
        os.makedirs(real_dir)
        os.makedirs(link_dir)
        real = os.path.join(real_dir, 'devices.conf')
        with open(real, 'w') as f:
            f.write('# mine\n')
        os.chmod(real, 0o600)
        link = os.path.join(link_dir, 'siot-ctl.conf')
        os.symlink(real, link)
        p = ctl(['enroll', 'pump', '-H', 'pump.lan', '-i', 'alice'], env={'SIOT_CTL_CONFIG': link})
        self.assertExit(p, 0)
        self.assertTrue(os.path.islink(link))
        with open(real) as f:
            self.assertIn('name = "pump"', f.read())
        self.assertTrue(os.path.exists(os.path.join(real_dir, 'pump-alice.key')))
        gone = os.path.join(link_dir, 'gone.conf')
        os.symlink(os.path.join(real_dir, 'nothing.conf'), gone)
        p = ctl(['enroll', 'well', '-H', 'well.lan', '-i', 'alice'], env={'SIOT_CTL_CONFIG': gone})
        self.assertExit(p, 78)
        self.assertIn('symbolic link to a file that is not there', p.stderr)
        self.assertTrue(os.path.islink(gone))
        self.assertFalse(os.path.exists(os.path.join(real_dir, 'nothing.conf')))
        self.assertFalse([n for n in os.listdir(real_dir) if n.startswith('well')])

    def test_broken_config_with_a_complete_command_line(self):
        """-H, -i and -k give everything a send needs: a config with any
        problem, syntax or not, is warned about and the send goes on (69
        here: nothing listens); one with unsafe permissions is still
        refused (78), as siot-ctl(1) says."""
        port = free_port()
        flags = ['-H', '127.0.0.1:%d' % port, '-i', 'alice', '-k', self.alice_key_path, '-T',
                 '2', 'send', 'ok']
        for text, said in (
                ('targets = ( { name = "a"; host = "h"; }\n', 'syntax error'),
                ('targets = ( { name = "a"; host = "h"; baud = 9600; } );\n',
                 'baud is for a serial port'),
                ('targets = ( { name = "a"; host = "h"; } );\n'
                 'groups = ( { name = "g"; targets = [ "nope" ]; } );\n', 'no target or group named'),
                ('default = "zz";\ntargets = ( { name = "a"; host = "h"; } );\n',
                 'no such target or group'),
                ('targets = ( { name = "a"; host = "h"; id = "bad id"; } );\n', 'use 1 to 32')):
            with self.subTest(text=text):
                cfg = self.path('broken.conf')
                with open(cfg, 'w') as f:
                    f.write(text)
                os.chmod(cfg, 0o600)
                p = ctl(['-c', cfg] + flags)
                self.assertExit(p, 69)
                self.assertIn('warning: %s:' % cfg, p.stderr)
                self.assertIn(said, p.stderr)
                self.assertIn('ignored: -H/-U, -i and -k give everything needed', p.stderr)
                os.chmod(cfg, 0o622)
                p = ctl(['-c', cfg] + flags)
                self.assertExit(p, 78)
                self.assertIn('writable by group and others', p.stderr)

    def test_whole_command_line_takes_nothing_from_the_default(self):
        """-H (or -S), -i and -k name a target whole: the default target's
        device id, timeout or protocol do not apply to it.  -S without -D
        once checked the default target's device id ("is device X, not
        Y", 76)."""
        d = self.daemon(self.conf_text)
        cfg = self.path('default.conf')
        with open(cfg, 'w') as f:
            f.write('default = "garage";\n'
                    'targets = ( { name = "garage"; host = "192.0.2.1"; device = "garage"; '
                    'id = "bob"; key_file = "/nonexistent.key"; protocol = "classic"; } );\n'
                    'groups = ( { name = "g"; targets = [ "garage" ]; } );\n')
        os.chmod(cfg, 0o600)
        p = ctl(['-c', cfg, '-H', '127.0.0.1:%d' % d.port, '-i', 'alice', '-k',
                 self.alice_key_path, 'send', 'ok'])
        self.assertExit(p, 0)
        with open(cfg) as f:
            text = f.read().replace('default = "garage"', 'default = "g"')
        with open(cfg, 'w') as f:
            f.write(text)
        p = ctl(['-c', cfg, '-H', '127.0.0.1:%d' % d.port, '-i', 'alice', '-k',
                 self.alice_key_path, 'send', 'ok'])
        self.assertExit(p, 0)

    def test_silent_tcp_peer_hints_at_serial_framing(self):
        """A TCP peer that sends nothing (a serial bridge without a wake-up,
        say): the timeout's message says what a serial line behind a bridge
        needs."""
        srv = socket.socket()
        srv.bind(('127.0.0.1', 0))
        srv.listen(1)
        self.addCleanup(srv.close)
        p = ctl(['-H', '127.0.0.1:%d' % srv.getsockname()[1], '-i', 'alice', '-k',
                 self.alice_key_path, '-T', '1', 'send', 'ok'])
        self.assertExit(p, 75)
        self.assertIn('nothing came on the connection (a serial line behind a TCP bridge needs '
                      '--framing serial)', p.stderr)

    def test_no_default_lists_every_target(self):
        """No default and no -t: the message names every target and group,
        never a few followed by '...'."""
        cfg = self.path('many.conf')
        with open(cfg, 'w') as f:
            f.write('targets = (\n%s\n);\ngroups = ( { name = "all"; targets = [ "t0", "t1" ]; } );\n'
                    % ',\n'.join('{ name = "t%d"; host = "h"; }' % i for i in range(12)))
        os.chmod(cfg, 0o600)
        p = ctl(['-c', cfg, 'send', 'ok'])
        self.assertExit(p, 78)
        self.assertIn('its targets: %s, all (group)\n' % ', '.join('t%d' % i for i in range(12)),
                      p.stderr)

    def test_enroll_edits_every_shape_of_file(self):
        """An empty targets list, a file with no targets list, and comments
        and strings that hold brackets and comment marks: the target lands in
        the list, everything else is kept, and the file reads back."""
        cfg = self.path('shapes.conf')
        env = {'SIOT_CTL_CONFIG': cfg}
        shapes = [
            'targets = ( );\n',
            '# no newline at the end\ntargets = ( { name = "a"; host = "h"; } )',
            '# nothing yet\n',
            'targets = (\n  { name = "a"; host = "h(1)"; id = "x"; /* a ( comment ) */\n'
            '    key_file = "/k#1"; } // a "quoted" ) comment\n  # ( another\n);\n',
            'targets = [ ];\n',
        ]
        for i, shape in enumerate(shapes):
            with self.subTest(shape=shape):
                with open(cfg, 'w') as f:
                    f.write(shape)
                key = self.path('n%d-alice.key' % i)
                p = ctl(['enroll', 'n%d' % i, '-H', '127.0.0.1:1', '-i', 'alice'], env=env)
                if shape.startswith('targets = ['):
                    # An array, not a list: refused, and the file is as it was.
                    self.assertExit(p, 78)
                    with open(cfg) as f:
                        self.assertEqual(f.read(), shape)
                    continue
                self.assertExit(p, 0)
                self.assertTrue(os.path.exists(key))
                with open(cfg) as f:
                    text = f.read()
                # Take the new block out again: what is left is the file as
                # it was, but for a comma after the entry that was last and
                # the space around it.
                block = re.compile(r'\n  \{ # siot-ctl enroll, [0-9-]+\n    name = "n%d";'
                                   r'[^\n]*\n[^\n]*\}' % i)
                self.assertEqual(len(block.findall(text)), 1, text)
                rest = block.sub('', text)
                squash = lambda t: ''.join(t.replace(',', '').split())
                rest = squash(rest)
                if 'targets' not in shape:  # a list was made for it
                    rest = rest.replace('targets=();', '')
                self.assertEqual(rest, squash(shape), text)
                # The new target is read from the edited file (and nothing
                # listens on port 1).
                p = ctl(['-t', 'n%d' % i, 'send', 'ok'], env=env)
                self.assertExit(p, 69)
                self.assertIn('127.0.0.1', p.stderr)

    def test_keygen_makes_folders_and_prints_the_fingerprint(self):
        """On a fresh account ~/.config/siot does not exist: keygen creates
        it (0700), and prints the key's fingerprint as ssh does."""
        def fingerprint(path):
            with open(path) as f:
                raw = base64.b64decode(f.read().strip())
            return 'SHA256:' + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip('=')
        home = self.path('home')
        os.mkdir(home, 0o755)
        out = os.path.join(home, '.config', 'siot', 'garage-alice.key')
        p = ctl(['keygen', '-o', out])
        self.assertExit(p, 0)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(home, '.config')).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(out)).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(home).st_mode), 0o755)  # existing: left alone
        self.assertEqual(p.stdout, '%s %s\n' % (fingerprint(out), out))
        self.assertRegex(p.stdout, r'^SHA256:[A-Za-z0-9+/]{43} ')
        p = ctl(['fingerprint', '-k', out])
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, '%s %s\n' % (fingerprint(out), out))
        # To stdout: the key alone there, the fingerprint on stderr.
        p = ctl(['keygen'])
        self.assertExit(p, 0)
        raw = base64.b64decode(p.stdout.strip())
        self.assertEqual(p.stderr, 'SHA256:%s\n' % base64.b64encode(
            hashlib.sha256(raw).digest()).decode().rstrip('='))
        # A device's key (0640) has a fingerprint too; siot-ctl would not
        # use it to send, but may print it.
        os.chmod(out, 0o640)
        self.assertExit(ctl(['fingerprint', '-k', out]), 0)
        p = ctl(['fingerprint'])
        self.assertExit(p, 64)
        self.assertIn('fingerprint needs -k KEYFILE', p.stderr)
        p = ctl(['fingerprint', '-k', self.path('none.key')])
        self.assertExit(p, 78)
        # A folder in the way that cannot be created: 73, nothing written.
        with open(self.path('file'), 'w'):
            pass
        p = ctl(['keygen', '-o', self.path('file/sub/k.key')])
        self.assertExit(p, 73)
        self.assertIn('cannot create the folder', p.stderr)

    def test_keygen(self):
        out = self.path('new.key')
        p = ctl(['keygen', '-o', out])
        self.assertExit(p, 0)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        with open(out) as f:
            text = f.read()
        self.assertEqual(len(base64.b64decode(text.strip(), validate=True)), 32)
        p = ctl(['keygen', '-o', out])
        self.assertExit(p, 73)
        self.assertIn('never overwrites', p.stderr)
        with open(out) as f:
            self.assertEqual(f.read(), text)
        p = ctl(['keygen'])
        self.assertExit(p, 0)
        self.assertEqual(len(base64.b64decode(p.stdout.strip(), validate=True)), 32)
        self.assertNotEqual(p.stdout, text)


if __name__ == '__main__':
    unittest.main(verbosity=2)

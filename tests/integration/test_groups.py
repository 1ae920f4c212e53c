"""siot-ctl -t GROUP: one request to each member, at most --parallel at a
time, one line (or JSON object) per device, and the worst status.

Every device here is a real siotd of its own (its own config, device id and
key for alice), over TCP or a Unix socket; the unreachable and silent
members are a closed port and a listener that never says HELLO.
"""
import json
import os
import signal
import socket
import subprocess
import time
import unittest

from harness import SIOT_CTL, Case, Daemon, ctl, wait_until, write_key, write_script


class Groups(Case):
    def device(self, name, body, allowed=True, socket_path=False, timeout=None):
        """A siotd with one command "x" running the shell body; returns
        (Daemon, its target block for siot-ctl.conf)."""
        d = os.path.join(self.dir, name)
        os.mkdir(d)
        key = os.path.join(d, 'alice.key')
        write_key(key)
        write_script(os.path.join(d, 'x.sh'), body % {'d': d, 'name': name})
        conf = ('device_id = "%s";\n'
                'clients = ( { id = "alice"; key_file = "%s"; commands = [ %s ]; } );\n'
                'commands = ( { name = "x"; exec = [ "%s/x.sh" ]; output = true;%s },\n'
                '             { name = "y"; exec = [ "%s/x.sh" ]; } );\n'
                % (name, key, '"x"' if allowed else '"y"', d,
                   ' timeout = %s;' % timeout if timeout else '', d))
        extra = []
        sock = os.path.join(d, 'siotd.sock')
        if socket_path:
            extra = ['--listen', sock]
        daemon = Daemon(d, conf, extra=extra)
        self.daemons.append(daemon)
        daemon.start()
        where = ('socket = "%s";' % sock if socket_path
                 else 'host = "127.0.0.1"; port = %d;' % daemon.port)
        return daemon, ('{ name = "%s"; %s device = "%s"; id = "alice"; key_file = "%s"; }'
                        % (name, where, name, key))

    def ran(self, name):
        try:
            with open(os.path.join(self.dir, name, 'ran')) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def write_conf(self, targets, groups):
        cfg = self.path('ctl.conf')
        with open(cfg, 'w') as f:
            f.write('targets = (\n  %s\n);\ngroups = (\n  %s\n);\n'
                    % (',\n  '.join(targets),
                       ',\n  '.join('{ name = "%s"; targets = [ %s ]; }'
                                    % (g, ', '.join('"%s"' % m for m in ms))
                                    for g, ms in groups)))
        os.chmod(cfg, 0o600)
        return cfg

    def test_twenty_devices_both_transports(self):
        names = ['dev%02d' % i for i in range(20)]
        targets = []
        for i, n in enumerate(names):
            # A start and an end time per run, to see how many overlapped.
            _, t = self.device(n, 'echo "$(date +%%s.%%N)" >> "%(d)s/ran"\nsleep 0.3\n'
                                  'echo "$(date +%%s.%%N)" >> "%(d)s/ran"\necho "I am %(name)s"',
                               socket_path=(i % 3 == 0))
            targets.append(t)
        cfg = self.write_conf(targets, [('all', names)])
        p = ctl(['-c', cfg, '-t', 'all', '--parallel', '20', 'send', 'x'])
        self.assertExit(p, 0)
        lines = p.stdout.splitlines()
        self.assertEqual(sorted(l for l in lines if not l.startswith(' ')),
                         ['%s: ok' % n for n in names])
        for n in names:  # each device's output follows its own line
            self.assertIn('%s: ok\n  I am %s\n' % (n, n), p.stdout)
            self.assertEqual(len(self.ran(n)), 2, n)  # ran once
        # In the group's order, whatever order they finished in.
        self.assertEqual([l for l in lines if not l.startswith(' ')],
                         ['%s: ok' % n for n in names])
        self.assertRegex(p.stderr, r'^siot-ctl: group "all", 20 devices: 20 ok \([0-9.]+ s\)\n$')

        # --json: one object per device, with the target first.
        p = ctl(['-c', cfg, '-t', 'all', '--json', 'send', 'x'])
        self.assertExit(p, 0)
        objs = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(sorted(o['target'] for o in objs), names)
        for o in objs:
            self.assertEqual(list(o)[0], 'target')
            self.assertEqual((o['command'], o['status'], o['authentic']), ('x', 'ok', True))
            self.assertEqual(o['output'], 'I am %s\n' % o['target'])

        # --parallel 3: never more than three devices busy at once.
        for n in names:
            os.unlink(os.path.join(self.dir, n, 'ran'))
        p = ctl(['-c', cfg, '-t', 'all', '--parallel', '3', 'send', 'x'])
        self.assertExit(p, 0)
        spans = [tuple(map(float, self.ran(n))) for n in names]
        self.assertEqual(len(spans), 20)
        most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
        self.assertLessEqual(most, 3)
        self.assertGreaterEqual(most, 2)  # and it did run some at once

    def test_quiet_progress_and_file_limits(self):
        """--quiet leaves only failures; a progress line goes to a terminal
        and is gone before the summary; a low soft limit on open files is
        raised, and a low hard one means fewer devices at once, said."""
        targets, names = [], ['d%02d' % i for i in range(12)]
        for n in names:
            targets.append(self.device(n, 'echo x >> "%(d)s/ran"\nsleep 0.2')[1])
        closed_l = socket.socket()
        closed_l.bind(('127.0.0.1', 0))
        targets.append('{ name = "closed"; host = "127.0.0.1"; port = %d; id = "alice"; '
                       'key_file = "%s"; }' % (closed_l.getsockname()[1], self.alice_key_path))
        closed_l.close()
        cfg = self.write_conf(targets, [('all', names + ['closed']), ('fine', names)])

        p = ctl(['-c', cfg, '-t', 'all', '-q', 'send', 'x'])
        self.assertExit(p, 69)
        self.assertRegex(p.stdout, r'^closed: unreachable: could not connect to 127\.0\.0\.1:'
                                   r'[0-9]+: Connection refused\n$')
        self.assertRegex(p.stderr, r'^siot-ctl: group "all", 13 devices: 12 ok, 1 unreachable '
                                   r'\([0-9.]+ s\)\n$')
        p = ctl(['-c', cfg, '-t', 'fine', '-q', 'send', 'x'])
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        p = ctl(['-c', cfg, '-t', 'fine', '-q', '-v', 'send', 'x'])
        self.assertExit(p, 64)

        # stderr on a terminal (a pty of the test's own): the progress
        # line, rewritten in place, then erased before the summary.
        import pty
        master, slave = pty.openpty()
        proc = subprocess.Popen([SIOT_CTL, '-c', cfg, '-t', 'all', '--parallel', '2', 'send',
                                 'x'], stdout=subprocess.PIPE, stderr=slave,
                                env=dict(os.environ, SIOT_CTL_CONFIG='/nonexistent'))
        os.close(slave)
        out, _ = proc.communicate(timeout=60)
        tty = b''
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            tty += chunk
        os.close(master)
        self.assertEqual(proc.returncode, 69)
        text = tty.decode()
        self.assertRegex(text, r'\r[0-9]+/13 answered, [01] failed\x1b\[K')
        self.assertIn('\r13/13 answered, 1 failed\x1b[K', text)
        self.assertRegex(text, r'\r\x1b\[Ksiot-ctl: group "all", 13 devices: 12 ok, '
                               r'1 unreachable \([0-9.]+ s\)\r?\n$')
        self.assertEqual(out.decode().count(': ok\n'), 12)

        def limits(soft, hard):
            return lambda: __import__('resource').setrlimit(
                __import__('resource').RLIMIT_NOFILE, (soft, hard))
        for soft, hard, said in ((20, 4096, None), (20, 40, 'at most 8 devices at once')):
            for n in names:
                os.unlink(os.path.join(self.dir, n, 'ran'))
            proc = subprocess.run([SIOT_CTL, '-c', cfg, '-t', 'fine', '--parallel', '64',
                                   'send', 'x'], capture_output=True, text=True, timeout=60,
                                  preexec_fn=limits(soft, hard),
                                  env=dict(os.environ, SIOT_CTL_CONFIG='/nonexistent'))
            self.assertExit(proc, 0)
            self.assertEqual([n for n in names if len(self.ran(n)) != 1], [])
            if said:
                self.assertIn('siot-ctl: warning: this process may open only 40 files (ulimit '
                              '-n, hard limit 40): %s' % said, proc.stderr)
            else:
                self.assertNotIn('warning', proc.stderr)

    def test_worst_status_wins(self):
        ok = self.device('ok', 'echo ok >> "%(d)s/ran"')[1]
        failed = self.device('failed', 'echo x >> "%(d)s/ran"\nexit 3')[1]
        rejected = self.device('rejected', 'echo x >> "%(d)s/ran"', allowed=False)[1]
        slow_d, slow = self.device('slow', 'echo x >> "%(d)s/ran"\nsleep 2')
        # A second target for the same device: one of the two gets BUSY.
        slow2 = slow.replace('name = "slow"', 'name = "slow2"')
        hang = self.device('hang', 'sleep 60', timeout='0.5')[1]
        gone_d, gone = self.device('gone', 'true')
        os.unlink(os.path.join(self.dir, 'gone', 'x.sh'))  # now it cannot run: ERROR
        silent_l = socket.socket()  # accepts (backlog) and never says HELLO
        silent_l.bind(('127.0.0.1', 0))
        silent_l.listen(8)
        self.addCleanup(silent_l.close)
        silent = ('{ name = "silent"; host = "127.0.0.1"; port = %d; id = "alice"; '
                  'key_file = "%s"; timeout = 2.0; }' % (silent_l.getsockname()[1],
                                                          self.alice_key_path))
        closed_l = socket.socket()
        closed_l.bind(('127.0.0.1', 0))
        closed = ('{ name = "closed"; host = "127.0.0.1"; port = %d; id = "alice"; '
                  'key_file = "%s"; }' % (closed_l.getsockname()[1], self.alice_key_path))
        closed_l.close()
        impostor = ok.replace('name = "ok"', 'name = "impostor"').replace(
            'device = "ok"', 'device = "garage"')
        groups = [('g1', ['ok', 'failed']), ('g2', ['failed', 'rejected']),
                  ('g3', ['rejected', 'slow', 'slow2']), ('g4', ['slow', 'hang']),
                  ('g5', ['hang', 'gone']), ('g6', ['gone', 'silent']),
                  ('g7', ['silent', 'closed']), ('g8', ['closed', 'impostor', 'ok'])]
        cfg = self.write_conf([ok, failed, rejected, slow, slow2, hang, gone, silent, closed,
                               impostor], groups)
        want = {'g1': 1, 'g2': 2, 'g3': 3, 'g4': 4, 'g5': 5, 'g6': 75, 'g7': 69, 'g8': 76}
        lines, busy = {}, None
        for g, _ in groups:
            p = ctl(['-c', cfg, '-t', g, 'send', 'x'])
            self.assertExit(p, want[g])
            for l in p.stdout.splitlines():
                if not l.startswith(' '):
                    lines[l.split(':')[0]] = l
            if g == 'g3':
                busy = sorted(lines[n].split(': ', 1)[1] for n in ('slow', 'slow2'))
                time.sleep(2.2)  # let the slow one finish before g4
        self.assertEqual(lines['ok'], 'ok: ok')
        self.assertEqual(lines['failed'], 'failed: failed (exit 3)')
        self.assertEqual(lines['rejected'],
                         'rejected: rejected: no command that this client may run has this name')
        self.assertEqual(lines['hang'], 'hang: timeout')
        self.assertEqual(lines['gone'], 'gone: error')
        self.assertRegex(lines['silent'], r'^silent: network timeout: timed out waiting for the HELLO')
        self.assertRegex(lines['closed'], r'^closed: unreachable: .*refused')
        self.assertEqual(lines['impostor'],
                         'impostor: not authentic: 127.0.0.1:%d is device "ok", not "garage"'
                         % self.daemons[0].port)
        self.assertEqual(busy, ['busy: the command or its GPIO line is in use; try again when '
                                'it has finished', 'ok'])
        # Run by g1 and g8; the impostor target refused the HELLO of device
        # "ok" before sending anything.
        self.assertEqual(self.ran('ok'), ['ok'] * 2)

    def test_errors_on_this_side_send_nothing(self):
        a = self.device('a', 'echo x >> "%(d)s/ran"')[1]
        b_d, b = self.device('b', 'echo x >> "%(d)s/ran"')
        cfg = self.write_conf([a, b], [('both', ['a', 'b'])])
        os.chmod(os.path.join(self.dir, 'b', 'alice.key'), 0o644)
        p = ctl(['-c', cfg, '-t', 'both', 'send', 'x'])
        self.assertExit(p, 78)
        self.assertIn('unprotected key file', p.stderr)
        self.assertIn('(in target "b" of group "both"; nothing was sent to any device)', p.stderr)
        self.assertEqual(p.stdout, '')
        os.chmod(os.path.join(self.dir, 'b', 'alice.key'), 0o600)
        p = ctl(['-c', cfg, '-t', 'both', '-H', '127.0.0.1', 'send', 'x'])
        self.assertExit(p, 64)
        self.assertIn('-H is for one device; "both" is a group of 2', p.stderr)
        for flag, value in (('-p', '7468'), ('-U', '/run/x.sock'), ('-M', 'mqtt://b'),
                            ('-D', 'dev'), ('-i', 'bob'), ('-k', '/k'), ('--protocol', 'v1'),
                            ('--hash', 'sha256'), ('--tag-length', '32'),
                            ('--challenge-length', '32'), ('--wakeup-length', '1')):
            p = ctl(['-c', cfg, '-t', 'both', flag, value, 'send', 'x'])
            self.assertExit(p, 64)
            self.assertIn('%s is for one device' % flag, p.stderr)
        p = ctl(['-c', cfg, '-t', 'both', '--parallel', '0', 'send', 'x'])
        self.assertExit(p, 64)
        self.assertEqual(self.ran('a') + self.ran('b'), [])
        p = ctl(['-c', cfg, '-t', 'both', '-T', '5', 'send', 'x', 'x'])
        self.assertExit(p, 0)
        self.assertIn('a: ok (2 commands)\n', p.stdout)
        self.assertEqual(self.ran('a') + self.ran('b'), ['x'] * 4)
        p = ctl(['-c', cfg, 'check'])
        self.assertExit(p, 0)
        self.assertIn('2 target(s), 1 group(s)', p.stdout)
        self.assertRegex(p.stdout, r'\n  both +group of 2 target\(s\)\n')
        # A member this side cannot use: no address, a classic one-character
        # name, a missing key.  Each ends the run before anything is sent.
        key = os.path.join(self.dir, 'a', 'alice.key')
        for member, args, code, said in (
                ('{ name = "c"; id = "alice"; key_file = "%s"; }' % key, ['x'], 78,
                 'target "c" has no host, socket or mqtt'),
                ('{ name = "c"; host = "127.0.0.1"; protocol = "classic"; key_file = "%s"; }' % key,
                 ['y'], 64, 'classic refuses one-character command names'),
                ('{ name = "c"; host = "127.0.0.1"; id = "alice"; key_file = "%s/none.key"; }'
                 % self.dir, ['x'], 78, 'none.key'),
                ('{ name = "c"; mqtt = "mqtts://127.0.0.1"; device = "c"; id = "alice"; '
                 'key_file = "%s"; }' % key, ['x'], 64, 'mqtts needs the CA certificates')):
            cfg2 = self.write_conf([a, b, member], [('three', ['a', 'b', 'c'])])
            p = ctl(['-c', cfg2, '-t', 'three', 'send'] + args)
            self.assertExit(p, code)
            self.assertIn(said, p.stderr)
            self.assertIn('(in target "c" of group "three"; nothing was sent to any device)',
                          p.stderr)
        self.assertEqual(self.ran('a') + self.ran('b'), ['x'] * 4)

    def test_a_worker_that_dies_is_reported(self):
        """A device's worker killed before it reports: its line says so, the
        status is 70 (worse than any device's), and the others still report."""
        a = self.device('a', 'echo x >> "%(d)s/ran"')[1]
        silent = socket.socket()  # accepts (backlog), never says HELLO
        silent.bind(('127.0.0.1', 0))
        silent.listen(8)
        self.addCleanup(silent.close)
        mute = ('{ name = "mute"; host = "127.0.0.1"; port = %d; id = "alice"; key_file = "%s"; }'
                % (silent.getsockname()[1], self.alice_key_path))
        cfg = self.write_conf([a, mute], [('both', ['a', 'mute'])])
        proc = subprocess.Popen([SIOT_CTL, '-c', cfg, '-t', 'both', '-T', '30', 'send', 'x'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        kids = []

        def workers():
            kids[:] = subprocess.run(['pgrep', '-P', str(proc.pid)], capture_output=True,
                                     text=True).stdout.split()
            return kids
        self.assertTrue(wait_until(lambda: self.ran('a') == ['x'] and len(workers()) == 1, 10))
        os.kill(int(kids[0]), signal.SIGKILL)  # the one waiting for mute's HELLO
        out, err = proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 70, out + err)
        self.assertIn('a: ok\n', out)
        self.assertIn("mute: error: siot-ctl's worker for this device was killed by signal 9 "
                      'before it reported; the command may have run\n', out)

    def test_several_commands_and_their_outputs(self):
        a = self.device('a', 'echo x >> "%(d)s/ran"\nprintf "one\\ntwo\\n"')[1]
        b = self.device('b', 'echo x >> "%(d)s/ran"\nexit 3')[1]
        cfg = self.write_conf([a, b], [('both', ['a', 'b'])])
        p = ctl(['-c', cfg, '-t', 'both', 'send', 'x', 'x'])
        self.assertExit(p, 1)
        self.assertIn('a: ok (2 commands)\n  x:\n    one\n    two\n  x:\n    one\n    two\n',
                      p.stdout)
        self.assertIn('b: x: failed (exit 3); 1 more not sent\n', p.stdout)
        self.assertEqual(self.ran('b'), ['x'])  # the second was not sent
        p = ctl(['-c', cfg, '-t', 'both', '--json', 'send', 'x', 'x'])
        objs = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(sorted((o['target'], o['status']) for o in objs),
                         [('a', 'ok'), ('a', 'ok'), ('b', 'failed'), ('b', 'not-sent')])


if __name__ == '__main__':
    unittest.main(verbosity=2)

"""A fleet: siot-ctl's group send to 300 real siotd processes on one real
mosquitto (above the old cap of 256 members), through one shared broker
connection.

Each device's action appends a line to a marker file in its own folder:
the test counts, per device, how many times the command ran.  The fleet
and the broker are shared by the tests of the class (starting 300 daemons
is the slow part); each test leaves every device connected.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from fleet import Fleet, raise_nofile
from harness import SIOT_CTL, SIOTD, ctl, wait_until, write_key, write_script
from mqttraw import MOSQUITTO, Broker

N = 300
HAVE_MOSQUITTO = os.path.exists(MOSQUITTO)


@unittest.skipUnless(HAVE_MOSQUITTO or os.environ.get('CI') == 'true',
                     'needs mosquitto (apt install mosquitto)')
@unittest.skipIf(os.environ.get('SIOT_QEMU_USER') == '1',
                 '300 daemons under emulation: run natively (CI runs it natively)')
class Fleet300(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise_nofile()
        cls.dir = tempfile.mkdtemp(prefix='siot-fleet-')
        os.chmod(cls.dir, 0o755)
        cls.key = os.path.join(cls.dir, 'alice.key')
        write_key(cls.key)
        write_script(os.path.join(cls.dir, 'mark.sh'), 'echo ran >> "$1/marks"\nsleep "$2"')
        cls.broker = Broker(cls.dir, 'broker').start()
        cls.url = 'mqtt://127.0.0.1:%d' % cls.broker.port
        mark = os.path.join(cls.dir, 'mark.sh')
        cls.fleet = Fleet(SIOTD, cls.dir, cls.url, N, cls.key,
                          '{ name = "mark"; exec = [ "%s", "DIR", "0" ]; },\n'
                          '{ name = "slowmark"; exec = [ "%s", "DIR", "0.3" ]; }'
                          % (mark, mark))
        try:
            cls.fleet.start()
        except Exception:
            cls.tearDownClass()
            raise
        cls.cfg = cls.fleet.client_config(os.path.join(cls.dir, 'ctl.conf'))

    @classmethod
    def tearDownClass(cls):
        cls.fleet.stop()
        cls.broker.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def marks(self, i):
        try:
            with open(os.path.join(self.fleet.dir(i), 'marks')) as f:
                return len(f.read().split())
        except FileNotFoundError:
            return 0

    def clear_marks(self):
        for i in range(1, N + 1):
            try:
                os.unlink(os.path.join(self.fleet.dir(i), 'marks'))
            except FileNotFoundError:
                pass

    def clients_connected(self):
        return self.broker.log().count('New client connected')

    def send(self, *args, timeout=120):
        return ctl(['-c', self.cfg] + list(args), timeout=timeout)

    def test_every_member_answers_once_through_one_connection(self):
        self.clear_marks()
        before = self.clients_connected()
        p = self.send('-t', 'all', '--json', 'send', 'mark')
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        objs = [json.loads(l) for l in p.stdout.splitlines()]
        # One object per device, in the group's order, each answered.
        self.assertEqual([o['target'] for o in objs], ['dev%d' % i for i in range(1, N + 1)])
        self.assertEqual({(o['status'], o['authentic']) for o in objs}, {('ok', True)})
        self.assertEqual([i for i in range(1, N + 1) if self.marks(i) != 1], [])
        self.assertRegex(p.stderr, r'^siot-ctl: group "all", %d devices: %d ok \([0-9.]+ s\)\n$'
                         % (N, N))
        # siot-ctl made one broker connection for all 300 sessions.
        self.assertTrue(wait_until(lambda: self.clients_connected() == before + 1, 5),
                        self.clients_connected() - before)

        # A pattern picks the same devices; --quiet prints nothing when all
        # went well.
        p = self.send('-t', 'dev1?', '-q', 'send', 'mark')
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertEqual([i for i in range(10, 20) if self.marks(i) != 2], [])
        self.assertEqual(self.marks(1), 1)

    def test_a_device_that_is_down_or_mute_holds_no_one(self):
        """dev7's siotd is stopped: the broker says nobody listens, 69 at
        once.  dev8's is frozen (SIGSTOP) while subscribed: it times out
        (75).  Everyone else answers, each before dev8's timeout."""
        self.clear_marks()
        self.fleet.stop([7])
        self.fleet.procs[8].send_signal(signal.SIGSTOP)
        try:
            p = self.send('-t', 'all', '-T', '5', '--json', 'send', 'mark')
        finally:
            self.fleet.procs[8].send_signal(signal.SIGCONT)
            self.fleet.start([7])
        self.assertEqual(p.returncode, 69, p.stderr[-2000:])  # 69 is worse than 75
        objs = {o['target']: o for o in map(json.loads, p.stdout.splitlines())}
        self.assertEqual(len(objs), N)
        self.assertEqual(objs['dev7']['status'], 'error')
        self.assertIn('no device is subscribed to siot/dev7/in', objs['dev7']['error'])
        self.assertEqual(objs['dev8']['status'], 'error', objs['dev8'])
        self.assertIn('timed out', objs['dev8']['error'])
        others = [o for t, o in objs.items() if t not in ('dev7', 'dev8')]
        self.assertEqual({o['status'] for o in others}, {'ok'})
        # Nobody waited for dev8: every other answer came before its end.
        self.assertLess(max(o['elapsed_ms'] for o in others), objs['dev8']['elapsed_ms'])
        self.assertLess(objs['dev7']['elapsed_ms'], objs['dev8']['elapsed_ms'])
        self.assertEqual([i for i in range(1, N + 1) if self.marks(i) != (i not in (7, 8))], [])
        self.assertIn('%d ok' % (N - 2), p.stderr)
        self.assertIn('1 network timeout, 1 unreachable', p.stderr)

    def test_the_broker_restarting_mid_fan_out_runs_nothing_twice(self):
        """mosquitto stops while the fan-out is under way and starts again
        on the same port.  Whatever each member's outcome, no command ran
        twice, and each member has one line of output."""
        self.clear_marks()
        proc = subprocess.Popen([SIOT_CTL, '-c', self.cfg, '-t', 'all', '-T', '20', '--json',
                                 'send', 'slowmark'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=dict(os.environ, SIOT_CTL_CONFIG='/nonexistent'))
        try:
            self.assertTrue(wait_until(
                lambda: sum(self.marks(i) for i in range(1, N + 1)) >= 60, 30))
            self.broker.stop()
            time.sleep(0.5)
            self.broker.start()
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        objs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([o['target'] for o in objs], ['dev%d' % i for i in range(1, N + 1)])
        self.assertEqual([i for i in range(1, N + 1) if self.marks(i) > 1], [], err[-2000:])
        for o in objs:
            if o['status'] == 'ok':
                self.assertEqual(self.marks(int(o['target'][3:])), 1, o)
        # The run saw the restart: some members failed, and the summary
        # counts every one of them.
        self.assertNotEqual(proc.returncode, 0, err[-2000:])
        counts = re.search(r'group "all", %d devices: (.*) \(' % N, err).group(1)
        self.assertEqual(sum(int(c.split()[0]) for c in counts.split(', ')), N)
        # Every device comes back to the broker (for the next test).
        self.assertTrue(wait_until(
            lambda: all(self.fleet.connected(i) >= 2 for i in range(1, N + 1)), 60))


if __name__ == '__main__':
    unittest.main(verbosity=2)

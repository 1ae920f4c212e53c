"""A fleet of real siotd processes on one broker, for the fleet test
(test_fleet.py) and the bench's fleet section (tests/bench/run).

Each device is its own siotd process (device ids dev1 ... devN) with a
config of its own, connected out to the broker and to nothing else
(listen = []).  One client key serves every device, as one person's key
enrolled on each.  client_config() writes siot-ctl's file: one target per
device and the group "all".
"""
import os
import resource
import signal
import subprocess
import time


def raise_nofile():
    """Every siotd, siot-ctl and mosquitto started here may open as many
    files as the hard limit allows (a broker with 1,000 clients needs more
    than the usual soft 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Fleet:
    def __init__(self, siotd, workdir, broker_url, n, key_path, command, extra=''):
        """command: the body of siotd's commands list (one or more
        { name = ...; } blocks); DEV in it becomes the device's id and DIR
        its folder.  extra: more of siot.conf (lines = ( ... ), say)."""
        self.siotd, self.work, self.url, self.n = siotd, workdir, broker_url, n
        self.key, self.command, self.extra = key_path, command, extra
        self.procs = {}

    def dir(self, i):
        return os.path.join(self.work, 'dev%d' % i)

    def log(self, i):
        try:
            with open(os.path.join(self.dir(i), 'siotd.log'), errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def start(self, which=None, limit=120.0):
        """Start devices (all of them, or those in which) and wait, bounded,
        until each has subscribed at the broker."""
        which = list(which or range(1, self.n + 1))
        for i in which:
            d = self.dir(i)
            os.makedirs(d, exist_ok=True)
            conf = os.path.join(d, 'siot.conf')
            with open(conf, 'w') as f:
                f.write('device_id = "dev%d";\nlisten = [];\n'
                        'mqtt = { broker = "%s"; };\n'
                        'clients = ( { id = "alice"; key_file = "%s"; } );\n'
                        'commands = (\n%s\n);\n%s'
                        % (i, self.url, self.key,
                           self.command.replace('DEV', 'dev%d' % i).replace('DIR', d), self.extra))
            with open(os.path.join(d, 'siotd.log'), 'ab') as log:
                self.procs[i] = subprocess.Popen([self.siotd, '-d', '-c', conf],
                                                 stdin=subprocess.DEVNULL, stdout=log,
                                                 stderr=log, start_new_session=True,
                                                 preexec_fn=raise_nofile)
        end = time.monotonic() + limit
        waiting = set(which)
        while waiting and time.monotonic() < end:
            for i in list(waiting):
                if self.procs[i].poll() is not None:
                    raise RuntimeError('siotd of dev%d exited:\n%s' % (i, self.log(i)))
                if 'mqtt: connected' in self.log(i):
                    waiting.discard(i)
            time.sleep(0.1)
        if waiting:
            i = min(waiting)
            raise RuntimeError('%d devices did not connect to the broker; dev%d says:\n%s'
                               % (len(waiting), i, self.log(i)))
        return self

    def connected(self, i):
        """How many times device i has connected to the broker so far."""
        return self.log(i).count('mqtt: connected')

    def stop(self, which=None):
        which = list(which or list(self.procs))
        for i in which:
            p = self.procs.get(i)
            if p and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for i in which:
            p = self.procs.pop(i, None)
            if p:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(5)

    def client_config(self, path, key_path=None, group='all'):
        """siot-ctl's file: a target per device and the group of them all."""
        with open(path, 'w') as f:
            f.write('targets = (\n')
            f.write(',\n'.join('  { name = "dev%d"; mqtt = "%s"; device = "dev%d"; '
                               'id = "alice"; key_file = "%s"; }'
                               % (i, self.url, i, key_path or self.key)
                               for i in range(1, self.n + 1)))
            f.write('\n);\ngroups = ( { name = "%s"; targets = [ "dev*" ]; } );\n' % group)
        os.chmod(path, 0o600)
        return path

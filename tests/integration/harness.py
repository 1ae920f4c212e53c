"""Shared pieces of the integration tests: real siotd processes on loopback,
siot-ctl runs, and a raw protocol client written independently of the C
code (Python's hmac) for the requests siot-ctl would never send.

Every process a test starts is stopped by PID in tearDown; every wait is
bounded.  Paths of the built programs come from the environment that
tests/meson.build sets: SIOTD, SIOT_CTL.
"""
import hashlib
import hmac
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

SIOTD = os.environ.get('SIOTD', 'siotd')
SIOT_CTL = os.environ.get('SIOT_CTL', 'siot-ctl')
SOURCE_ROOT = os.environ.get('SOURCE_ROOT', os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
SOCKET_ACTIVATE = shutil.which('systemd-socket-activate') or '/usr/bin/systemd-socket-activate'

STATUS = {'ok': 0, 'failed': 1, 'rejected': 2, 'busy': 3, 'timeout': 4, 'error': 5}


def free_port(host='127.0.0.1'):
    return free_ports(1, host)[0]


def free_ports(n, host='127.0.0.1'):
    """n distinct free ports: each socket is held until all are bound, as
    the kernel may hand a port just closed out again."""
    held = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind((host, 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def wait_until(pred, timeout=10.0, step=0.05):
    """Poll pred() until it is true or timeout passes; returns its last value."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > end:
            return v
        time.sleep(step)


def gone(pid):
    """True when process pid has ended (a zombie not yet reaped counts)."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(') ', 1)[1].startswith('Z')
    except (FileNotFoundError, ProcessLookupError):
        return True


def write_key(path, raw=None, mode=0o600):
    import base64
    raw = raw if raw is not None else os.urandom(32)
    with open(path, 'w') as f:
        f.write(base64.b64encode(raw).decode() + '\n')
    os.chmod(path, mode)
    return raw


def cgroup2_mount():
    """Where cgroup v2 is mounted (/sys/fs/cgroup, or .../unified on a
    hybrid host), or None."""
    with open('/proc/self/mounts') as f:
        for line in f:
            fields = line.split()
            if fields[2] == 'cgroup2':
                return fields[1]
    return None


def write_script(path, body):
    with open(path, 'w') as f:
        f.write('#!/bin/sh\n' + body + '\n')
    os.chmod(path, 0o755)
    return path


class Daemon:
    """siotd on 127.0.0.1:port, started directly (--listen) or by
    systemd-socket-activate, the way systemd starts it (Accept=no)."""

    def __init__(self, workdir, config_text, mode='listen', port=None, extra=(),
                 cgroup=None, env=None):
        self.workdir = workdir
        self.port = port or free_port()
        self.conf = os.path.join(workdir, 'siot.conf')
        with open(self.conf, 'w') as f:
            f.write(config_text)
        self.log_path = os.path.join(workdir, 'siotd-%d.log' % self.port)
        self.mode = mode
        self.extra = list(extra)
        self.cgroup = cgroup  # a cgroup v2 folder to start in, as systemd would
        self.env = env or {}  # more of the environment (NOTIFY_SOCKET, say)
        self.proc = None

    def start(self, expect_ready=True):
        log = open(self.log_path, 'ab')
        if self.mode == 'socket-activate':
            argv = [SOCKET_ACTIVATE, '-l', '127.0.0.1:%d' % self.port,
                    SIOTD, '-d', '-c', self.conf] + self.extra
        else:
            argv = [SIOTD, '-d', '-c', self.conf, '--listen', '127.0.0.1:%d' % self.port] + self.extra
        env = dict(os.environ)
        env.pop('LISTEN_FDS', None)
        env.pop('JOURNAL_STREAM', None)
        env.pop('INVOCATION_ID', None)
        env.update(self.env)
        join = None
        if self.cgroup:
            # What systemd does for a unit with Delegate=yes: start the
            # service in a cgroup of its own that it may write to.
            env['INVOCATION_ID'] = '0123456789abcdef0123456789abcdef'
            if self.mode == 'socket-activate':  # it passes on only what -E names
                argv[1:1] = ['-E', 'INVOCATION_ID']
            procs = os.path.join(self.cgroup, 'cgroup.procs')

            def join():
                with open(procs, 'w') as f:
                    f.write('0')
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env,
                                     start_new_session=True, preexec_fn=join)
        log.close()
        if expect_ready:
            if self.mode == 'socket-activate':
                ok = wait_until(self._port_open, 10)
            else:
                ok = wait_until(lambda: 'ready:' in self.log(), 10)
            if not ok:
                raise RuntimeError('siotd did not come up:\n' + self.log())
        return self

    def _port_open(self):
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=0.2) as s:
                # systemd-socket-activate starts siotd on this first connection;
                # wait for its HELLO so later tests see a running daemon.
                s.settimeout(5)
                s.recv(1)
                return True
        except OSError:
            return False

    def log(self):
        try:
            with open(self.log_path, errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self.proc = None


def ctl(args, timeout=60, env=None, config=None):
    """Run siot-ctl; returns CompletedProcess with text output."""
    e = dict(os.environ)
    e['SIOT_CTL_CONFIG'] = config or '/nonexistent/siot-ctl.conf'
    if env:
        e.update(env)
    return subprocess.run([SIOT_CTL] + list(args), capture_output=True, text=True,
                          timeout=timeout, env=e)


# ---- an independent v1/classic client -----------------------------------

def lp(b):
    return bytes([len(b)]) + b


class Raw:
    """A raw connection speaking the wire format byte by byte.  Tests make
    them with Case.raw(), which closes them at the end of the test."""

    def __init__(self, port, host='127.0.0.1', source=None, hash_name='sha256', tag_length=None,
                 challenge_length=32, classic=False, timeout=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.hash = getattr(hashlib, hash_name)
        self.digest = self.hash().digest_size
        self.tag_length = tag_length or self.digest
        self.challenge_length = challenge_length
        self.classic = classic
        self.hello = None

    def close(self):
        self.sock.close()

    def recv_exact(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError('closed after %d of %d bytes' % (len(buf), n))
            buf += chunk
        return buf

    def read_hello(self):
        if self.classic:
            self.hello = self.recv_exact(self.challenge_length)
            return self.hello
        head = self.recv_exact(8 + self.challenge_length + 1)
        assert head[:4] == b'SIOT', head
        d = self.recv_exact(head[-1])
        self.hello = head + d
        return self.hello

    def mac(self, key, msg):
        return hmac.new(key, msg, self.hash).digest()

    def request(self, key, client_id, command):
        if self.classic:
            self.tag = self.mac(key, self.hello + command.encode())
            self.client_id = b''
            return self.tag
        cid = client_id.encode() if isinstance(client_id, str) else client_id
        self.client_id = cid
        self.tag = self.mac(key, b'siot-v1 request\0' + self.hello + lp(cid) +
                            command.encode())[:self.tag_length]
        return lp(cid) + self.tag

    def send(self, data):
        self.sock.sendall(data)

    def read_response(self):
        """Returns (status, output_length, sealed, tag); raises EOFError."""
        if self.classic:
            return None, 0, b'', self.recv_exact(self.digest)
        head = self.recv_exact(3)
        status, olen = head[0], struct.unpack('>H', head[1:3])[0]
        sealed = self.recv_exact(olen + 16) if olen else b''
        return status, olen, sealed, self.recv_exact(self.tag_length)

    def verify(self, key, resp):
        """The result byte if the response verifies, else None."""
        status, olen, sealed, tag = resp
        for r in range(256):
            if self.classic:
                m = self.mac(key, self.hello + bytes([r]))
            else:
                m = self.mac(key, b'siot-v1 response\0' + self.hello + lp(self.client_id) +
                             self.tag + bytes([status]) + struct.pack('>H', olen) + sealed +
                             bytes([r]))[:self.tag_length]
            if hmac.compare_digest(m, tag):
                return r
        return None

    def closed(self, wait=5.0):
        """True if the peer closes (EOF or reset) within wait seconds, with no data."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return data == b''


class Case(unittest.TestCase):
    """A test with its own folder, a key for alice, and daemons stopped at the end."""

    mode = 'listen'

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='siot-it-')
        os.chmod(self.dir, 0o755)
        self.alice_key_path = os.path.join(self.dir, 'alice.key')
        self.alice_key = write_key(self.alice_key_path)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        self.daemon_logs = [(d.log_path, d.log()) for d in self.daemons]
        shutil.rmtree(self.dir, ignore_errors=True)

    def run(self, result=None):
        """Run the test; when it failed, print the logs of its daemons."""
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self.daemon_logs = []
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for path, text in self.daemon_logs:
                print('--- siotd log (%s)\n%s' % (path, text))
        return result

    def raw(self, port, **kw):
        """A Raw connection, closed when the test ends."""
        r = Raw(port, **kw)
        self.addCleanup(r.close)
        return r

    def raw_request(self, port, key, client_id, command, **kw):
        """Connect, read the HELLO, send one request; returns (Raw, response)
        where response is read_response()'s tuple."""
        r = self.raw(port, **kw)
        r.read_hello()
        r.send(r.request(key, client_id, command))
        return r, r.read_response()

    def path(self, name):
        return os.path.join(self.dir, name)

    def daemon(self, config_text, mode=None, start=True, **kw):
        d = Daemon(self.dir, config_text, mode=mode or self.mode, **kw)
        self.daemons.append(d)
        if start:
            d.start()
        return d

    def send(self, d, *commands, key=None, cid='alice', extra=(), timeout=60):
        args = ['-H', '127.0.0.1', '-p', str(d.port), '-i', cid,
                '-k', key or self.alice_key_path] + list(extra) + ['send'] + list(commands)
        return ctl(args, timeout=timeout)

    def send_background(self, d, *commands, key=None, cid='alice'):
        """siot-ctl sending commands while the test goes on; returns the Popen."""
        return subprocess.Popen(
            [SIOT_CTL, '-H', '127.0.0.1', '-p', str(d.port), '-i', cid,
             '-k', key or self.alice_key_path, 'send'] + list(commands),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=dict(os.environ, SIOT_CTL_CONFIG='/nonexistent'))

    def assertExit(self, proc, code):
        self.assertEqual(proc.returncode, code,
                         'exit %d, wanted %d\nstdout: %s\nstderr: %s' %
                         (proc.returncode, code, proc.stdout, proc.stderr))

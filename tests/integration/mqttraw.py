"""MQTT for the tests: mosquitto started with a config of its own (Broker),
and a small MQTT v5 client, written from the MQTT 5.0
specification: just what the tests need to publish what siot-ctl never would
(replays, duplicates, floods, odd topics) and to watch what siotd publishes.
CONNECT, SUBSCRIBE, PUBLISH at QoS 1 with Correlation Data and Response
Topic, PUBACK both ways.  Blocking, one socket, bounded waits.
"""
import os
import shutil
import socket
import struct
import subprocess
import time

from harness import free_port, wait_until

MOSQUITTO = shutil.which('mosquitto') or '/usr/sbin/mosquitto'


def port_open(port, host='127.0.0.1'):
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Broker:
    """mosquitto with a config of its own; stopped by PID."""

    def __init__(self, workdir, name='broker', port=None, lines=(), host='127.0.0.1'):
        self.host = host
        self.port = port or free_port()
        self.conf = os.path.join(workdir, name + '.conf')
        self.log_path = os.path.join(workdir, name + '.log')
        self.lines = list(lines)
        self.proc = None

    def start(self):
        with open(self.conf, 'w') as f:
            f.write('persistence false\nlog_dest stderr\nlog_type all\nset_tcp_nodelay true\n')
            if not any(l.startswith('listener') for l in self.lines):
                f.write('listener %d %s\n' % (self.port, self.host))
            if not any(l.startswith('allow_anonymous') for l in self.lines):
                f.write('allow_anonymous true\n')
            f.write(''.join(l + '\n' for l in self.lines))
        log = open(self.log_path, 'ab')
        self.proc = subprocess.Popen([MOSQUITTO, '-c', self.conf], stdout=log, stderr=log,
                                     start_new_session=True)
        log.close()
        if not wait_until(lambda: port_open(self.port, self.host), 10):
            raise RuntimeError('mosquitto did not come up:\n' + self.log())
        return self

    def log(self):
        with open(self.log_path, errors='replace') as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, DISCONNECT = 1, 2, 3, 4, 8, 9, 14
PROP_CORRELATION_DATA, PROP_RESPONSE_TOPIC = 0x09, 0x08


def varint(n):
    out = b''
    while True:
        b, n = n % 128, n // 128
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def string(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack('>H', len(b)) + b


class Message:
    def __init__(self, topic, payload, props):
        self.topic, self.payload, self.props = topic, payload, props

    @property
    def corr(self):
        return self.props.get(PROP_CORRELATION_DATA)


class MqttRaw:
    def __init__(self, port, user=None, password=None, timeout=5.0, client_id=None,
                 keepalive=30):
        self.sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.buf = b''
        self.pending = []      # PUBLISH messages read while waiting for something else
        self.acks = {}         # packet id -> reason code
        self.next_id = 1
        flags = 0x02 | (0x80 if user else 0) | (0x40 if password else 0)
        body = string('MQTT') + bytes([5, flags]) + struct.pack('>H', keepalive) + varint(0)
        body += string(client_id or 'siot-test-%d' % id(self))
        if user:
            body += string(user)
        if password:
            body += string(password)
        self._send(CONNECT, 0, body)
        kind, _, data = self._read_packet(time.monotonic() + timeout)
        if kind != CONNACK or data[1] != 0:
            self.sock.close()
            err = ConnectionError('CONNACK %r' % data[:2])
            err.reason = data[1] if kind == CONNACK and len(data) > 1 else None
            raise err

    def close(self):
        try:
            self._send(DISCONNECT, 0, b'\0')
        except OSError:
            pass
        self.sock.close()

    def _send(self, kind, flags, body):
        self.sock.sendall(bytes([kind << 4 | flags]) + varint(len(body)) + body)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError('no MQTT packet in time')
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError('the broker closed the connection')
        self.buf += chunk

    def _read_packet(self, deadline):
        while True:
            if len(self.buf) >= 2:
                n, mult, i = 0, 1, 1
                while i < len(self.buf):
                    b = self.buf[i]
                    n += (b & 0x7f) * mult
                    mult *= 128
                    i += 1
                    if not b & 0x80:
                        break
                else:
                    i = None
                if i is not None and len(self.buf) >= i + n:
                    head, data = self.buf[0], self.buf[i:i + n]
                    self.buf = self.buf[i + n:]
                    return head >> 4, head & 15, data
            self._fill(deadline)

    def _props(self, data, off):
        plen, mult = 0, 1
        while True:
            b = data[off]
            off += 1
            plen += (b & 0x7f) * mult
            mult *= 128
            if not b & 0x80:
                break
        end, props = off + plen, {}
        while off < end:
            pid = data[off]
            off += 1
            if pid in (PROP_CORRELATION_DATA, PROP_RESPONSE_TOPIC, 0x03, 0x1f):
                ln = struct.unpack('>H', data[off:off + 2])[0]
                props[pid] = data[off + 2:off + 2 + ln]
                off += 2 + ln
            elif pid == 0x01:
                props[pid] = data[off]
                off += 1
            elif pid in (0x02, 0x11, 0x27):
                off += 4
            elif pid in (0x23, 0x21):
                off += 2
            elif pid == 0x0b:
                while data[off] & 0x80:
                    off += 1
                off += 1
            elif pid == 0x26:
                for _ in range(2):
                    ln = struct.unpack('>H', data[off:off + 2])[0]
                    off += 2 + ln
            else:
                raise ValueError('property %#x' % pid)
        return props, end

    def _dispatch(self, kind, flags, data):
        if kind == PUBLISH:
            tlen = struct.unpack('>H', data[:2])[0]
            topic, off = data[2:2 + tlen].decode(), 2 + tlen
            qos = (flags >> 1) & 3
            if qos:
                pid = data[off:off + 2]
                off += 2
                self._send(PUBACK, 0, pid + b'\0')
            props, off = self._props(data, off)
            self.pending.append(Message(topic, data[off:], props))
        elif kind in (PUBACK, SUBACK):
            pid = struct.unpack('>H', data[:2])[0]
            rest = data[2:]
            if kind == PUBACK:
                code = rest[0] if rest else 0
            else:
                _, off = self._props(data, 2)
                code = data[off]
            self.acks[pid] = code

    def _wait_ack(self, pid, timeout):
        deadline = time.monotonic() + timeout
        while pid not in self.acks:
            self._dispatch(*self._read_packet(deadline))
        return self.acks.pop(pid)

    def _id(self):
        pid, self.next_id = self.next_id, self.next_id % 65535 + 1
        return pid

    def subscribe(self, topic, timeout=5.0):
        pid = self._id()
        self._send(SUBSCRIBE, 2, struct.pack('>H', pid) + varint(0) + string(topic) + b'\x01')
        return self._wait_ack(pid, timeout)

    def publish(self, topic, payload=b'', corr=None, rtopic=None, wait=True, timeout=5.0,
                retain=False):
        """QoS 1; returns the PUBACK's reason code (None when not waited for)."""
        props = b''
        if rtopic is not None:
            props += bytes([PROP_RESPONSE_TOPIC]) + string(rtopic)
        if corr is not None:
            props += bytes([PROP_CORRELATION_DATA]) + string(corr)
        pid = self._id()
        self._send(PUBLISH, 2 | (1 if retain else 0), string(topic) + struct.pack('>H', pid) + varint(len(props)) +
                   props + payload)
        return self._wait_ack(pid, timeout) if wait else None

    def next_message(self, timeout=5.0):
        """The next PUBLISH that arrived; raises TimeoutError."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            self._dispatch(*self._read_packet(deadline))
        return self.pending.pop(0)

    def quiet(self, seconds):
        """True when no PUBLISH arrives for that long."""
        try:
            self.next_message(seconds)
            return False
        except TimeoutError:
            return True

"""The firmware suite, ATmega328P part: the device core cross-built for an
ATmega328P at 16 MHz (src/device/cross/atmega328p.txt) and run in simavr
through avr-bridge, which bridges its USART0 to a TCP port or a
pseudo-terminal and reports PORTB/PORTD pin changes read from the simulated
part.  The real siot-ctl and siot-client drive it; the pins are checked from
outside the firmware.

Environment (tests/meson.build): SIOT_CTL, AVR_BRIDGE (empty when simavr's
library was not found), SOURCE_ROOT, FIRMWARE_BUILD (where the cross build
goes), NODE (empty without Node.js >= 20.19).  Without a toolchain the suite
says it is skipped (exit 77), except with CI set, where that is a failure.
"""
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SIOT_CTL = os.environ.get('SIOT_CTL', 'siot-ctl')
AVR_BRIDGE = os.environ.get('AVR_BRIDGE', '')
SOURCE_ROOT = os.environ.get('SOURCE_ROOT', os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
FIRMWARE_BUILD = os.environ.get('FIRMWARE_BUILD', os.path.join(tempfile.gettempdir(), 'siot-firmware-avr'))
NODE = os.environ.get('NODE', '')
CROSS = os.path.join(SOURCE_ROOT, 'src/device/cross/atmega328p.txt')
PROVISION = os.path.join(SOURCE_ROOT, 'src/device/provision.py')
FREQ = 16_000_000
DEVICE = 'promini'
CLIENT = 'ctl'


def skip_or_fail(why):
    if os.environ.get('CI'):
        print(f'FAIL: {why} (CI must run the firmware suite)')
        sys.exit(1)
    print(f'SKIP: {why}')
    sys.exit(77)


def missing_tools():
    for tool, pkg in (('avr-gcc', 'gcc-avr'), ('avr-size', 'binutils-avr'), ('avr-objdump', 'binutils-avr')):
        if not shutil.which(tool):
            return f'{tool} is missing (apt-get install {pkg} avr-libc)'
    if not os.path.exists('/usr/lib/avr/include/avr/io.h'):
        return 'avr-libc is missing (apt-get install avr-libc)'
    if not AVR_BRIDGE or not os.path.exists(AVR_BRIDGE):
        return 'avr-bridge was not built: simavr\'s library is missing (apt-get install libsimavr-dev libelf-dev, then meson setup --reconfigure)'
    found = subprocess.run([sys.executable, os.path.join(SOURCE_ROOT, 'src/proto/mbedtls/find.py')],
                           capture_output=True, text=True).stdout.strip()
    if not found:
        return 'no Mbed TLS sources for the firmware (.ci/fetch-mbedtls)'
    return None


def build_firmware():
    """The cross build, once per run; prints the images' sizes."""
    if not os.path.exists(os.path.join(FIRMWARE_BUILD, 'build.ninja')):
        subprocess.run(['meson', 'setup', '--cross-file', CROSS, FIRMWARE_BUILD, SOURCE_ROOT],
                       check=True, stdout=subprocess.DEVNULL)
    subprocess.run(['meson', 'compile', '-C', FIRMWARE_BUILD], check=True, stdout=subprocess.DEVNULL)
    size = subprocess.run(['meson', 'compile', '-C', FIRMWARE_BUILD, 'firmware-size'],
                          check=True, capture_output=True, text=True).stdout
    table = [l for l in size.splitlines() if l.startswith(('image', 'siot-'))]
    print('firmware: ATmega328P images (flash of the Pro Mini\'s 30,720 bytes; static RAM of 2,048)')
    for line in table:
        print('firmware:   ' + line)
        f = line.split()
        if f[0].startswith('siot-'):
            SIZES[f[0]] = {'flash': int(f[1]), 'ram': int(f[4])}
    return os.path.join(FIRMWARE_BUILD, 'src/device')


IMAGES = None
SIZES = {}  # image -> {'flash': bytes, 'ram': static RAM bytes}


def image(name):
    return os.path.join(IMAGES, f'siot-avr-{name}.elf')


def key_file(path, raw):
    with open(path, 'w') as f:
        f.write(raw.hex() + '\n')
    os.chmod(path, 0o600)


def provision(workdir, key_path, name='ee.bin', profile='v1', wakeup=4, timeout=5000, boot=0, extra=()):
    out = os.path.join(workdir, name)
    r = subprocess.run([sys.executable, PROVISION, '--key', key_path, '--client-id', CLIENT,
                        '--device-id', DEVICE, '--profile', profile, '--wakeup', str(wakeup),
                        '--timeout', str(timeout), '--boot', str(boot), '-o', out] + list(extra),
                       check=True, capture_output=True, text=True)
    return r.stdout.strip()  # the name it wrote: NAME.single-use.bin


class Bridge:
    """avr-bridge running an image; its report lines, parsed as they come."""

    def __init__(self, elf, eeprom, workdir, pty=False, extra=(), pins=True, w5100=False):
        self.eeprom_out = os.path.join(workdir, 'ee-out.bin')
        args = [AVR_BRIDGE, elf, '--eeprom', eeprom, '--eeprom-out', self.eeprom_out]
        args += ['--pty'] if pty else ['--w5100' if w5100 else '--listen', '127.0.0.1:0']
        self.proc = subprocess.Popen(args + list(extra), stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.lines = []
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        first = self.wait_line(lambda l: l.startswith(('listening', 'pty')), 10)
        if not first:
            self.stop()
            raise AssertionError('avr-bridge did not start')
        self.port = int(first.split()[2]) if first.startswith('listening') else None
        self.pty = first.split()[1] if first.startswith('pty') else None
        # The firmware sets its pins up first thing: let those changes pass
        # before a test marks where its own begin.
        if pins:
            self.wait_line(lambda l: l.startswith('pin'), 5)
            time.sleep(0.05)

    def _read(self):
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip('\n'))
                self.cond.notify_all()

    def wait_line(self, pred, timeout, start=0):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for l in self.lines[start:]:
                    if pred(l):
                        return l
                left = end - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self.reader.is_alive():
                    return None
                self.cond.wait(min(left, 0.2))

    def mark(self):
        with self.cond:
            return len(self.lines)

    def pins(self, pin, since=0):
        """[(level, cycle)] of pin Dpin's changes after line `since`."""
        with self.cond:
            out = []
            for l in self.lines[since:]:
                f = l.split()
                if f[0] == 'pin' and f[1] == f'D{pin}':
                    out.append((int(f[2]), int(f[3].split('=')[1])))
            return out

    def values(self, key, since=0):
        """Every value of key=N in report lines after `since`."""
        with self.cond:
            return [int(w.split('=')[1], 0) for l in self.lines[since:] for w in l.split()
                    if w.startswith(key + '=')]

    def reset(self):
        m = self.mark()
        self.proc.send_signal(signal.SIGHUP)
        assert self.wait_line(lambda l: l.startswith('reset'), 10, m), 'no reset'

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(5)

    def boot_counter(self):
        """The larger of the two valid copies (provision.h, layout 2)."""
        with open(self.eeprom_out, 'rb') as f:
            ee = f.read(BOOT_AT + 16)
        valid = [c for c, n in (struct.unpack('<II', ee[at:at + 8])
                                for at in (BOOT_AT, BOOT_AT + 8)) if c ^ n == 0xffffffff]
        return max(valid) if valid else None


BOOT_AT = 208  # the boot counter's two copies (provision.h, PROV_OFF_BOOT_A)


class RawSerial:
    """A v1 client written here with Python's hmac, over the TCP bridge, for
    what siot-ctl never sends: a captured request again."""

    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=10)

    def hello(self):
        buf = b''
        deadline = time.monotonic() + 10
        while len(buf) < 9 + 32 + len(DEVICE):  # fixed fields with the id length, challenge, id
            if not buf:
                self.s.sendall(b'\0' * 4)
                self.s.settimeout(0.25)
            try:
                chunk = self.s.recv(256)
            except socket.timeout:
                assert time.monotonic() < deadline, 'no HELLO'
                continue
            self.s.settimeout(10)
            buf += chunk
        assert buf.startswith(b'SIOT'), buf
        return buf

    @staticmethod
    def request(key, hello, command):
        cid = CLIENT.encode()
        tag = hmac.new(key, b'siot-v1 request\0' + hello + bytes([len(cid)]) + cid + command.encode(),
                       hashlib.sha256).digest()
        return bytes([len(cid)]) + cid + tag

    def exchange(self, data, n=3 + 32):
        self.s.sendall(data)
        buf = b''
        while len(buf) < n:
            chunk = self.s.recv(256)
            assert chunk, 'closed'
            buf += chunk
        return buf

    def close(self):
        self.s.close()


class FirmwareCase(unittest.TestCase):
    """A work folder with a client key; the emulated boards started in it
    (each stopped at the end); siot-ctl sent through one of them, by its
    pseudo-terminal (b.pty) or its TCP port with serial framing.  Each
    board's test module adds how to start its board."""
    tmp_prefix = 'siot-fw-'
    ctl_timeout = 30

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.tmp_prefix)
        self.key = os.urandom(32)
        self.key_path = os.path.join(self.dir, 'key')
        key_file(self.key_path, self.key)
        self.running = []

    def tearDown(self):
        for b in self.running:
            b.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def replay_refused(self, b, raw, req, seen):
        """The recorded request req after a new HELLO on raw: a challenge
        not in seen (added to it), and REJECTED (2); then raw is closed.
        Returns board b's mark from between the HELLO and the request:
        after a reset, the boot's own pin set-up comes before it."""
        hello = raw.hello()
        self.assertNotIn(hello[8:40], seen)
        seen.add(hello[8:40])
        m = b.mark()
        self.assertEqual(raw.exchange(req)[0], 2)
        raw.close()
        return m

    def siot_client(self, port, *commands, serial=False):
        """siot-client (Node.js) sending commands to 127.0.0.1:port, over a
        serial line's framing or TCP's; its --json objects' results."""
        if not NODE:
            if os.environ.get('CI'):
                self.fail('Node.js >= 20.19 is missing (CI must run this)')
            self.skipTest('Node.js >= 20.19 is missing')
        r = subprocess.run([NODE, os.path.join(SOURCE_ROOT, 'clients/node/bin/siot-client.js'),
                            '-H', '127.0.0.1', '-p', str(port)] + (['--framing', 'serial'] if serial else [])
                           + ['-D', DEVICE, '-i', CLIENT, '-k', self.key_path, '--json', 'send'] + list(commands),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(l)['result'] for l in r.stdout.splitlines()]

    def ctl(self, b, *commands, key=None, extra=(), timeout=None):
        pty = getattr(b, 'pty', None)
        where = ['-S', pty] if pty else ['-H', f'127.0.0.1:{b.port}', '--framing', 'serial']
        args = [SIOT_CTL] + where + ['-D', DEVICE, '-i', CLIENT, '-k', key or self.key_path,
                                     '-T', '20', '--json'] + list(extra) + ['send'] + list(commands)
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout or self.ctl_timeout)
        out = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
        # With --json, what went wrong is in the objects too.
        return r.returncode, out, r.stderr + r.stdout


class Case(FirmwareCase):
    def ram(self, b, name):
        """(bytes never touched, deepest stack) from a stopped bridge's
        reports, after checking that the two measures agree."""
        free = min(b.values('untouched'))
        stack = max(b.values('stack'))
        self.assertGreater(free, 0, f'{name}: the stack met the heap')
        # The stack never went below painted bytes.  (A sample taken between
        # the SPH and SPL writes of a prologue once put the stack 150 bytes
        # into the paint.)
        ends, sps = b.values('paint_end'), b.values('sp_min')
        self.assertTrue(ends and len(ends) == len(sps))
        for end, sp in zip(ends, sps):
            self.assertLessEqual(end, sp, f'{name}: the stack pointer reached 0x{sp:x}, '
                                 f'but the paint is whole up to 0x{end:x}')
        return free, stack

    def bridge(self, elf=None, eeprom=None, **kw):
        b = Bridge(elf or image('both-8'), eeprom or provision(self.dir, self.key_path), self.dir, **kw)
        self.running.append(b)
        return b


class Exchanges(Case):
    def test_set_toggle_get_pulse_and_input(self):
        b = self.bridge()
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on')
        self.assertEqual(rc, 0, err)
        self.assertEqual(b.pins(13, m)[-1][0], 1)
        rc, out, err = self.ctl(b, 'led', 'led-toggle', 'led')
        self.assertEqual(rc, 0, err)
        self.assertEqual([o['result'] for o in out], [1, 0, 0])
        self.assertEqual(b.pins(13, m)[-1][0], 0)
        # A 200 ms pulse, measured in the part's cycles; its answer comes at its end.
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-pulse')
        self.assertEqual(rc, 0, err)
        p = b.pins(13, m)
        self.assertEqual([lvl for lvl, _ in p], [1, 0])
        ms = (p[1][1] - p[0][1]) * 1000 / FREQ
        print(f'firmware: led-pulse (200 ms): D13 high for {ms:.3f} ms of simulated time')
        self.assertGreaterEqual(ms, 199.0)
        self.assertLess(ms, 205.0)
        # D2 is an input with its pull-up (high): the door is "closed" (active low: 0).
        rc, out, err = self.ctl(b, 'door', 'relay-on')
        self.assertEqual(rc, 0, err)
        self.assertEqual(out[0]['result'], 0)
        self.assertEqual(b.pins(12, m)[-1][0], 1)

    def test_a_get_prints_its_level(self):
        """A get on the board answers its level in the result byte only (no
        sealed output here): siot-ctl prints it when the command is marked
        as a value, by --value or by the target's values, as it prints a
        get's output from siotd.  Unmarked, it printed nothing."""
        b = self.bridge()
        where = ['-H', f'127.0.0.1:{b.port}', '--framing', 'serial']
        base = [SIOT_CTL] + where + ['-D', DEVICE, '-i', CLIENT, '-k', self.key_path, '-T', '20']
        # D2's pull-up: the door reads "closed" (active low): 0.
        r = subprocess.run(base + ['--value', 'send', 'door'], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, '0\n'), r.stderr)
        cfg = os.path.join(self.dir, 'ctl.conf')
        with open(cfg, 'w') as f:
            f.write('targets = ( { name = "board"; host = "127.0.0.1:%d"; framing = "serial"; '
                    'device = "%s"; id = "%s"; key_file = "%s"; values = [ "door" ]; } );\n'
                    % (b.port, DEVICE, CLIENT, self.key_path))
        os.chmod(cfg, 0o600)
        r = subprocess.run([SIOT_CTL, '-c', cfg, '-t', 'board', 'send', 'door', 'led-on'],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, 'door: 0\n'), r.stderr)
        r = subprocess.run([SIOT_CTL, '-c', cfg, '-t', 'board', '--json', 'send', 'door'],
                           capture_output=True, text=True, timeout=60)
        obj = json.loads(r.stdout)
        self.assertEqual((obj['result'], obj['output']), (0, '0\n'))

    def test_wrong_key_is_76_and_nothing_moves(self):
        b = self.bridge()
        other = os.path.join(self.dir, 'other')
        key_file(other, os.urandom(32))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', key=other)
        self.assertEqual(rc, 76, err)
        self.assertIn('refused, not verified', err)
        self.assertEqual(b.pins(13, m), [])
        rc, out, err = self.ctl(b, 'no-such-command')
        self.assertEqual(rc, 2, err)
        self.assertEqual(b.pins(13, m), [])

    def test_replay_does_not_run_even_across_a_reset(self):
        b = self.bridge()
        raw = RawSerial(b.port)
        hello = raw.hello()
        req = RawSerial.request(self.key, hello, 'led-toggle')
        m = b.mark()
        resp = raw.exchange(req)
        self.assertEqual(resp[0], 0)  # OK: the recorded exchange ran
        self.assertEqual(b.pins(13, m)[-1][0], 1)
        challenges = {hello[8:40]}
        # The recorded request after a new wake-up: a new challenge, REJECTED.
        m = b.mark()
        self.replay_refused(b, raw, req, challenges)
        self.assertEqual(b.pins(13, m), [])
        # Reset the part, EEPROM kept (a board whose DTR fired): its first
        # challenge is new again, and the replay still does not run.
        b.reset()
        m = self.replay_refused(b, RawSerial(b.port), req, challenges)
        self.assertEqual(b.pins(13, m), [])
        b.stop()
        self.assertEqual(b.boot_counter(), 2)  # incremented at each boot

    def test_boot_counter_survives_a_torn_write(self):
        """A reset between the bytes of the boot counter's write never takes
        the counter back: the torn copy is invalid and the other one holds
        the last count, so the next boot counts on from it.  From 255, where
        a single little-endian copy would read 0 after its first byte went
        to 256, and so reuse every challenge since counter 1."""
        ee = provision(self.dir, self.key_path, name='torn.bin', boot=255)
        b = self.bridge(eeprom=ee)
        raw = RawSerial(b.port)
        hello = raw.hello()
        req = RawSerial.request(self.key, hello, 'led-toggle')
        m = b.mark()
        self.assertEqual(raw.exchange(req)[0], 0)  # recorded, and ran once
        self.assertEqual(b.pins(13, m)[-1][0], 1)
        raw.close()
        b.stop()
        self.assertEqual(b.boot_counter(), 256)
        first = os.path.join(self.dir, 'at-256.bin')
        shutil.copy(b.eeprom_out, first)
        # The next boot writes 257 over 255's copy, changing 4 bytes.  A
        # reset after each of the first 3 leaves that copy torn; each run
        # starts from the same EEPROM (at 256).
        for k in (1, 2, 3):
            b = self.bridge(eeprom=first, extra=('--tear-eeprom', '%d,16,%d' % (BOOT_AT, k)))
            raw = RawSerial(b.port)
            again = raw.hello()  # after the torn boot and its reset
            self.assertTrue(any(l.startswith('tear at=') for l in b.lines), b.lines)
            self.assertNotEqual(again[8:40], hello[8:40])
            m = b.mark()
            self.assertEqual(raw.exchange(req)[0], 2)  # the replay: refused
            self.assertEqual(b.pins(13, m), [])
            raw.close()
            b.stop()
            self.assertEqual(b.boot_counter(), 257)

    def test_same_eeprom_twice_the_counter_moves_on(self):
        """Two runs from one image: the second boot reads the counter the
        first left (as a board keeps its EEPROM), so its challenges differ."""
        ee = provision(self.dir, self.key_path)
        b = self.bridge(eeprom=ee)
        raw = RawSerial(b.port)
        first = raw.hello()[8:40]
        raw.close()
        b.stop()
        b2 = self.bridge(eeprom=b.eeprom_out)
        raw = RawSerial(b2.port)
        second = raw.hello()[8:40]
        raw.close()
        self.assertNotEqual(first, second)

    def test_noise_before_the_wake_up(self):
        b = self.bridge()
        s = socket.create_connection(('127.0.0.1', b.port))
        # Noise: bytes that are not zero, and runs of zeros too short to wake it.
        s.sendall(bytes([0x55, 0x00, 0x00, 0xff, 0x13, 0x00, 0x00, 0x00, 0x7e]) + os.urandom(40).replace(b'\0', b'\1'))
        time.sleep(0.3)
        s.close()
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on')
        self.assertEqual(rc, 0, err)
        self.assertEqual(b.pins(13, m)[-1][0], 1)

    def classic(self, b, *commands, seconds=20):
        return subprocess.run([SIOT_CTL, '-H', f'127.0.0.1:{b.port}', '--framing', 'serial',
                               '--protocol', 'classic', '-k', self.key_path, '-T', str(seconds),
                               'send'] + list(commands), capture_output=True, text=True, timeout=60)

    def test_classic_over_the_bridge(self):
        ee = provision(self.dir, self.key_path, name='classic.bin', profile='classic')
        b = self.bridge(eeprom=ee)
        m = b.mark()
        r = self.classic(b, 'led-on', 'led-toggle')
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([lvl for lvl, _ in b.pins(13, m)], [1, 0])
        # The classic-only image serves it too; the v1-only one will not
        # start on a classic EEPROM (silence: 75).
        b = self.bridge(elf=image('classic-8'), eeprom=ee)
        r = self.classic(b, 'led-on')
        self.assertEqual(r.returncode, 0, r.stderr)
        b = self.bridge(elf=image('v1-8'), eeprom=ee)
        r = self.classic(b, 'led-on', seconds=2)
        self.assertEqual(r.returncode, 75, r.stderr)

    def test_siot_client_through_the_bridge(self):
        b = self.bridge()
        m = b.mark()
        self.assertEqual(self.siot_client(b.port, 'led-toggle', 'led', serial=True), [0, 1])
        self.assertEqual(b.pins(13, m)[-1][0], 1)


class ArduinoSketch(Case):
    """The seed's own board: src/device/arduino/siot/siot.ino on Debian's
    Arduino AVR core, the same image a Pro Mini or Uno would run."""

    def test_the_sketch_serves(self):
        elf = os.path.join(IMAGES, 'siot-arduino.elf')
        if not os.path.exists(elf):
            why = 'the Arduino sketch was not built (apt-get install arduino-core-avr)'
            if os.environ.get('CI'):
                self.fail(why + ' (CI must run this)')
            self.skipTest(why)
        size = SIZES.get('siot-arduino.elf')
        if size:
            print(f'firmware: Arduino sketch: {size["flash"]} bytes of flash, {30720 - size["flash"]} left'
                  f' of the Pro Mini\'s 30,720')
        b = self.bridge(elf=elf)
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', 'led', 'led-toggle', 'door')
        self.assertEqual(rc, 0, err)
        self.assertEqual([o['result'] for o in out], [0, 1, 0, 0])
        self.assertEqual([lvl for lvl, _ in b.pins(13, m)], [1, 0])
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-pulse')
        self.assertEqual(rc, 0, err)
        p = b.pins(13, m)
        self.assertEqual([lvl for lvl, _ in p], [1, 0])
        # The Arduino core's millis() counts in 1.024 ms steps and skips a
        # value every 42 ms: a 200 ms pulse by it is 198 to 200 ms.
        self.assertGreaterEqual((p[1][1] - p[0][1]) * 1000 / FREQ, 197.0)
        other = os.path.join(self.dir, 'other')
        key_file(other, os.urandom(32))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', key=other)
        self.assertEqual(rc, 76, err)
        self.assertEqual(b.pins(13, m), [])
        b.stop()
        free, stack = self.ram(b, 'sketch')
        print(f'firmware: Arduino sketch: RAM never touched (painted) {free} bytes of 2048;'
              f' stack at most {stack} bytes')


class SerialPort(Case):
    def test_siot_ctl_on_a_serial_port(self):
        b = self.bridge(pty=True)
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', 'led')
        self.assertEqual(rc, 0, err)
        self.assertEqual(out[1]['result'], 1)
        self.assertEqual(b.pins(13, m)[-1][0], 1)

    def test_busy_missing_and_silent_ports(self):
        import fcntl
        b = self.bridge(pty=True)
        fd = os.open(b.pty, os.O_RDWR | os.O_NOCTTY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            rc, out, err = self.ctl(b, 'led-on')
            self.assertEqual(rc, 69, err)
            self.assertIn('busy', err)
        finally:
            os.close(fd)
        r = subprocess.run([SIOT_CTL, '-S', os.path.join(self.dir, 'ttyNONE'), '-i', CLIENT, '-k',
                            self.key_path, 'send', 'led-on'], capture_output=True, text=True)
        self.assertEqual(r.returncode, 69, r.stderr)
        self.assertIn('cannot open serial port', r.stderr)
        # An erased EEPROM: the firmware serves nothing; no HELLO in time is 75.
        erased = os.path.join(self.dir, 'erased.bin')
        with open(erased, 'wb') as f:
            f.write(b'\xff' * 1024)
        b2 = self.bridge(eeprom=erased, pty=True)
        r = subprocess.run([SIOT_CTL, '-S', b2.pty, '-i', CLIENT, '-k', self.key_path, '-T', '2',
                            'send', 'led-on'], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 75, r.stderr)
        self.assertIn('no HELLO', r.stderr)

    def test_waits_through_a_reset_and_bootloader(self):
        """Connecting resets the part and its bootloader eats bytes for a
        second (an Uno's DTR): the resent wake-up gets through."""
        b = self.bridge(extra=('--reset-on-connect', '--boot-delay', '1000'))
        m = b.mark()
        t0 = time.monotonic()
        rc, out, err = self.ctl(b, 'led-on')
        took = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertTrue(b.wait_line(lambda l: l.startswith('reset'), 1, m))
        self.assertGreaterEqual(took, 1.0)
        self.assertEqual(b.pins(13, m)[-1][0], 1)

class FastScan(Case):
    """The fast-scan image (SIOT_DEVICE_LOW_RAM 0, names still read from
    flash one at a time) serves, and refuses what the low-RAM one does."""

    def test_serves_and_refuses(self):
        b = self.bridge(elf=image('fast-v1-32'))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on')
        self.assertEqual(rc, 0, err)
        self.assertEqual([lv for lv, _ in b.pins(13, m)], [1])
        other = os.path.join(self.dir, 'other')
        key_file(other, os.urandom(32))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-off', key=other)
        self.assertEqual(rc, 76, err)
        rc, out, err = self.ctl(b, 'led-off', extra=['-i', 'stranger'])
        self.assertEqual(rc, 76, err)
        self.assertEqual(b.pins(13, m), [])
        rc, out, err = self.ctl(b, 'led-off')
        self.assertEqual(rc, 0, err)
        self.assertEqual([lv for lv, _ in b.pins(13, m)], [0])


class Budget(Case):
    """Figures, printed (not asserted beyond the paint surviving): free RAM
    from the painted stack, and the work per exchange from simavr's cycles."""

    def test_sha256_constants_in_flash(self):
        # The AVR's own compression (sha256_process.c) in every image, with
        # its 256-byte round-constant table K in flash (.text), not in RAM
        # (.data); Mbed TLS's compression and its table are left out.
        objdump = shutil.which('avr-objdump')
        elves = sorted(os.path.join(IMAGES, f) for f in os.listdir(IMAGES)
                       if f.startswith('siot-') and f.endswith('.elf'))
        self.assertGreaterEqual(len(elves), 7)  # 5 register-level images, the reference, the sketch
        for elf in elves:
            out = subprocess.run([objdump, '-t', elf], check=True, capture_output=True,
                                 text=True).stdout
            syms = [l.split() for l in out.splitlines()]
            k = [f for f in syms if f[-1:] == ['K']]
            self.assertEqual(len(k), 1, f'{elf}: no SHA-256 table K')
            self.assertEqual(k[0][3], '.text', f'{elf}: K is in {k[0][3]}, i.e. in RAM')
            self.assertEqual(k[0][4], '00000100', elf)
            names = {f[-1] for f in syms if f}
            self.assertIn('siot_sha256_compress', names, elf)
            self.assertIn('mbedtls_internal_sha256_process', names, elf)

    def exchange_cycles(self, elf, command='led-toggle'):
        b = self.bridge(elf=elf)
        self.ctl(b, command)  # the first: boot, and the DRBG's first draw
        m = b.mark()
        rc, out, err = self.ctl(b, command)
        self.assertEqual(rc, 0, err)
        lat = b.values('cycles', m)
        untouched = b.values('untouched')
        b.stop()
        return lat, min(untouched) if untouched else None

    def test_ram_and_cycles(self):
        print('firmware: ATmega328P at 16 MHz, one exchange (led-toggle), sha256, 32-byte tags and challenges')
        for name in ('v1-8', 'classic-8'):
            ee = provision(self.dir, self.key_path, name=f'{name}.bin',
                           profile='classic' if name.startswith('classic') else 'v1')
            b = self.bridge(elf=image(name), eeprom=ee)
            if name.startswith('classic'):
                for _ in range(2):
                    r = Exchanges.classic(self, b, 'led-toggle')
                    self.assertEqual(r.returncode, 0, r.stderr)
            else:
                for _ in range(2):
                    self.assertEqual(self.ctl(b, 'led-toggle')[0], 0)
            b.stop()
            free, stack = self.ram(b, name)
            print(f'firmware:   {name}: RAM never touched (painted) {free} bytes of 2048; stack at most {stack} bytes')
        for label, names in ((None, [f'both-{n}' for n in (1, 8, 32)]),
                             ('the fast scan (one key state and a copy per command, names from '
                              'flash), v1:', ['fast-v1-8', 'fast-v1-32'])):
            if label:
                print('firmware:   ' + label)
            for name in names:
                n = int(name.rsplit('-', 1)[1])
                lat, free = self.exchange_cycles(image(name))
                self.assertEqual(len(lat), 2)  # wake-up -> HELLO, request -> response
                print(f'firmware:   {n:2d} command(s): HELLO {lat[0]:9d} cycles {lat[0] * 1000 / FREQ:7.1f} ms;'
                      f' request -> response {lat[1]:9d} cycles {lat[1] * 1000 / FREQ:7.1f} ms;'
                      f' RAM never touched {free} bytes')
                self.assertGreater(free, 0, 'the stack met the heap')


if __name__ == '__main__':
    why = missing_tools()
    if why:
        skip_or_fail(why)
    IMAGES = build_firmware()
    unittest.main(verbosity=2)

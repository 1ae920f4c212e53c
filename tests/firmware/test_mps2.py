"""The firmware suite, Cortex-M3 part: the device core cross-built for the
Arm MPS2 board with the AN385 image (src/device/cross/mps2-an385.txt) and
run in QEMU (qemu-system-arm -M mps2-an385) with UART0 on a TCP port.  The
real siot-ctl and siot-client drive it; the pins (the board's FPGAIO LED
register) are read from outside the firmware, through QEMU's monitor.

The provisioned secrets are loaded as a flash page; the boot counter's page
is saved through the monitor when the board is stopped and loaded again at
the next start, as flash keeps it: a "reset" here is that stop and start.

Environment (tests/meson.build): SIOT_CTL, QEMU_ARM (empty when
qemu-system-arm is missing), SOURCE_ROOT, FIRMWARE_BUILD_MPS2, NODE, and
FIRMWARE_MBEDTLS (the Mbed TLS version to build on, by prefix; default the
build's own).
Without a toolchain the suite says it is skipped (77), except in CI.
"""
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import test_avr
from test_avr import CLIENT, DEVICE, RawSerial, key_file, provision, skip_or_fail
from test_ethernet import RawTcp, garbage, leave_half_way

SIOT_CTL = test_avr.SIOT_CTL
SOURCE_ROOT = test_avr.SOURCE_ROOT
NODE = test_avr.NODE
QEMU = os.environ.get('QEMU_ARM', '')
BUILD = os.environ.get('FIRMWARE_BUILD_MPS2', os.path.join(tempfile.gettempdir(), 'siot-firmware-mps2'))
MBEDTLS = os.environ.get('FIRMWARE_MBEDTLS', '')  # a version prefix: 2.28, 3.6
CROSS = os.path.join(SOURCE_ROOT, 'src/device/cross/mps2-an385.txt')
PROV_ADDR, COUNTER_ADDR, LED_ADDR = 0x3FF000, 0x3FE000, 0x40028000
IMAGES = None


def missing_tools():
    if not shutil.which('arm-none-eabi-gcc'):
        return 'arm-none-eabi-gcc is missing (apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)'
    if not os.path.exists('/usr/lib/arm-none-eabi/newlib'):
        return 'newlib is missing (apt-get install libnewlib-arm-none-eabi)'
    if not QEMU:
        return 'qemu-system-arm is missing (apt-get install qemu-system-arm)'
    return None


def mbedtls_used():
    """The Mbed TLS versions the build's compile commands name."""
    with open(os.path.join(BUILD, 'compile_commands.json'), encoding='utf-8') as f:
        return sorted(set(re.findall(r'mbedtls-(\d+\.\d+\.\d+)', f.read())))


def build():
    want = ['-Dfirmware_mbedtls=' + MBEDTLS] if MBEDTLS else []
    if not os.path.exists(os.path.join(BUILD, 'build.ninja')):
        subprocess.run(['meson', 'setup', '--cross-file', CROSS, BUILD, SOURCE_ROOT] + want,
                       check=True, stdout=subprocess.DEVNULL)
    elif want:
        subprocess.run(['meson', 'configure', BUILD] + want, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(['meson', 'compile', '-C', BUILD], check=True, stdout=subprocess.DEVNULL)
    size = subprocess.run(['meson', 'compile', '-C', BUILD, 'firmware-size'], check=True,
                          capture_output=True, text=True).stdout
    used = mbedtls_used()
    if len(used) != 1 or (MBEDTLS and not used[0].startswith(MBEDTLS)):
        sys.exit(f'firmware: the build uses Mbed TLS {used}, not {MBEDTLS or "one version"}')
    print(f'firmware: Cortex-M3 (MPS2 AN385) images, on Mbed TLS {used[0]}')
    for line in size.splitlines():
        if line.startswith(('image', 'siot-')):
            print('firmware:   ' + line)
    return os.path.join(BUILD, 'src/device')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Board:
    """The board in QEMU: UART0 on a TCP port, the monitor on a Unix socket,
    the LED register watched from a thread."""

    def __init__(self, elf, prov, workdir, net=False):
        self.elf, self.prov, self.dir, self.net = elf, prov, workdir, net
        self.counter = os.path.join(workdir, 'counter.bin')
        if not os.path.exists(self.counter):
            with open(self.counter, 'wb') as f:
                # The layout's two boot counter copies (provision.h): A
                # holds 0 and its complement, B is erased.
                f.write(struct.pack('<II', 0, 0xffffffff) + b'\xff' * 8)
        self.events = []  # (monotonic time, LED register)
        self.lock = threading.Lock()
        self.start()

    def start(self):
        self.port = free_port()
        self.mon_path = os.path.join(self.dir, 'mon-%d.sock' % self.port)
        # The network image: the LAN9118 on QEMU's user-mode network (no
        # root, no tap), the guest's 10.0.2.15:7468 forwarded from self.port.
        where = (['-nic', 'user,model=lan9118,hostfwd=tcp:127.0.0.1:%d-10.0.2.15:7468' % self.port,
                  '-serial', 'null'] if self.net else
                 ['-serial', 'tcp:127.0.0.1:%d,server=on,wait=off' % self.port])
        self.proc = subprocess.Popen(
            [QEMU, '-M', 'mps2-an385', '-nographic', '-kernel', self.elf,
             '-device', 'loader,file=%s,addr=0x%x,force-raw=on' % (self.prov, PROV_ADDR),
             '-device', 'loader,file=%s,addr=0x%x,force-raw=on' % (self.counter, COUNTER_ADDR),
             '-monitor', 'unix:%s,server=on,wait=off' % self.mon_path] + where,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        end = time.monotonic() + 10
        while not os.path.exists(self.mon_path):
            assert time.monotonic() < end and self.proc.poll() is None, 'QEMU did not start'
            time.sleep(0.05)
        self.mon = socket.socket(socket.AF_UNIX)
        self.mon.connect(self.mon_path)
        self.mon.settimeout(5)
        self._until_prompt()
        self.stop_watch = False
        self.watcher = threading.Thread(target=self._watch, daemon=True)
        self.watcher.start()

    def _until_prompt(self):
        buf = b''
        while not buf.endswith(b'(qemu) '):
            chunk = self.mon.recv(4096)
            assert chunk, 'the monitor went away'
            buf += chunk
        return buf.decode(errors='replace')

    def monitor(self, command):
        with self.lock:
            self.mon.sendall(command.encode() + b'\n')
            return self._until_prompt()

    def led(self):
        out = self.monitor('xp /1wx 0x%x' % LED_ADDR)
        return int(out.split(':')[-1].split()[0], 16)

    def _watch(self):
        last = None
        while not self.stop_watch:
            try:
                v = self.led()
            except (OSError, AssertionError, ValueError, IndexError):
                return
            if v != last:
                self.events.append((time.monotonic(), v))
                last = v
            time.sleep(0.002)

    def mark(self):
        time.sleep(0.05)
        return len(self.events)

    def levels(self, bit, since):
        """The LED bit's levels, each change after mark `since`."""
        out = []
        for _, v in self.events[since:]:
            lvl = v >> bit & 1
            if not out or out[-1] != lvl:
                out.append(lvl)
        prev = self.events[since - 1][1] >> bit & 1 if since else None
        return out[1:] if out and out[0] == prev else out

    def stop(self):
        """Power off, keeping the counter page, as flash would."""
        if self.proc.poll() is not None:
            return
        self.stop_watch = True
        self.watcher.join(2)
        self.monitor('pmemsave 0x%x 16 %s' % (COUNTER_ADDR, self.counter))
        try:
            self.monitor('quit')
        except (OSError, AssertionError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.mon.close()

    def reset(self):
        self.stop()
        self.start()


class Case(test_avr.FirmwareCase):
    tmp_prefix = 'siot-m3-'
    ctl_timeout = 60

    def board(self, name='both-8', profile='v1'):
        prov = provision(self.dir, self.key_path, name=profile + '.bin', profile=profile)
        b = Board(os.path.join(IMAGES, 'siot-mps2-%s.elf' % name), prov, self.dir)
        self.running.append(b)
        return b


class Mps2(Case):
    def test_set_toggle_get_and_pulse(self):
        b = self.board()
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', 'led', 'relay-on', 'led-toggle', 'led')
        self.assertEqual(rc, 0, err)
        self.assertEqual([o['result'] for o in out], [0, 1, 0, 0, 0])
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [1, 0])
        self.assertEqual(b.levels(1, m), [1])
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-pulse')
        self.assertEqual(rc, 0, err)
        time.sleep(0.05)
        ev = [(t, v & 1) for t, v in b.events[m:]]
        ups = [t for t, lvl in ev if lvl == 1]
        downs = [t for t, lvl in ev if lvl == 0 and ups and t > ups[0]]
        self.assertTrue(ups and downs, ev)
        ms = (downs[0] - ups[0]) * 1000
        print(f'firmware: Cortex-M3 led-pulse (200 ms): the LED register held for {ms:.0f} ms (host time, polled)')
        self.assertGreaterEqual(ms, 150)  # not ended early; QEMU runs in host time

    def test_wrong_key_and_replay_across_a_reset(self):
        b = self.board()
        other = os.path.join(self.dir, 'other')
        key_file(other, os.urandom(32))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', key=other)
        self.assertEqual(rc, 76, err)
        raw = RawSerial(b.port)
        hello = raw.hello()
        req = RawSerial.request(self.key, hello, 'led-toggle')
        self.assertEqual(raw.exchange(req)[0], 0)
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [1])
        seen = {hello[8:40]}
        self.replay_refused(b, raw, req, seen)
        b.reset()
        m = self.replay_refused(b, RawSerial(b.port), req, seen)
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [])

    def test_classic_siot_client_and_noise(self):
        b = self.board(profile='classic')
        m = b.mark()
        r = subprocess.run([SIOT_CTL, '-H', '127.0.0.1:%d' % b.port, '--framing', 'serial', '--protocol',
                            'classic', '-k', self.key_path, '-T', '20', 'send', 'led-on'],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        b.stop()
        b = self.board()
        s = socket.create_connection(('127.0.0.1', b.port))
        s.sendall(b'\x55\x00\x00\xff\x13\x00' + os.urandom(40).replace(b'\0', b'\1'))
        time.sleep(0.2)
        s.close()
        self.assertEqual(self.siot_client(b.port, 'led-toggle', 'led', serial=True), [0, 1])


def lwip_used():
    """The lwIP version the build's compile commands name."""
    with open(os.path.join(BUILD, 'compile_commands.json'), encoding='utf-8') as f:
        return sorted(set(re.findall(r'lwip-(\d+\.\d+\.\d+)', f.read())))


class Mps2Ethernet(Case):
    """The network image (siot-mps2-eth-both-8.elf): lwIP on the LAN9118,
    the core on TCP port 7468, in QEMU with user-mode networking; the same
    cases as the W5100 image's (test_ethernet.py), driven over TCP by
    siot-ctl (no --framing serial) and siot-client."""

    def board(self, profile='v1', timeout=5000):
        elf = os.path.join(IMAGES, 'siot-mps2-eth-both-8.elf')
        if not os.path.exists(elf):
            skip_or_fail('the Cortex-M3 network image was not built: no lwIP sources (.ci/fetch-lwip)')
        prov = provision(self.dir, self.key_path, name=profile + '-net.bin', profile=profile, wakeup=0,
                         timeout=timeout, extra=('--ip', '10.0.2.15', '--netmask', '255.255.255.0',
                                                 '--gateway', '10.0.2.2'))
        b = Board(elf, prov, self.dir, net=True)
        self.running.append(b)
        self.ready(b)
        return b

    def ready(self, b):
        """Until the firmware answers on its port (QEMU forwards the port
        before the guest listens)."""
        end = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(('127.0.0.1', b.port), timeout=5) as s:
                    if s.recv(64):  # its HELLO (either profile's)
                        return
            except OSError:
                pass
            self.assertLess(time.monotonic(), end, 'the network image never answered')
            time.sleep(0.1)

    def ctl(self, b, *commands, key=None, extra=(), timeout=None):
        args = [SIOT_CTL, '-H', f'127.0.0.1:{b.port}', '-D', DEVICE, '-i', CLIENT,
                '-k', key or self.key_path, '-T', '20', '--json'] + list(extra) + ['send'] + list(commands)
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout or 60)
        return r.returncode, [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')], r.stderr + r.stdout

    def served(self, b):
        rc, out, err = self.ctl(b, 'led-toggle')
        self.assertEqual(rc, 0, err)

    def test_set_toggle_pulse_get(self):
        lw, mb = lwip_used(), mbedtls_used()
        print(f'firmware: Cortex-M3 network image on lwIP {lw} and Mbed TLS {mb}')
        # Debian's pairs: bookworm's lwIP 2.1.3 and Mbed TLS 2.28, trixie's 2.2.1 and 3.6.
        self.assertEqual(len(lw), 1)
        self.assertTrue(lw[0].startswith('2.1.' if mb[0].startswith('2.') else '2.2.'), (lw, mb))
        b = self.board()
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', 'led', 'relay-on', 'led-toggle', 'led', 'door')
        self.assertEqual(rc, 0, err)
        # The door: QEMU's BUTTON register reads 0, active low: 1.
        self.assertEqual([o['result'] for o in out], [0, 1, 0, 0, 0, 1])
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [1, 0])
        self.assertEqual(b.levels(1, m), [1])
        m = b.mark()
        t = time.monotonic()
        rc, out, err = self.ctl(b, 'led-pulse')
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(time.monotonic() - t, 0.2)  # answered at its end
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [1, 0])

    def test_wrong_key_and_replay_across_a_reset(self):
        b = self.board()
        other = os.path.join(self.dir, 'other')
        key_file(other, os.urandom(32))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', key=other)
        self.assertEqual(rc, 76, err)
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [])
        raw = RawTcp(b.port)
        hello = raw.hello()
        req = RawTcp.request(self.key, hello, 'led-toggle')
        self.assertEqual(raw.exchange(req)[0], 0)
        raw.close()
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [1])
        seen = {hello[8:40]}
        self.replay_refused(b, RawTcp(b.port), req, seen)
        b.reset()  # flash kept: the counter page
        self.ready(b)
        m = self.replay_refused(b, RawTcp(b.port), req, seen)
        time.sleep(0.05)
        self.assertEqual(b.levels(0, m), [])

    def test_classic_and_siot_client(self):
        b = self.board(profile='classic')
        r = subprocess.run([SIOT_CTL, '-H', '127.0.0.1:%d' % b.port, '--protocol', 'classic',
                            '-k', self.key_path, '-T', '20', 'send', 'led-on'],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        b.stop()
        b = self.board()
        self.assertEqual(self.siot_client(b.port, 'led-toggle', 'led'), [0, 1])

    def test_ten_clients_then_a_second_client_is_refused_cleanly(self):
        b = self.board()
        for i in range(10):
            rc, out, err = self.ctl(b, 'led-toggle')
            self.assertEqual(rc, 0, f'client {i}: {err}')
        first = RawTcp(b.port)
        hello = first.hello()
        second = RawTcp(b.port)  # refused with a reset while the first is served
        self.assertTrue(second.closed_by_device(10))
        second.close()
        self.assertEqual(first.exchange(RawTcp.request(self.key, hello, 'led-on'))[0], 0)
        first.close()
        self.served(b)

    def test_silent_half_and_reset_clients_then_garbage(self):
        b = self.board(timeout=2000)
        raw = RawTcp(b.port)
        raw.hello()
        t = time.monotonic()
        self.assertTrue(raw.closed_by_device(15))
        self.assertGreaterEqual(time.monotonic() - t, 1.5)
        raw.close()
        self.served(b)
        for how in ('fin', 'reset'):
            leave_half_way(b.port, self.key, how)
            self.served(b)
        garbage(b.port)
        self.served(b)


if __name__ == '__main__':
    why = missing_tools()
    found = subprocess.run([sys.executable, os.path.join(SOURCE_ROOT, 'src/proto/mbedtls/find.py')],
                           capture_output=True, text=True).stdout.split()
    if not why and not found:
        why = 'no Mbed TLS sources for the firmware (.ci/fetch-mbedtls)'
    if not why and MBEDTLS and not any(line.startswith(MBEDTLS) for line in found):
        why = f'no Mbed TLS {MBEDTLS} sources for the firmware (.ci/fetch-mbedtls)'
    if why:
        skip_or_fail(why)
    IMAGES = build()
    unittest.main(verbosity=2)

#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The seed's board on the network: a Pro Mini with an Arduino Ethernet
shield (W5100), as the bare image (siot-avr-eth-*.elf) and as the Arduino
sketch's Ethernet variant (siot-arduino-eth.elf), run in simavr with
avr-bridge's W5100 model (--w5100) and reached over TCP by the project's
own clients, with no --framing serial: PROTOCOL.md's TCP rules.

Latencies printed here are simavr's: it takes a fixed 100 us for every SPI
byte (a real W5100 at 8 MHz SPI, 1 us), so they are not hardware figures.
"""
import json
import os
import socket
import subprocess
import time
import unittest

import test_avr as fw
from test_avr import CLIENT, DEVICE, SIOT_CTL

LED, RELAY = 9, 8  # commands.h with SIOT_FW_ETHERNET
RAM_BUDGET = 640   # bytes never touched, low-RAM v1 with Ethernet (#25)


class RawTcp:
    """A v1 client written here with Python's hmac, for what siot-ctl never
    does: send a captured request again, stop half-way, stay silent."""

    def __init__(self, port, wakeup=0):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=20)
        if wakeup:
            self.s.sendall(b'\x5a' * wakeup)

    def hello(self):
        buf = b''
        while len(buf) < 9 + 32 + len(DEVICE):
            chunk = self.s.recv(256)
            assert chunk, 'closed before the HELLO'
            buf += chunk
        assert buf.startswith(b'SIOT'), buf
        return buf

    request = staticmethod(fw.RawSerial.request)
    exchange = fw.RawSerial.exchange

    def closed_by_device(self, timeout=10):
        """True when the device ends the connection without sending more."""
        self.s.settimeout(timeout)
        try:
            return self.s.recv(256) == b''
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def garbage(port, n=200):
    """n connections that each send 1 to 90 random bytes and go."""
    for i in range(n):
        s = socket.create_connection(('127.0.0.1', port), timeout=20)
        s.sendall(os.urandom(1 + i % 90))
        s.shutdown(socket.SHUT_WR)
        try:
            while s.recv(256):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
        s.close()


def leave_half_way(port, key, how):
    """A client that takes its HELLO, sends 10 bytes of its request and
    goes: with a FIN, or a reset (SO_LINGER 0)."""
    raw = RawTcp(port)
    hello = raw.hello()
    raw.s.sendall(RawTcp.request(key, hello, 'led-on')[:10])
    if how == 'reset':
        raw.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\1\0\0\0\0\0\0\0')
    raw.close()


class EthBase(fw.Case):
    """A W5100 image in avr-bridge, and the clients that talk to it."""
    elf_name = 'siot-avr-eth-both-8.elf'
    ctl_timeout = 60

    def elf(self, name=None):
        path = os.path.join(fw.IMAGES, name or self.elf_name)
        if not os.path.exists(path):
            why = f'{os.path.basename(path)} was not built'
            if os.environ.get('CI'):
                self.fail(why + ' (CI must run this)')
            self.skipTest(why)
        return path

    def eeprom(self, name='ee.bin', profile='v1', wakeup=0, timeout=5000):
        return fw.provision(self.dir, self.key_path, name=name, profile=profile, wakeup=wakeup,
                            timeout=timeout, extra=('--ip', '192.168.1.177', '--gateway', '192.168.1.1'))

    def bridge(self, elf=None, eeprom=None, extra=(), **kw):
        b = fw.Bridge(elf or self.elf(), eeprom or self.eeprom(), self.dir, w5100=True,
                      extra=extra, **kw)
        self.running.append(b)
        self.assertTrue(b.wait_line(lambda l: l.startswith('w5100 listen'), 20), b.lines)
        return b

    def ctl(self, b, *commands, key=None, extra=(), timeout=None):
        args = [SIOT_CTL, '-H', f'127.0.0.1:{b.port}', '-D', DEVICE, '-i', CLIENT,
                '-k', key or self.key_path, '-T', '20', '--json'] + list(extra) + ['send'] + list(commands)
        r = subprocess.run(args, capture_output=True, text=True, timeout=timeout or self.ctl_timeout)
        out = [json.loads(l) for l in r.stdout.splitlines() if l.startswith('{')]
        return r.returncode, out, r.stderr + r.stdout

    def served(self, b):
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-toggle')
        self.assertEqual(rc, 0, err + '\n' + '\n'.join(b.lines[m - 12:]))
        self.assertEqual(len(b.pins(LED, m)), 1)



class Ethernet(EthBase):
    """The W5100 image: every case over TCP.  EthernetSketch runs the same
    on the sketch."""

    def test_set_toggle_pulse_get_on_the_provisioned_port(self):
        b = self.bridge()
        self.assertIn('w5100 listen port=7468', b.lines)
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on')
        self.assertEqual(rc, 0, err)
        self.assertEqual(b.pins(LED, m)[-1][0], 1)
        rc, out, err = self.ctl(b, 'led', 'led-toggle', 'led', 'relay-on', 'door')
        self.assertEqual(rc, 0, err)
        self.assertEqual([o['result'] for o in out], [1, 0, 0, 0, 0])
        self.assertEqual(b.pins(LED, m)[-1][0], 0)
        self.assertEqual(b.pins(RELAY, m)[-1][0], 1)
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-pulse')
        self.assertEqual(rc, 0, err)
        p = b.pins(LED, m)
        self.assertEqual([lvl for lvl, _ in p], [1, 0])
        ms = (p[1][1] - p[0][1]) * 1000 / fw.FREQ
        print(f'ethernet: {self.elf_name}: led-pulse (200 ms): D{LED} high for {ms:.3f} ms of simulated time')
        self.assertGreaterEqual(ms, 197.0)
        self.assertLess(ms, 205.0)
        # The SPI pins are the shield's, not reported as pins.
        self.assertFalse([l for l in b.lines if l.startswith(('pin D10', 'pin D11', 'pin D12', 'pin D13'))])
        lat = [l for l in b.lines if l.startswith('latency')]
        self.assertTrue(lat and all(l.endswith('spi=simavr') for l in lat), lat)

    def test_a_wake_up_of_four_bytes(self):
        b = self.bridge(eeprom=self.eeprom(wakeup=4))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', extra=('--wakeup-length', '4'))
        self.assertEqual(rc, 0, err)
        self.assertEqual(b.pins(LED, m)[-1][0], 1)
        # Without it, the device waits for 4 bytes and the client for a HELLO.
        rc, out, err = self.ctl(b, 'led-off', extra=('-T', '2'))
        self.assertNotEqual(rc, 0, err)
        self.assertEqual(b.pins(LED, m)[-1][0], 1)

    def test_wrong_key_is_76_and_nothing_moves(self):
        b = self.bridge()
        other = os.path.join(self.dir, 'other')
        fw.key_file(other, os.urandom(32))
        m = b.mark()
        rc, out, err = self.ctl(b, 'led-on', key=other)
        self.assertEqual(rc, 76, err)
        self.assertEqual(b.pins(LED, m), [])
        self.served(b)

    def test_replay_does_not_run_even_across_a_reset(self):
        b = self.bridge()
        raw = RawTcp(b.port)
        hello = raw.hello()
        req = RawTcp.request(self.key, hello, 'led-toggle')
        m = b.mark()
        self.assertEqual(raw.exchange(req)[0], 0)
        self.assertEqual(b.pins(LED, m)[-1][0], 1)
        raw.close()
        seen = {hello[8:40]}
        m = b.mark()
        self.replay_refused(b, RawTcp(b.port), req, seen)
        self.assertEqual(b.pins(LED, m), [])
        # The board resets (EEPROM kept), and the shield with it.
        b.reset()
        self.assertTrue(b.wait_line(lambda l: l.startswith('w5100 listen'), 20, b.mark() - 1))
        m = self.replay_refused(b, RawTcp(b.port), req, seen)
        self.assertEqual(b.pins(LED, m), [])
        b.stop()
        self.assertEqual(b.boot_counter(), 2)

    def test_classic(self):
        b = self.bridge(eeprom=self.eeprom(name='classic.bin', profile='classic'))
        m = b.mark()
        r = subprocess.run([SIOT_CTL, '-H', f'127.0.0.1:{b.port}', '--protocol', 'classic',
                            '-k', self.key_path, '-T', '20', 'send', 'led-on', 'led-toggle'],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([lvl for lvl, _ in b.pins(LED, m)], [1, 0])

    def test_siot_client(self):
        b = self.bridge()
        m = b.mark()
        self.assertEqual(self.siot_client(b.port, 'led-toggle', 'led'), [0, 1])
        self.assertEqual(b.pins(LED, m)[-1][0], 1)

    def test_ten_clients_in_a_row(self):
        b = self.bridge()
        m = b.mark()
        for i in range(10):
            rc, out, err = self.ctl(b, 'led-toggle')
            self.assertEqual(rc, 0, f'client {i}: {err}')
        self.assertEqual([lvl for lvl, _ in b.pins(LED, m)], [1, 0] * 5)

    def test_a_second_client_waits_and_the_first_is_not_disturbed(self):
        """One connection at a time: a second client waits (the bridge's
        backlog; a real W5100 with its one socket busy refuses it with a
        reset) and is served when the first is done."""
        b = self.bridge()
        first = RawTcp(b.port)
        hello = first.hello()
        second = RawTcp(b.port)
        time.sleep(0.5)
        m = b.mark()
        self.assertEqual(first.exchange(RawTcp.request(self.key, hello, 'led-on'))[0], 0)
        self.assertEqual(b.pins(LED, m)[-1][0], 1)
        self.assertTrue(first.closed_by_device())
        first.close()
        hello2 = second.hello()
        self.assertNotEqual(hello2[8:40], hello[8:40])
        self.assertEqual(second.exchange(RawTcp.request(self.key, hello2, 'led-off'))[0], 0)
        self.assertEqual(b.pins(LED, m)[-1][0], 0)
        second.close()

    def test_a_silent_client_is_dropped_at_the_deadline(self):
        b = self.bridge(eeprom=self.eeprom(name='t.bin', timeout=2000))
        raw = RawTcp(b.port)
        raw.hello()
        t = time.monotonic()
        self.assertTrue(raw.closed_by_device(15))
        waited = time.monotonic() - t
        raw.close()
        self.assertGreaterEqual(waited, 1.5)
        self.served(b)

    def test_a_client_gone_mid_exchange_leaves_it_ready(self):
        b = self.bridge()
        for how in ('fin', 'reset'):
            leave_half_way(b.port, self.key, how)
            m = b.mark()
            self.served(b)
            self.assertEqual(len([l for l in b.lines[:m] if l.startswith('reset')]), 0)

    def test_200_garbage_connections(self):
        elf = self.elf_name.replace('both', 'v1')  # the budget's image
        b = self.bridge(elf=self.elf(elf))
        garbage(b.port)
        self.served(b)
        b.stop()
        free, stack = self.ram(b, elf)
        print(f'ethernet: {elf}: after 200 garbage connections, RAM never touched {free} bytes'
              f' of 2048 (budget {RAM_BUDGET}); stack at most {stack}')
        self.assertGreaterEqual(free, RAM_BUDGET)


class EthernetBudget(EthBase):
    def test_flash(self):
        """v1 with Ethernet in at most 20 KB of the Pro Mini's 30,720
        (avr-size, as build_firmware printed it)."""
        for name in ('siot-avr-eth-v1-8.elf', 'siot-avr-eth-both-8.elf', 'siot-arduino-eth.elf'):
            self.elf(name)
            print(f'ethernet: {name}: {fw.SIZES[name]["flash"]} bytes of flash, '
                  f'{fw.SIZES[name]["ram"]} of static RAM')
        self.assertLessEqual(fw.SIZES['siot-avr-eth-v1-8.elf']['flash'], 20 * 1024)


class EthernetRingsWrap(EthBase):
    """The W5100's ring pointers start 16 bytes before the end of socket
    0's 2 KB rings: the first exchange's bytes wrap in both rings, and the
    pointers pass 0xFFFF into 0 later on."""

    def test_exchanges_across_the_wrap(self):
        for start in (2048 - 16, 0x10000 - 40):
            b = self.bridge(extra=('--w5100-ring-start', str(start)))
            m = b.mark()
            for i in range(3):
                rc, out, err = self.ctl(b, 'led-toggle', 'led')
                self.assertEqual(rc, 0, f'start {start}, exchange {i}: {err}')
                self.assertEqual([o['result'] for o in out], [0, 1 - i % 2])
            self.assertEqual([lvl for lvl, _ in b.pins(LED, m)], [1, 0, 1])
            b.stop()


class W5100Model(EthBase):
    """The model catches a wrong driver."""

    def broken(self, name, ring_start):
        b = fw.Bridge(self.elf(name), self.eeprom(), self.dir, w5100=True,
                      extra=('--w5100-ring-start', str(ring_start)))
        self.running.append(b)
        self.ctl(b, 'led-on', extra=('-T', '5'), timeout=60)
        b.proc.wait(30)
        b.reader.join(5)
        fails = [l for l in b.lines if l.startswith('w5100: FAIL')]
        return b.proc.returncode, fails

    def probe(self, what):
        ee = os.path.join(self.dir, f'probe-{what}.bin')
        with open(ee, 'wb') as f:
            f.write(what.encode())
        b = fw.Bridge(os.path.join(fw.IMAGES, 'w5100-probe.elf'), ee, self.dir, w5100=True, pins=False)
        self.running.append(b)
        return b

    def test_each_mistake_the_datasheet_rules_out_fails(self):
        """w5100-probe.elf makes one mistake per run: the model exits 3 and
        says which."""
        for what, reason in (('f', 'fewer than 4 bytes'), ('o', 'an opcode other than'),
                             ('u', 'a read of a register this model does not have'),
                             ('r', 'a write to a read-only register'),
                             ('l', 'LISTEN while the socket is not INIT'),
                             ('b', 'before Sn_CR cleared'),
                             ('x', 'RX memory read past what was received')):
            b = self.probe(what)
            b.proc.wait(30)
            b.reader.join(5)  # every line it printed, before they are read
            fails = [l for l in b.lines if l.startswith('w5100: FAIL')]
            self.assertEqual(b.proc.returncode, 3, (what, b.lines))
            self.assertEqual(len(fails), 1, (what, b.lines))
            self.assertIn(reason, fails[0], what)
            self.assertRegex(fails[0], r' addr=0x[0-9a-f]{4} pc=0x[0-9a-f]+$')

    def test_a_driver_that_follows_the_datasheet_passes(self):
        b = self.probe('n')
        self.assertTrue(b.wait_line(lambda l: l == 'w5100 listen port=7468', 20), b.lines)
        self.assertTrue(b.wait_line(lambda l: l.startswith('pin D9 1'), 20), b.lines)
        self.assertIsNone(b.proc.poll())

    def test_a_driver_without_wrap_around_fails(self):
        rc, fails = self.broken('siot-avr-eth-broken-wrap.elf', 2048 - 16)
        self.assertEqual(rc, 3)
        self.assertTrue(fails and 'outside socket 0\'s ring' in fails[0], fails)

    def test_a_driver_that_does_not_wait_for_sn_cr_fails(self):
        rc, fails = self.broken('siot-avr-eth-broken-cr.elf', 0)
        self.assertEqual(rc, 3)
        self.assertTrue(fails and 'Sn_CR' in fails[0], fails)


class EthernetSketch(Ethernet):
    """The Arduino sketch's Ethernet variant: the same driver under the
    Arduino core (SPI library, millis(), EEPROM)."""
    elf_name = 'siot-arduino-eth.elf'

    def test_200_garbage_connections(self):
        # The sketch has one build (both profiles): its figure, on it.
        b = self.bridge()
        garbage(b.port)
        self.served(b)
        b.stop()
        free, stack = self.ram(b, self.elf_name)
        print(f'ethernet: sketch: after 200 garbage connections, RAM never touched {free} bytes'
              f' of 2048 (budget {RAM_BUDGET}); stack at most {stack}')
        self.assertGreaterEqual(free, RAM_BUDGET)

if __name__ == '__main__':
    why = fw.missing_tools()
    if why:
        fw.skip_or_fail(why)
    fw.IMAGES = fw.build_firmware()
    unittest.main(verbosity=2)

#!/usr/bin/env python3
"""GPIO actions through a real siotd on the simulated chip, whose line
levels siotd publishes in $SIOTD_GPIO_SIM_DIR (and whose inputs read
lineN.in there): set, toggle, pulse, get, active_low, outputs held between
connections, one action per line, reloads, and configuration errors."""
import json
import os
import signal
import subprocess
import time
import unittest

from harness import SIOTD, Case, wait_until


class Gpio(Case):
    def setUp(self):
        super().setUp()
        self.sim = self.path('gpio')
        os.mkdir(self.sim)
        os.environ['SIOTD_GPIO_SIM_DIR'] = self.sim
        self.addCleanup(os.environ.pop, 'SIOTD_GPIO_SIM_DIR', None)

    LINES = ('lines = (\n'
             '  { name = "lamp"; chip = "sim"; line = 3; direction = "output"; initial = 0; },\n'
             '  { name = "relay"; chip = "sim"; line = "line4"; direction = "output"; active_low = true; initial = 0; },\n'
             '  { name = "door"; chip = "sim"; line = 5; direction = "input"; bias = "pull-up"; }\n'
             ');\n')
    COMMANDS = ('commands = (\n'
                '  { name = "lamp-on"; gpio = { line = "lamp"; action = "set"; value = 1; }; },\n'
                '  { name = "lamp-off"; gpio = { line = "lamp"; action = "set"; value = 0; }; },\n'
                '  { name = "lamp-toggle"; gpio = { line = "lamp"; action = "toggle"; }; },\n'
                '  { name = "lamp-state"; gpio = { line = "lamp"; action = "get"; }; },\n'
                '  { name = "lamp-pulse"; gpio = { line = "lamp"; action = "pulse"; value = 1; duration = 1.0; }; },\n'
                '  { name = "lamp-blink"; gpio = { line = "lamp"; action = "pulse"; value = 1; duration = 0.1; }; },\n'
                '  { name = "relay-on"; gpio = { line = "relay"; action = "set"; value = 1; }; },\n'
                '  { name = "relay-state"; gpio = { line = "relay"; action = "get"; }; },\n'
                '  { name = "door"; gpio = { line = "door"; action = "get"; }; }\n'
                ');\n')

    def conf(self, lines=None, commands=None, extra=''):
        return ('device_id = "gpio";\nmax_requests = 10;\n%s'
                'clients = ( { id = "alice"; key_file = "%s"; } );\n%s%s' %
                (extra, self.alice_key_path, lines or self.LINES, commands or self.COMMANDS))

    def level(self, n):
        with open(os.path.join(self.sim, 'line%d' % n)) as f:
            return int(f.read())

    def result(self, d, cmd):
        p = self.send(d, cmd, extra=['--json'])
        self.assertExit(p, 0)
        return json.loads(p.stdout)['result']

    def test_set_toggle_get(self):
        d = self.daemon(self.conf())
        self.assertEqual(self.level(3), 0)  # initial, at start-up
        self.assertExit(self.send(d, 'lamp-on'), 0)
        self.assertEqual(self.level(3), 1)
        self.assertEqual(self.result(d, 'lamp-state'), 1)
        self.assertEqual(self.level(3), 1)  # reading it left it alone
        self.assertExit(self.send(d, 'lamp-toggle'), 0)
        self.assertEqual(self.level(3), 0)
        self.assertEqual(self.result(d, 'lamp-state'), 0)
        self.assertExit(self.send(d, 'lamp-toggle', 'lamp-toggle', 'lamp-toggle'), 0)
        self.assertEqual(self.level(3), 1)

    def test_output_stays_set_between_connections(self):
        d = self.daemon(self.conf())
        self.assertExit(self.send(d, 'lamp-on'), 0)
        # The client is gone; the level does not move for a while after it.
        self.assertFalse(wait_until(lambda: self.level(3) != 1, 0.5))
        self.assertEqual(self.result(d, 'lamp-state'), 1)  # a new connection sees it

    def test_active_low(self):
        d = self.daemon(self.conf())
        self.assertEqual(self.level(4), 1)  # logical 0 on an active-low line
        self.assertExit(self.send(d, 'relay-on'), 0)
        self.assertEqual(self.level(4), 0)
        self.assertEqual(self.result(d, 'relay-state'), 1)

    def test_input_get_and_bias(self):
        d = self.daemon(self.conf())
        self.assertEqual(self.result(d, 'door'), 1)  # pull-up, nothing connected
        with open(os.path.join(self.sim, 'line5.in'), 'w') as f:
            f.write('0\n')
        self.assertEqual(self.result(d, 'door'), 0)

    def test_get_prints_its_value(self):
        """Reading a sensor prints its value (it once printed nothing): the
        value is the get's output text, named when there are several
        commands; set and the like stay quiet; output = false keeps a get
        quiet too."""
        d = self.daemon(self.conf(commands=(
            'commands = (\n'
            '  { name = "door"; gpio = { line = "door"; action = "get"; }; },\n'
            '  { name = "door-quiet"; output = false; gpio = { line = "door"; action = "get"; }; },\n'
            '  { name = "lamp-on"; gpio = { line = "lamp"; action = "set"; value = 1; }; },\n'
            '  { name = "lamp-state"; gpio = { line = "lamp"; action = "get"; }; }\n'
            ');\n')))
        p = self.send(d, 'door')
        self.assertExit(p, 0)
        self.assertEqual((p.stdout, p.stderr), ('1\n', ''))
        p = self.send(d, 'door', extra=['--json'])
        self.assertEqual(json.loads(p.stdout)['output'], '1\n')
        p = self.send(d, 'lamp-on')
        self.assertEqual((p.stdout, p.stderr), ('', ''))
        p = self.send(d, 'door', 'lamp-on', 'lamp-state')
        self.assertExit(p, 0)
        self.assertEqual(p.stdout, 'door: 1\nlamp-state: 1\n')
        p = self.send(d, 'door-quiet', extra=['--json'])
        self.assertEqual(json.loads(p.stdout), {'command': 'door-quiet', 'status': 'ok',
                                                'result': 1, 'authentic': True})
        # Marked as a value (--value, or the target's values, as for a board
        # without sealed output): the result byte printed the same way; a
        # get that has output already keeps it.
        p = self.send(d, 'door-quiet', extra=['--value'])
        self.assertEqual((p.stdout, p.stderr), ('1\n', ''))
        p = self.send(d, 'door', 'door-quiet', extra=['--value'])
        self.assertEqual(p.stdout, 'door: 1\ndoor-quiet: 1\n')

    def pulse_width(self, d, command, line):
        """Send command (a pulse) and sample the line's published level from
        outside siotd as fast as it goes (bounded by 10 s).  Each sample is
        the time before and after one read of the level, so an edge lies
        between the start of the last read that saw the old level and the end
        of the first read that saw the new one (reads are slow under
        emulation, where the time before the read alone once measured a
        100 ms pulse as 98.5 ms).  Returns the shortest and the longest width
        those bounds allow."""
        def sample():
            t0 = time.monotonic()
            v = self.level(line)
            return t0, v, time.monotonic()
        samples = [sample()]  # before the pulse can begin
        self.assertEqual(samples[0][1], 0)
        proc = self.send_background(d, command)
        end = time.monotonic() + 10
        while time.monotonic() < end:
            samples.append(sample())
            if samples[-2][1] == 1 and samples[-1][1] == 0:
                break
        self.assertEqual(proc.wait(10), 0)
        rise = next(i for i, s in enumerate(samples) if s[1] == 1)
        fall = next(i for i in range(rise, len(samples)) if samples[i][1] == 0)
        shortest = samples[fall - 1][0] - samples[rise][2]
        longest = samples[fall][2] - samples[rise - 1][0]
        return shortest, longest

    def test_short_pulse_width(self):
        """A 100 ms pulse is never shorter than 100 ms (to the sampling
        uncertainty) and ends before 200 ms (sd-event's default timer
        accuracy, 250 ms, once made it 109-250 ms)."""
        d = self.daemon(self.conf())
        measured = [self.pulse_width(d, 'lamp-blink', 3) for _ in range(5)]
        print('sim pulse of 100 ms, widths measured: %s ms'
              % ', '.join('%.1f..%.1f' % (lo * 1000, hi * 1000) for lo, hi in measured))
        for shortest, longest in measured:
            self.assertGreaterEqual(longest, 0.1)  # never shorter than 100 ms
            self.assertLess(shortest, 0.2)         # and over before 200 ms

    def test_pulse_timing_and_busy_line(self):
        d = self.daemon(self.conf())
        t0 = time.monotonic()
        pulse = self.send_background(d, 'lamp-pulse')
        self.assertTrue(wait_until(lambda: self.level(3) == 1, 5))
        # While the pulse holds the line, another action on it is BUSY...
        self.assertExit(self.send(d, 'lamp-off'), 3)
        self.assertEqual(self.level(3), 1)
        # ...and the daemon is not blocked: another line works meanwhile.
        self.assertExit(self.send(d, 'relay-on'), 0)
        self.assertEqual(pulse.wait(10), 0)
        elapsed = time.monotonic() - t0
        self.assertGreaterEqual(elapsed, 1.0)  # the answer comes when the pulse is over
        self.assertEqual(self.level(3), 0)     # and the line is back
        self.assertIn('outcome=busy', d.log())
        self.assertIn('its GPIO line is in use', d.log())

    def test_reload_keeps_unchanged_lines(self):
        d = self.daemon(self.conf())
        self.assertExit(self.send(d, 'lamp-on'), 0)
        self.assertExit(self.send(d, 'relay-on'), 0)
        # Same lamp; relay no longer active-low; door dropped.
        lines = ('lines = (\n'
                 '  { name = "lamp"; chip = "sim"; line = 3; direction = "output"; initial = 0; },\n'
                 '  { name = "relay"; chip = "sim"; line = 4; direction = "output"; initial = 0; }\n'
                 ');\n')
        commands = ('commands = (\n'
                    '  { name = "lamp-state"; gpio = { line = "lamp"; action = "get"; }; },\n'
                    '  { name = "relay-state"; gpio = { line = "relay"; action = "get"; }; }\n'
                    ');\n')
        with open(d.conf, 'w') as f:
            f.write(self.conf(lines, commands))
        d.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: 'reloaded:' in d.log(), 10), d.log())
        self.assertEqual(self.level(3), 1)           # untouched
        self.assertEqual(self.result(d, 'lamp-state'), 1)
        self.assertEqual(self.result(d, 'relay-state'), 1)  # logical value kept...
        self.assertEqual(self.level(4), 1)           # ...now without active_low
        self.assertExit(self.send(d, 'door'), 2)     # gone with the old config

    def test_reload_during_a_pulse(self):
        """A reload that turns a pulsing line into an input lets the pulse
        finish as it began (it once failed with 'stuck at 1'), then the line
        takes its new settings."""
        d = self.daemon(self.conf())
        pulse = self.send_background(d, 'lamp-pulse')
        self.assertTrue(wait_until(lambda: self.level(3) == 1, 5))
        lines = ('lines = (\n'
                 '  { name = "lamp"; chip = "sim"; line = 3; direction = "input"; bias = "pull-up"; }\n'
                 ');\n')
        commands = ('commands = ( { name = "lamp-state"; gpio = { line = "lamp"; action = "get"; }; } );\n')
        with open(d.conf, 'w') as f:
            f.write(self.conf(lines, commands))
        d.signal(signal.SIGHUP)
        self.assertTrue(wait_until(lambda: 'reloaded:' in d.log(), 10), d.log())
        self.assertEqual(self.level(3), 1)  # the pulse goes on
        self.assertEqual(pulse.wait(10), 0)  # and ends OK, not FAILED
        self.assertEqual(self.level(3), 0)
        self.assertNotIn('stuck', d.log())
        self.assertEqual(self.result(d, 'lamp-state'), 1)  # an input now, with its pull-up

    def test_config_errors(self):
        bad_lines = ('lines = (\n'
                     '  { name = "a"; chip = "sim"; line = 64; direction = "output"; },\n'
                     '  { name = "b"; chip = "sim"; line = "GPIO17"; },\n'
                     '  { name = "c"; chip = "gpiochip99"; line = 1; },\n'
                     '  { name = "d"; chip = "sim"; line = 1; direction = "sideways"; },\n'
                     '  { name = "e"; chip = "sim"; line = 2; bias = "pull-up"; drive = "open-drain"; }\n'
                     ');\n')
        bad_commands = ('commands = (\n'
                        '  { name = "x1"; gpio = { line = "nope"; action = "get"; }; },\n'
                        '  { name = "x2"; gpio = { line = "e"; action = "set"; value = 1; }; },\n'
                        '  { name = "x3"; gpio = { line = "d"; action = "set"; }; },\n'
                        '  { name = "x4"; gpio = { line = "d"; action = "blink"; }; }\n'
                        ');\n')
        text = ('clients = ( { id = "alice"; key_file = "%s"; } );\n%s%s' %
                (self.alice_key_path, bad_lines, bad_commands))
        path = self.path('bad.conf')
        with open(path, 'w') as f:
            f.write(text)
        p = subprocess.run([SIOTD, '--check-config', '-c', path], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        for line, words in ((3, 'lines 0 .. 63, not 64'), (4, 'named line0 .. line63'),
                            (5, 'gpiochip99'), (6, 'direction "sideways"'),
                            (7, 'drive is for outputs'), (10, 'no line "nope"'),
                            (11, 'needs an output line'), (12, 'needs value'),
                            (13, 'action = "set"')):
            self.assertTrue(any(l.startswith('%s:%d:' % (path, line)) and words in l
                                for l in p.stderr.splitlines()), (line, words, p.stderr))


if __name__ == '__main__':
    unittest.main(verbosity=2)

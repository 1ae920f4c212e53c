"""provision.py's image and how it leaves it: a fresh seed on every run,
a file that is private from the start, replaced atomically, never written
through a symlink, named single-use; or no file at all, through avrdude.

avrdude itself needs a board, so --avrdude is checked with a stand-in on
PATH that records its arguments and what came on its standard input."""
import ipaddress
import os
import re
import stat
import subprocess
import sys
import tempfile
import unittest

PROVISION = os.path.join(os.environ.get('SOURCE_ROOT', os.path.join(os.path.dirname(__file__),
                                                                     '..', '..')),
                         'src/device/provision.py')
SEED = slice(10, 42)
KEY = slice(42, 106)


def layout():
    """provision.h's PROV_* numbers: the layout's one owner."""
    with open(os.path.join(os.path.dirname(PROVISION), 'provision.h')) as f:
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r'^#define PROV_(\w+) (\d+)$', f.read(), re.M)}


class Provision(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix='siot-provision-')
        self.key = os.path.join(self.dir, 'k.key')
        with open(self.key, 'w') as f:
            f.write('00112233445566778899aabbccddeeff\n')
        os.chmod(self.key, 0o600)

    def tearDown(self):
        subprocess.run(['rm', '-rf', self.dir], check=True)

    def run_it(self, *args, env=None):
        return subprocess.run([sys.executable, PROVISION, '--key', self.key, '--client-id', 'me',
                               '--device-id', 'board'] + list(args),
                              capture_output=True, env=env, timeout=30)

    def image(self, name='ee.bin'):
        p = self.run_it('-o', os.path.join(self.dir, name))
        self.assertEqual(p.returncode, 0, p.stderr)
        path = p.stdout.decode().strip()
        with open(path, 'rb') as f:
            return path, f.read()

    def test_fresh_seed_every_run(self):
        # The same command twice: two different seeds (and dummy keys), the
        # same key and ids.  A repeated seed would repeat the challenges.
        _, a = self.image('a.bin')
        _, b = self.image('b.bin')
        self.assertNotEqual(a[SEED], b[SEED])
        self.assertNotEqual(a[176:208], b[176:208])
        self.assertEqual(a[KEY], b[KEY])
        # Layout 2: the boot counter 0 in copy A with its complement, copy
        # B erased (invalid), version 1's counter bytes unused.
        self.assertEqual(a[4], 2)
        self.assertEqual(a[208:224], b'\0' * 4 + b'\xff' * 12)
        self.assertEqual(a[6:10], b'\xff' * 4)

    def test_file_is_named_single_use_and_private(self):
        path, _ = self.image('ee.bin')
        self.assertEqual(os.path.basename(path), 'ee.single-use.bin')
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        path, _ = self.image('board.single-use.img')
        self.assertEqual(os.path.basename(path), 'board.single-use.img')

    def test_existing_file_replaced_not_reused(self):
        # A 0644 file already there: replaced by a new 0600 file, not
        # written in place (its mode and inode were kept before).
        target = os.path.join(self.dir, 'ee.single-use.bin')
        with open(target, 'w') as f:
            f.write('old')
        os.chmod(target, 0o644)
        inode = os.stat(target).st_ino
        path, data = self.image('ee.single-use.bin')
        self.assertEqual(path, target)
        self.assertEqual(stat.S_IMODE(os.stat(target).st_mode), 0o600)
        self.assertNotEqual(os.stat(target).st_ino, inode)
        self.assertEqual(data[0:4], b'SIOT')
        self.assertEqual([n for n in os.listdir(self.dir) if n.startswith('.provision-')], [])

    def test_symlink_refused(self):
        victim = os.path.join(self.dir, 'elsewhere')
        with open(victim, 'w') as f:
            f.write('untouched')
        os.chmod(victim, 0o644)
        link = os.path.join(self.dir, 'ee.single-use.bin')
        os.symlink(victim, link)
        p = self.run_it('-o', link)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b'a symbolic link', p.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), 'untouched')
        self.assertTrue(os.path.islink(link))

    def test_avrdude_leaves_no_image(self):
        bin_dir = os.path.join(self.dir, 'bin')
        os.mkdir(bin_dir)
        record = os.path.join(self.dir, 'avrdude-got')
        with open(os.path.join(bin_dir, 'avrdude'), 'w') as f:
            f.write('#!/bin/sh\nprintf "%%s\\n" "$@" > "%s.args"\ncat > "%s.stdin"\n'
                    % (record, record))
        os.chmod(os.path.join(bin_dir, 'avrdude'), 0o755)
        env = dict(os.environ, PATH=bin_dir + ':' + os.environ['PATH'])
        before = set(os.listdir(self.dir))
        p = self.run_it('--avrdude', '-p m328p -c usbasp', env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(record + '.args') as f:
            self.assertEqual(f.read().split('\n')[:-1],
                             ['-p', 'm328p', '-c', 'usbasp', '-U', 'eeprom:w:-:r'])
        with open(record + '.stdin', 'rb') as f:
            img = f.read()
        self.assertEqual((len(img), img[0:4]), (1024, b'SIOT'))
        self.assertEqual(set(os.listdir(self.dir)) - before, {'avrdude-got.args',
                                                               'avrdude-got.stdin'})

    def test_needs_a_destination(self):
        p = self.run_it()
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(b'--avrdude', p.stderr)
        p = subprocess.run([sys.executable, PROVISION, '--help'], capture_output=True)
        self.assertIn(b'single-use', p.stdout)


class Network(unittest.TestCase):
    """The network block (--ip and friends) where provision.h puts it."""

    setUp = Provision.setUp
    tearDown = Provision.tearDown
    run_it = Provision.run_it

    def test_block_where_provision_h_says(self):
        L = layout()
        self.assertEqual(L['SIZE'], 245)
        out = os.path.join(self.dir, 'n.bin')
        p = self.run_it('-o', out, '--ip', '10.0.2.15', '--gateway', '10.0.2.2', '--wakeup', '0',
                        '--mac', '02:00:5e:10:00:01', '--port', '7470')
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(p.stdout.decode().strip(), 'rb') as f:
            img = f.read()
        self.assertEqual(img[L['OFF_NET']], 1)
        self.assertEqual(img[L['OFF_MAC']:L['OFF_MAC'] + 6], bytes.fromhex('02005e100001'))
        self.assertEqual(img[L['OFF_IP']:L['OFF_IP'] + 4], ipaddress.IPv4Address('10.0.2.15').packed)
        self.assertEqual(img[L['OFF_NETMASK']:L['OFF_NETMASK'] + 4], bytes([255, 255, 255, 0]))
        self.assertEqual(img[L['OFF_GATEWAY']:L['OFF_GATEWAY'] + 4], bytes([10, 0, 2, 2]))
        self.assertEqual(int.from_bytes(img[L['OFF_PORT']:L['OFF_PORT'] + 2], 'little'), 7470)
        self.assertEqual(img[L['OFF_WAKEUP']], 0)
        self.assertEqual(img[L['SIZE']:], b'\xff' * (1024 - L['SIZE']))
        # Defaults: a random locally administered unicast MAC, port 7468.
        p = self.run_it('-o', os.path.join(self.dir, 'm.bin'), '--ip', '192.168.1.50')
        with open(p.stdout.decode().strip(), 'rb') as f:
            img = f.read()
        self.assertEqual(img[L['OFF_MAC']] & 3, 2)
        self.assertEqual(img[L['OFF_GATEWAY']:L['OFF_GATEWAY'] + 4], bytes(4))
        self.assertEqual(int.from_bytes(img[L['OFF_PORT']:L['OFF_PORT'] + 2], 'little'), 7468)

    def test_no_block_without_ip(self):
        L = layout()
        _, img = Provision.image(self)
        self.assertEqual(img[L['OFF_NET']:L['SIZE']], b'\xff' * (L['SIZE'] - L['OFF_NET']))

    def test_values_that_cannot_serve_are_refused(self):
        out = os.path.join(self.dir, 'x.bin')
        for args, says in ((['--ip', '10.0.2.0'], b'not an address a host can have'),
                           (['--ip', '10.0.2.255'], b'not an address a host can have'),
                           (['--ip', '224.0.0.1'], b'not an address a host can have'),
                           (['--ip', '10.0.2.300'], b'--ip'),
                           (['--ip', '10.0.2.15', '--netmask', '255.0.255.0'], b'--netmask'),
                           (['--ip', '10.0.2.15', '--gateway', '10.0.3.1'], b'not in 10.0.2.0/24'),
                           (['--ip', '10.0.2.15', '--mac', '01:00:5e:00:00:01'], b'unicast'),
                           (['--ip', '10.0.2.15', '--mac', '02:00:5e'], b'six hex bytes'),
                           (['--ip', '10.0.2.15', '--port', '0'], b'--port'),
                           (['--port', '7470'], b'give --ip too'),
                           (['--wakeup', '0'], b'a serial line needs a wake-up')):
            p = self.run_it('-o', out, *args)
            self.assertNotEqual(p.returncode, 0, args)
            self.assertIn(says, p.stderr, args)
            self.assertFalse(os.path.exists(os.path.join(self.dir, 'x.single-use.bin')), args)


if __name__ == '__main__':
    unittest.main(verbosity=2)

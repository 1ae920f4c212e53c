#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The firmware suite's proof of the AVR's own SHA-256 compression
(src/device/sha256_process.c, behind Mbed TLS's MBEDTLS_SHA256_PROCESS_ALT):
sha256-check.elf in simavr, through avr-bridge unthrottled.  FIPS 180-4's
examples, NIST's short and long message vectors, RFC 4231, the shared
protocol vectors through the device core, a 10,000-message differential
test against Mbed TLS's own compression on the part, and its cycles.

Environment and skipping: as test_avr.py, whose build and bridge it uses.
"""
import hashlib
import hmac
import json
import os
import socket
import time
import unittest

import test_avr as fw

# FIPS 180-4's examples (NIST's SHA-256 example document): "abc", the
# 448-bit two-block message, and a million 'a's.
FIPS_180_4 = [
    (b'abc', 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'),
    (b'abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq',
     '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1'),
]
MILLION_A = 'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0'

# From NIST CAVP's byte-oriented SHA256ShortMsg.rsp (Len 0, 8, 16, 440,
# 448, 504, 512: each side of the padding's one-block limit) and
# SHA256LongMsg.rsp (Len 1304).  test_vectors_are_sha256 checks each with
# Python's hashlib, so a copying mistake shows as that, not as a fault here.
NIST_SHAVS = [
    ('', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
    ('d3', '28969cdfa74a12c82f3bad960b0b000aca2ac329deea5c2328ebc6f2ba9802c1'),
    ('11af', '5ca7133fa735326081558ac312c620eeca9970d1e70a4b95533d956f072d1f98'),
    ('3ebfb06db8c38d5ba037f1363e118550aad94606e26835a01af05078533cc25f2f39573c04b632f62f68c294ab31'
     'f2a3e2a1a0d8c2be51', '6595a2ef537a69ba8583dfbf7f5bec0ab1f93ce4c8ee1916eff44a93af5749c4'),
    ('2d52447d1244d2ebc28650e7b05654bad35b3a68eedc7f8515306b496d75f3e73385dd1b002625024b81a02f2f'
     'd6dffb6e6d561cb7d0bd7a', 'cfb88d6faf2de3a69d36195acec2e255e2af2b7d933997f348e09f6ce5758360'),
    ('e2f76e97606a872e317439f1a03fcd92e632e5bd4e7cbc4e97f1afc19a16fde92d77cbe546416b51640cddb92af9'
     '96534dfd81edb17c4424cf1ac4d75aceeb',
     '18041bd4665083001fba8c5411d2d748e8abbfdcdfd9218cb02b68a78e7d4c23'),
    ('5a86b737eaea8ee976a0a24da63e7ed7eefad18a101c1211e2b3650c5187c2a8a650547208251f6d4237e661c7bf'
     '4c77f335390394c37fa1a9f9be836ac28509',
     '42e61e174fbb3897d6dd6cef3dd2802fe67b331953b06114a65c772859dfc1aa'),
    ('451101250ec6f26652249d59dc974b7361d571a8101cdfd36aba3b5854d3ae086b5fdd4597721b66e3c0dc5d8c6'
     '06d9657d0e323283a5217d1f53f2f284f57b85c8a61ac8924711f895c5ed90ef17745ed2d728abd22a5f7a13479a4'
     '62d71b56c19a74a40b655c58edfe0a188ad2cf46cbf30524f65d423c837dd1ff2bf462ac4198007345bb44dbb7b1'
     'c861298cdf61982a833afc728fae1eda2f87aa2c9480858bec',
     '3c593aa539fdcdae516cdf2f15000f6634185c88f505b39775fb9ab137a10aa2'),
]

# RFC 4231, section 4, HMAC-SHA-256 (case 5 is truncated to 128 bits).
RFC_4231 = [
    ('0b' * 20, b'Hi There'.hex(), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'),
    (b'Jefe'.hex(), b'what do ya want for nothing?'.hex(),
     '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'),
    ('aa' * 20, 'dd' * 50, '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'),
    (bytes(range(1, 26)).hex(), 'cd' * 50, '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b'),
    ('0c' * 20, b'Test With Truncation'.hex(), 'a3b6167473100ee06e0c796c2955552b'),
    ('aa' * 131, b'Test Using Larger Than Block-Size Key - Hash Key First'.hex(),
     '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54'),
    ('aa' * 131, b'This is a test using a larger than block-size key and a larger than block-size '
     b'data. The key needs to be hashed before being used by the HMAC algorithm.'.hex(),
     '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2'),
]


def xorshift32(x):
    x ^= (x << 13) & 0xffffffff
    x ^= x >> 17
    x ^= (x << 5) & 0xffffffff
    return x


def differential_messages(count, seed):
    """sha256-check's d command's messages, made the same way here."""
    x = seed
    for _ in range(count):
        x = xorshift32(x)
        n = x % 301
        msg = bytearray()
        for _ in range(n):
            x = xorshift32(x)
            msg.append(x & 0xff)
        yield bytes(msg)


class Sha256(fw.FirmwareCase):
    """The AVR's SHA-256 compression (src/device/sha256_process.c, behind
    Mbed TLS's MBEDTLS_SHA256_PROCESS_ALT) in simavr, through the Mbed TLS
    build the firmware links: sha256-check.elf answers lines on its UART
    (avr/sha256_check.c says which), and avr-bridge runs it unthrottled,
    as fast as the host can."""

    def setUp(self):
        super().setUp()
        ee = os.path.join(self.dir, 'blank.bin')
        with open(ee, 'wb') as f:
            f.write(b'\xff' * 1024)
        self.b = fw.Bridge(os.path.join(fw.IMAGES, 'sha256-check.elf'), ee, self.dir,
                        extra=['--unthrottled'], pins=False)
        self.running.append(self.b)
        self.sock = socket.create_connection(('127.0.0.1', self.b.port), timeout=300)
        self.io = self.sock.makefile('rw', encoding='ascii', newline='\n')
        # In step first: a line sent the moment the bridge accepts may lose
        # its first bytes, and an answer may come late.  Echoes with a word
        # of their own until one comes back; whatever came before it is
        # dropped (bounded: 10 tries, 3 s each).
        self.sock.settimeout(3)
        for i in range(10):
            word = f'sync{i}'
            self.io.write(f'e {word}\n')
            self.io.flush()
            try:
                while self.io.readline().rstrip('\n') != f'e {word}':
                    pass
                break
            except (socket.timeout, OSError):
                self.io.close()  # a timed-out file reads no more: a new one
                self.io = self.sock.makefile('rw', encoding='ascii', newline='\n')
        else:
            self.fail('sha256-check does not answer')
        self.sock.settimeout(300)

    def tearDown(self):
        self.io.close()
        self.sock.close()
        self.b.stop()
        # The image paints its free RAM too (avr/paint.c): its stack never
        # met its data, or the answers above could not be trusted.
        self.assertGreater(min(self.b.values('untouched')), 0)
        super().tearDown()

    def ask(self, line, answers=1):
        self.io.write(line + '\n')
        self.io.flush()
        got = [self.io.readline().rstrip('\n') for _ in range(answers)]
        return got[0] if answers == 1 else got

    def digest(self, msg_hex, key_hex=None):
        """SHA-256 (or HMAC-SHA-256 under key_hex) of msg_hex, on the part,
        fed in pieces of at most 150 bytes (the check's line is 336)."""
        self.assertEqual(self.ask('k ' + key_hex if key_hex is not None else 's'), 'ok')
        for i in range(0, len(msg_hex), 300):
            self.assertEqual(self.ask('u ' + msg_hex[i:i + 300]), 'ok')
        return self.ask('f')

    def test_vectors_are_sha256(self):
        for msg, md in FIPS_180_4:
            self.assertEqual(hashlib.sha256(msg).hexdigest(), md)
        self.assertEqual(hashlib.sha256(b'a' * 1000000).hexdigest(), MILLION_A)
        for msg, md in NIST_SHAVS:
            self.assertEqual(hashlib.sha256(bytes.fromhex(msg)).hexdigest(), md)
        for key, data, mac in RFC_4231:
            full = hmac.new(bytes.fromhex(key), bytes.fromhex(data), 'sha256').hexdigest()
            self.assertEqual(full[:len(mac)], mac)

    def test_fips_180_4_and_nist_vectors(self):
        for msg, md in FIPS_180_4:
            self.assertEqual(self.digest(msg.hex()), md, msg)
        for msg, md in NIST_SHAVS:
            self.assertEqual(self.digest(msg), md, f'{len(msg) * 4} bits')
        self.assertEqual(self.ask('s'), 'ok')
        self.assertEqual(self.ask('r 1000000 61'), 'ok')
        self.assertEqual(self.ask('f'), MILLION_A)

    def test_rfc_4231_hmac(self):
        for i, (key, data, mac) in enumerate(RFC_4231, 1):
            self.assertEqual(self.digest(data, key)[:len(mac)], mac, f'RFC 4231 case {i}')

    def test_siot_vectors_through_the_device_core(self):
        """tests/siot-vectors.json's sha256 vectors that fit the firmware
        (no sealed output, its SIOT_MAX_OUTPUT being 0, and challenges of at
        most its SIOT_MAX_CHALLENGE, 32 bytes): the HELLO's device id, the
        one-state scan among decoys, and the response, byte for byte."""
        with open(os.path.join(fw.SOURCE_ROOT, 'tests/siot-vectors.json')) as f:
            vectors = json.load(f)
        ran = 0
        for v in vectors['v1']:
            if v['hash'] != 'sha256' or v['output'] or int(v['hello'][14:16], 16) > 32:
                continue
            line = ' '.join(['v', v['key'], v['hello'], v['request'], v['command'],
                             str(v['status']), str(v['result'])])
            self.assertEqual(self.ask(line), v['response'], v['command'])
            ran += 1
        for v in vectors['classic']:
            if v['hash'] != 'sha256' or len(v['challenge']) > 64:
                continue
            line = ' '.join(['w', v['key'], v['challenge'], v['request'], v['command'],
                             str(v['result'])])
            self.assertEqual(self.ask(line), v['response'])
            ran += 1
        self.assertGreaterEqual(ran, 5)
        # A wrong key matches nothing.
        v = vectors['classic'][0]
        self.assertEqual(self.ask(' '.join(['w', '00' * 32, v['challenge'], v['request'],
                                            v['command'], '0'])), 'error no match')

    def test_differential_against_mbed_tls(self):
        """10,000 messages of 0-300 bytes made by a PRNG on the part: every
        digest checked here against hashlib (its first 8 bytes, and all 32
        of every one through the chain), and every 8th compared on the part
        with Mbed TLS's own compression."""
        count, seed = 10000, 0x5107d
        t = time.monotonic()
        out = self.ask(f'd {count} {seed} 8', count + 3)
        took = time.monotonic() - t
        chain = hashlib.sha256()
        lengths = set()
        for i, (msg, line) in enumerate(zip(differential_messages(count, seed), out)):
            md = hashlib.sha256(msg).digest()
            self.assertEqual(line, f'{len(msg)} {md[:8].hex()}', f'message {i}')
            chain.update(md)
            lengths.add(len(msg))
        self.assertEqual(out[count], 'chain ' + chain.hexdigest())
        self.assertEqual(out[count + 1], f'compared {(count + 7) // 8}')
        self.assertEqual(out[count + 2], 'mismatches 0')
        self.assertTrue({0, 55, 56, 63, 64, 300} <= lengths)
        print(f'firmware: sha256-check: {count} messages (0-300 bytes) in {took:.1f} s unthrottled')

    def test_cycles_per_compression(self):
        alt, ref = (int(x.split('=')[1]) for x in self.ask('c').split()[1:])
        print(f'firmware: one SHA-256 compression on the ATmega328P: {alt} cycles '
              f'({alt / fw.FREQ * 1000:.2f} ms at 16 MHz); Mbed TLS\'s own: {ref} cycles')
        self.assertLess(alt, ref)


if __name__ == '__main__':
    why = fw.missing_tools()
    if why:
        fw.skip_or_fail(why)
    fw.IMAGES = fw.build_firmware()
    unittest.main(verbosity=2)

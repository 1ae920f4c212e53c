"""The README's Home Assistant section, run as written.

Home Assistant itself cannot be installed here, so this runs what it would
run: every command line of the README's configuration.yaml, through a shell
(as the command_line integration does), against a real siotd whose config is
the README's device config on the simulated GPIO chip.  Each value_template
is rendered with Jinja2 (Home Assistant's template engine) over the command's
output as value_json, and must give what the README says.  The ssh gate for
Home Assistant OS is run as sshd runs a forced command.
"""
import json
import os
import re
import shutil
import subprocess
import unittest

from harness import SIOT_CTL, SOURCE_ROOT, Case, free_port, wait_until, write_script
from mqttraw import port_open

try:
    import jinja2
except ImportError:  # Debian's python3-jinja2, for an interpreter of its own
    import sys
    sys.path.append('/usr/lib/python3/dist-packages')
    import jinja2


def readme():
    with open(os.path.join(SOURCE_ROOT, 'README.md')) as f:
        return f.read()


def section(text):
    i = text.index('\n## Home Assistant\n')
    return text[i:text.index('\n## ', i + 5)]


def ha_config(text):
    """The configuration.yaml block: [(kind, {key: value})] in order, and
    the shell commands {name: command}."""
    block = re.search(r'<!-- home-assistant-config.*?```yaml\n(.*?)```', text, re.S).group(1)
    entities, shell, kind = [], {}, None
    for line in block.splitlines():
        m = re.match(r'  - (\w+):$', line)
        if m:
            kind = m.group(1)
            entities.append((kind, {}))
            continue
        m = re.match(r' {6}(\w+): (.*)$', line)
        if m and kind:
            v = m.group(2)
            entities[-1][1][m.group(1)] = v[1:-1] if v.startswith('"') else v
            continue
        if line == 'shell_command:':
            kind = None
            continue
        m = re.match(r'  (\w+): (.*)$', line)
        if m and kind is None:
            shell[m.group(1)] = m.group(2)
    return entities, shell


def device_config(text):
    """The device's siot.conf block that the section gives."""
    return re.search(r'On the device, the commands these name.*?```\n(.*?)```', text,
                     re.S).group(1)


def render(template, stdout):
    """A value_template as Home Assistant renders it over a command's
    output: value, and value_json when the output is JSON."""
    env = jinja2.Environment()
    return env.from_string(template).render(value=stdout.strip(),
                                            value_json=json.loads(stdout))


class HomeAssistant(Case):
    def setUp(self):
        super().setUp()
        self.text = section(readme())
        self.sim = self.path('sim')
        os.mkdir(self.sim)
        os.environ['SIOTD_GPIO_SIM_DIR'] = self.sim
        self.addCleanup(os.environ.pop, 'SIOTD_GPIO_SIM_DIR', None)
        uptime = write_script(self.path('uptime'), "cut -d' ' -f1 /proc/uptime")
        conf = (device_config(self.text).replace('"gpiochip0"', '"sim"')
                .replace('/usr/local/lib/siot/uptime', uptime))
        self.d = self.daemon('device_id = "workshop";\n'
                             'clients = ( { id = "alice"; key_file = "%s"; } );\n%s'
                             % (self.alice_key_path, conf))
        # The client side: the user's config, with siot-ctl on PATH.
        os.makedirs(self.path('home/.config/siot'))
        with open(self.path('home/.config/siot/siot-ctl.conf'), 'w') as f:
            f.write('targets = ( { name = "workshop"; host = "127.0.0.1"; port = %d; '
                    'device = "workshop"; id = "alice"; key_file = "%s"; } );\n'
                    % (self.d.port, self.alice_key_path))
        os.chmod(self.path('home/.config/siot/siot-ctl.conf'), 0o600)
        os.mkdir(self.path('bin'))
        os.symlink(SIOT_CTL, self.path('bin/siot-ctl'))
        self.env = dict(os.environ, HOME=self.path('home'),
                        PATH=self.path('bin') + ':' + os.environ['PATH'])
        self.env.pop('SIOT_CTL_CONFIG', None)
        self.env.pop('XDG_CONFIG_HOME', None)

    def sh(self, command, extra_env=None):
        """A command as the command_line integration runs it: a shell."""
        env = dict(self.env, **(extra_env or {}))
        return subprocess.run(['/bin/sh', '-c', command], capture_output=True, text=True,
                              timeout=60, env=env)

    def level(self, line):
        with open(os.path.join(self.sim, 'line%d' % line)) as f:
            return int(f.read())

    def set_input(self, line, value):
        with open(os.path.join(self.sim, 'line%d.in' % line), 'w') as f:
            f.write('%d\n' % value)

    def test_every_documented_command_and_template(self):
        entities, shell = ha_config(self.text)
        kinds = [k for k, _ in entities]
        self.assertEqual(kinds, ['switch', 'binary_sensor', 'sensor'])
        switch, door, uptime = (e for _, e in entities)

        # The switch: on, its state, off, its state; the sim chip's line 17.
        p = self.sh(switch['command_on'])
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, '', ''))
        self.assertEqual(self.level(17), 1)
        p = self.sh(switch['command_state'])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)['output'], '1\n')
        self.assertEqual(render(switch['value_template'], p.stdout), 'True')
        p = self.sh(switch['command_off'])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.level(17), 0)
        p = self.sh(switch['command_state'])
        self.assertEqual(render(switch['value_template'], p.stdout), 'False')

        # The door: the input line 27, as payload_on and payload_off.
        for level, payload in ((1, door['payload_on']), (0, door['payload_off'])):
            self.set_input(27, level)
            p = self.sh(door['command'])
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(render(door['value_template'], p.stdout), payload)

        # The uptime: a number of seconds.
        p = self.sh(uptime['command'])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertGreater(float(render(uptime['value_template'], p.stdout)), 0)

        # The shell command: the bell's 0.5 s pulse, answered when it ends.
        self.assertEqual(list(shell), ['workshop_bell'])
        p = self.sh(shell['workshop_bell'])
        self.assertEqual((p.returncode, p.stderr), (0, ''))
        self.assertEqual(self.level(22), 0)

    def test_a_failure_exits_non_zero(self):
        """What the README says Home Assistant discards: an unreachable
        device and a refused command both exit non-zero, so no template
        ever sees them as a state."""
        entities, _ = ha_config(self.text)
        door = entities[1][1]
        p = self.sh(door['command'].replace('door-get', 'door-gett'))
        self.assertEqual(p.returncode, 2, p.stderr)  # rejected
        self.d.stop()
        p = self.sh(door['command'])
        self.assertEqual(p.returncode, 69, p.stderr)
        self.assertEqual(json.loads(p.stdout)['status'], 'error')

    def test_the_ssh_gate(self):
        """The forced command for Home Assistant OS, as sshd runs it (the
        user's shell with -c, SSH_ORIGINAL_COMMAND set): allowed pairs run
        siot-ctl --json and pass its status on; anything else runs nothing."""
        script = re.search(r"siot-ssh-gate <<'END'\n(.*?)\nEND\n", self.text, re.S).group(1)
        gate = self.path('siot-ssh-gate')
        with open(gate, 'w') as f:
            f.write(script + '\n')
        os.chmod(gate, 0o755)
        line = re.search(r'^command="/usr/local/bin/siot-ssh-gate",restrict ssh-ed25519 ',
                         self.text, re.M)
        self.assertIsNotNone(line)

        def via_ssh(original):
            return self.sh(gate, {'SSH_ORIGINAL_COMMAND': original})
        self.set_input(27, 1)
        p = via_ssh('workshop door-get')
        self.assertEqual(p.returncode, 0, p.stderr)
        entities, _ = ha_config(self.text)
        self.assertEqual(render(entities[1][1]['value_template'], p.stdout), '1')
        p = via_ssh('workshop light-on')
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.level(17), 1)
        for bad, code in (('workshop', 64), ('workshop door-get x', 64),
                          ('workshop door-get;reboot', 64), ('workshop *', 64),
                          ('workshop $(id)', 64), ('other door-get', 77),
                          ('workshop light-toggle', 77)):
            p = via_ssh(bad)
            self.assertEqual((p.returncode, p.stdout), (code, ''), bad)
        self.assertEqual(self.level(17), 1)  # nothing else ran

    def test_the_ssh_route_through_a_real_sshd(self):
        """Home Assistant OS's route end to end: a real sshd on loopback
        with the README's authorized_keys line (its forced command, the
        README's gate), and the README's ssh command line from
        configuration.yaml, whose JSON the same template reads."""
        sshd, ssh, keygen = (shutil.which('sshd') or '/usr/sbin/sshd', shutil.which('ssh'),
                             shutil.which('ssh-keygen'))
        if not (os.access(sshd, os.X_OK) and ssh and keygen):
            if os.environ.get('CI') == 'true':
                self.fail('sshd, ssh and ssh-keygen are needed: CI must run this test')
            self.skipTest('needs openssh-server and openssh-client')
        d = self.path('ssh')
        os.mkdir(d, 0o700)
        for k in ('host', 'siot'):
            subprocess.run([keygen, '-q', '-t', 'ed25519', '-N', '', '-f', os.path.join(d, k)],
                           check=True)
        gate = self.path('siot-ssh-gate')
        with open(gate, 'w') as f:
            f.write(re.search(r"siot-ssh-gate <<'END'\n(.*?)\nEND\n", self.text, re.S).group(1)
                    + '\n')
        os.chmod(gate, 0o755)
        line = re.search(r'^(command="/usr/local/bin/siot-ssh-gate",restrict) ssh-ed25519 .*$',
                         self.text, re.M).group(1)
        with open(os.path.join(d, 'siot.pub')) as f:
            pub = f.read().strip()
        with open(os.path.join(d, 'authorized_keys'), 'w') as f:
            f.write(line.replace('/usr/local/bin/siot-ssh-gate', gate) + ' ' + pub + '\n')
        if os.geteuid() == 0:
            os.makedirs('/run/sshd', mode=0o755, exist_ok=True)
        port = free_port()
        with open(os.path.join(d, 'sshd_config'), 'w') as f:
            f.write('Port %d\nListenAddress 127.0.0.1\nHostKey %s/host\n'
                    'AuthorizedKeysFile %s/authorized_keys\nPidFile %s/sshd.pid\n'
                    'StrictModes no\nPermitRootLogin forced-commands-only\n'
                    'PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n'
                    'LogLevel ERROR\n'
                    # What the Debian host's user would have: siot-ctl on
                    # PATH and a client config.
                    'SetEnv PATH=%s:/usr/bin:/bin HOME=%s\n'
                    % (port, d, d, d, self.path('bin'), self.path('home')))
        with open(os.path.join(d, 'sshd.log'), 'w') as log:
            proc = subprocess.Popen([sshd, '-D', '-e', '-f', os.path.join(d, 'sshd_config')],
                                    stderr=log)
        self.addCleanup(proc.wait, 10)
        self.addCleanup(proc.terminate)
        self.assertTrue(wait_until(lambda: port_open(port), 10), 'sshd did not listen')
        # The README's command line, with this test's key, known hosts, user
        # and port in place of Home Assistant's.
        documented = re.search(r'`(ssh -i /config/\.ssh/siot [^`]*workshop light-get)`',
                               self.text).group(1)
        user = subprocess.run(['id', '-un'], capture_output=True, text=True).stdout.strip()
        command = (documented.replace('/config/.ssh/siot', os.path.join(d, 'siot'))
                   .replace('/config/.ssh/known_hosts', os.path.join(d, 'known_hosts'))
                   .replace('siot@pi.lan', '-p %d -o StrictHostKeyChecking=accept-new '
                            '-o BatchMode=yes %s@127.0.0.1' % (port, user)))
        entities, _ = ha_config(self.text)
        switch = entities[0][1]
        p = self.sh(switch['command_on'])
        self.assertEqual(p.returncode, 0, p.stderr)
        p = self.sh(command)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(render(switch['value_template'], p.stdout), 'True')
        p = self.sh(command.replace('light-get', 'light-toggle'))
        self.assertEqual((p.returncode, p.stdout), (77, ''), p.stderr)
        self.assertIn('siot-ssh-gate: workshop light-toggle is not allowed', p.stderr)


if __name__ == '__main__':
    unittest.main(verbosity=2)

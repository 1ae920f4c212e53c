// SPDX-License-Identifier: MIT
// siot-client in one process: send() in a loop against siotd for SECONDS,
// one whole exchange each (connect, HELLO, request, verified response).
// With a broker's URL for PORT (mqtt://...), one Connection is kept (one
// broker connection) and each send opens a session of its own.
// Usage: node node-loop.mjs CLIENT_DIR PORT|MQTT_URL KEYFILE ID COMMAND SECONDS
// Prints one line of key=value pairs, as siot-bench does.
const [dir, port, keyFile, id, command, seconds] = process.argv.slice(2);
const { Connection, send } = await import(`${dir}/src/index.js`);

const viaMqtt = port.startsWith('mqtt://');
const target = viaMqtt ? { mqtt: port, device: 'bench', id, keyFile }
  : { host: '127.0.0.1', port: Number(port), device: 'bench', id, keyFile };
const conn = viaMqtt ? new Connection(target) : null;
const lat = [];
const until = performance.now() + Number(seconds) * 1000;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
while (performance.now() < until) {
  const t = performance.now();
  const r = conn ? await conn.send(command) : await send(target, command);
  if (r.status !== 'ok' || !r.authentic) {
    console.error(`node-loop: ${command} came back ${r.status}`);
    process.exit(1);
  }
  lat.push(performance.now() - t);
}
const elapsed = (performance.now() - t0) / 1000;
conn?.destroy();
const cpu = process.cpuUsage(cpu0);
lat.sort((a, b) => a - b);
const n = lat.length;
console.log(`exchanges=${n} seconds=${elapsed.toFixed(3)} per_sec=${(n / elapsed).toFixed(1)} ` +
  `p50_us=${(lat[n >> 1] * 1000).toFixed(1)} p99_us=${(lat[Math.floor(n * 0.99)] * 1000).toFixed(1)} ` +
  `client_cpu_us=${((cpu.user + cpu.system) / n).toFixed(1)}`);

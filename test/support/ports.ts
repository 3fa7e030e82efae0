// Loopback ports for tests that must name a port up front (a listener's spec, a broker's config):
// one the OS just handed out and released, and a probe of whether something accepts on one.
import net from 'node:net';

/** A port free on 127.0.0.1 a moment ago (the product's own probe: `iotmq dev --mqtt-port 0` uses it). */
export { freePort } from '../../extension/operator/drivers/port-probe.js';

/** true when a TCP connection to the port is accepted, false when it is refused. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

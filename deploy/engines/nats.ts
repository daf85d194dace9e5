/** NATS with JetStream: Debian's nats-server, its own store dir, loopback only. */
import { DEFAULT_NATS_PORT } from '../engine-urls.ts';
import { debianServer } from './debian-server.ts';

export const nats = debianServer({
  name: 'nats',
  binary: 'nats-server',
  endpoint: (urls) => urls.natsUrl,
  defaultPort: DEFAULT_NATS_PORT,
  // No monitoring, cluster or leaf ports: only the client port, on loopback.
  args: ({ host, port, dataDir }) => [
    '-a',
    host,
    '-p',
    String(port),
    '-js',
    '-sd',
    dataDir,
    '-n',
    `infra-${port}`,
  ],
});

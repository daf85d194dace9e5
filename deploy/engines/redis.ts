/** Redis: Debian's redis-server, no persistence (it is a cache here), loopback only. */
import { DEFAULT_REDIS_PORT } from '../engine-urls.ts';
import { debianServer } from './debian-server.ts';

export const redis = debianServer({
  name: 'redis',
  binary: 'redis-server',
  endpoint: (urls) => urls.redisUrl,
  defaultPort: DEFAULT_REDIS_PORT,
  args: ({ host, port, dataDir }) => [
    '--port',
    String(port),
    '--bind',
    host,
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--dir',
    dataDir,
  ],
});

/**
 * A server engine that Debian packages (nats-server, redis-server): install the package
 * when its binary is missing, give it a data folder under its state dir, spawn it with
 * the arguments the engine builds from its loopback host and port.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EngineUrls } from '../engine-urls.ts';
import type { ProbedEngine } from '../engine-probes.ts';
import { ensureDebianBinary, findBinary } from './apt.ts';
import { localPort, type EngineContext, type ServerEngine } from './engine.ts';

export interface DebianServerSpec {
  name: ProbedEngine;
  /** Binary name, also the Debian package name. */
  binary: string;
  endpoint: (urls: EngineUrls) => string;
  defaultPort: number;
  /** Command-line arguments for loopback `host`, `port` and data folder `dataDir`. */
  args: (listen: { host: string; port: number; dataDir: string }) => string[];
}

export function debianServer(spec: DebianServerSpec): ServerEngine {
  return {
    kind: 'server',
    name: spec.name,
    endpoint: spec.endpoint,
    startTimeoutMs: 30_000,
    stopGraceMs: 10_000,
    async install(ctx: EngineContext) {
      await ensureDebianBinary(spec.binary, spec.binary, ctx.log);
    },
    async prepare(ctx: EngineContext) {
      const { host, port } = localPort(spec.endpoint(ctx.urls), spec.defaultPort);
      const dataDir = join(ctx.stateDir, 'data');
      mkdirSync(dataDir, { recursive: true });
      return {
        cmd: findBinary(spec.binary) ?? spec.binary,
        args: spec.args({ host, port, dataDir }),
        listens: { host, ports: [port] },
      };
    },
  };
}

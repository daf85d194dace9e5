/**
 * The CQL node: Apache Cassandra 5.0 started from its Maven Central artefacts (ScyllaDB
 * cannot be installed here and speaks the same CQL). Maven copies cassandra-all and its
 * dependencies into `.cache/cassandra/lib`; the node runs `CassandraDaemon` in the
 * foreground on Java 17 with a yaml written from deploy/cassandra/cassandra.yaml.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { pathToFileURL } from 'node:url';
import { DEFAULT_CQL_PORT } from '../engine-urls.ts';
import { aptInstall, ensureDebianBinary, findBinary } from './apt.ts';
import { localPort, type EngineContext, type LaunchCommand, type ServerEngine } from './engine.ts';

const run = promisify(execFile);

/** Keep in step with deploy/cassandra/pom.xml (passed to Maven as a property too). */
export const CASSANDRA_VERSION = '5.0.8';
/** Java 17 only: 5.0 installs a SecurityManager, which newer JDKs removed. */
const JAVA_MAJOR = 17;

/** What Cassandra 5.0 ships in conf/jvm17-server.options, each `=ALL-UNNAMED`. */
const ADD_EXPORTS = [
  'java.base/jdk.internal.misc',
  'java.management.rmi/com.sun.jmx.remote.internal.rmi',
  'java.management/com.sun.jmx.remote.security',
  'java.rmi/sun.rmi.registry',
  'java.rmi/sun.rmi.server',
  'java.sql/java.sql',
  'java.base/java.lang.ref',
  'jdk.unsupported/sun.misc',
];
const ADD_OPENS = [
  'java.base/java.lang.module',
  'java.base/jdk.internal.loader',
  'java.base/jdk.internal.ref',
  'java.base/jdk.internal.reflect',
  'java.base/jdk.internal.math',
  'java.base/jdk.internal.module',
  'java.base/jdk.internal.util.jar',
  'jdk.management/com.sun.management.internal',
  'java.base/sun.nio.ch',
  'java.base/java.io',
  'java.base/java.lang.reflect',
  'java.base/java.lang',
  'java.base/java.util',
  'java.base/java.nio',
];
/** Added by Cassandra's launcher when the JDK has a compiler (javac beside java). */
const FULL_JDK_FLAGS = [
  '--add-exports',
  'jdk.attach/sun.tools.attach=ALL-UNNAMED',
  '--add-exports',
  'jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED',
  '--add-opens',
  'jdk.compiler/com.sun.tools.javac=ALL-UNNAMED',
];

async function javaMajor(java: string): Promise<number | null> {
  try {
    const { stderr } = await run(java, ['-version']);
    const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr);
    if (!match) return null;
    // Java 8 reports "1.8".
    return match[1] === '1' ? Number(match[2]) : Number(match[1]);
  } catch {
    return null;
  }
}

function javaCandidates(): string[] {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(join(process.env.JAVA_HOME, 'bin', 'java'));
  try {
    for (const name of readdirSync('/usr/lib/jvm')) {
      if (name.includes(`-${JAVA_MAJOR}-`) || name.includes(`-${JAVA_MAJOR}.`)) {
        candidates.push(join('/usr/lib/jvm', name, 'bin', 'java'));
      }
    }
  } catch {
    // no JVMs installed the Debian way
  }
  const onPath = findBinary('java');
  if (onPath) candidates.push(onPath);
  return candidates.filter((path) => existsSync(path));
}

async function findJava17(): Promise<string | null> {
  for (const candidate of javaCandidates()) {
    if ((await javaMajor(candidate)) === JAVA_MAJOR) return candidate;
  }
  return null;
}

async function ensureJava17(log: (m: string) => void): Promise<string> {
  let java = await findJava17();
  if (java) return java;
  await aptInstall(`openjdk-${JAVA_MAJOR}-jre-headless`, log, () => false);
  java = await findJava17();
  if (!java) throw new Error(`installed openjdk-${JAVA_MAJOR}-jre-headless but found no Java ${JAVA_MAJOR}`);
  return java;
}

function libDir(ctx: EngineContext): string {
  return join(ctx.cacheDir, 'cassandra', 'lib');
}

/** Written after Maven finished, so a half-copied lib dir is fetched again. */
function completeMarker(ctx: EngineContext): string {
  return join(libDir(ctx), `.complete-${CASSANDRA_VERSION}`);
}

async function fetchCassandra(ctx: EngineContext): Promise<void> {
  if (existsSync(completeMarker(ctx))) return;
  const mvn = await ensureDebianBinary('mvn', 'maven', ctx.log);
  const out = libDir(ctx);
  mkdirSync(out, { recursive: true });
  const started = Date.now();
  ctx.log(`fetching cassandra-all ${CASSANDRA_VERSION} and its dependencies with Maven into ${out}`);
  try {
    await run(
      mvn,
      [
        '-q',
        '-B',
        '-f',
        join(ctx.repoRoot, 'deploy', 'cassandra', 'pom.xml'),
        `-Dcassandra.version=${CASSANDRA_VERSION}`,
        'dependency:copy-dependencies',
        `-DoutputDirectory=${out}`,
        '-DincludeScope=runtime',
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const detail = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n') || e.message;
    throw new Error(`Maven could not fetch cassandra-all ${CASSANDRA_VERSION}:\n${detail}`);
  }
  if (!existsSync(join(out, `cassandra-all-${CASSANDRA_VERSION}.jar`))) {
    throw new Error(`Maven finished but ${out} holds no cassandra-all-${CASSANDRA_VERSION}.jar`);
  }
  writeFileSync(completeMarker(ctx), `${new Date().toISOString()}\n`);
  ctx.log(`Maven fetched the CQL node's classpath in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

function hasCompiler(java: string): boolean {
  try {
    return existsSync(join(dirname(realpathSync(java)), 'javac'));
  } catch {
    return false;
  }
}

function renderYaml(ctx: EngineContext, cqlPort: number, storagePort: number, dataDir: string): string {
  const template = readFileSync(join(ctx.repoRoot, 'deploy', 'cassandra', 'cassandra.yaml'), 'utf8');
  const values: Record<string, string> = {
    DATA_DIR: dataDir,
    CQL_PORT: String(cqlPort),
    STORAGE_PORT: String(storagePort),
  };
  return template.replace(/__([A-Z][A-Z_]*[A-Z])__/g, (whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`cassandra.yaml template: unknown placeholder ${whole}`);
    return value;
  });
}

export const cassandra: ServerEngine = {
  kind: 'server',
  name: 'cql',
  endpoint: (urls) => urls.scyllaContactPoints,
  // A cold JVM on two busy cores: usually 20-40 s, give it room.
  startTimeoutMs: 240_000,
  // Drains and flushes on SIGTERM; a test node can be killed after that.
  stopGraceMs: 30_000,
  async install(ctx: EngineContext) {
    await Promise.all([ensureJava17(ctx.log), fetchCassandra(ctx)]);
  },
  async prepare(ctx: EngineContext): Promise<LaunchCommand> {
    const javaBin = await ensureJava17(ctx.log);
    const { host, port } = localPort(ctx.urls.scyllaContactPoints, DEFAULT_CQL_PORT);
    // Internode port beside the CQL port, so launchers on other ports do not collide on 7000.
    const storagePort = port + 1;
    const dataDir = join(ctx.stateDir, 'data');
    const tmpDir = join(ctx.stateDir, 'tmp');
    for (const dir of [dataDir, tmpDir]) mkdirSync(dir, { recursive: true });
    const yamlPath = join(ctx.stateDir, 'cassandra.yaml');
    writeFileSync(yamlPath, renderYaml(ctx, port, storagePort, dataDir));
    const lib = libDir(ctx);
    const jamm = readdirSync(lib).find((name) => /^jamm-.*\.jar$/.test(name));
    const args = [
      '-Xms1g',
      '-Xmx1g',
      '-XX:+UseG1GC',
      '-XX:+ExitOnOutOfMemoryError',
      ...ADD_EXPORTS.flatMap((pkg) => ['--add-exports', `${pkg}=ALL-UNNAMED`]),
      ...ADD_OPENS.flatMap((pkg) => ['--add-opens', `${pkg}=ALL-UNNAMED`]),
      ...(hasCompiler(javaBin) ? FULL_JDK_FLAGS : []),
      ...(jamm ? [`-javaagent:${join(lib, jamm)}`] : []),
      '-Djdk.attach.allowAttachSelf=true',
      '-Dio.netty.tryReflectionSetAccessible=true',
      '-Djava.net.preferIPv4Stack=true',
      '-Dchronicle.analytics.disable=true',
      `-Djna.tmpdir=${tmpDir}`,
      `-Djava.io.tmpdir=${tmpDir}`,
      `-Dcassandra.config=${pathToFileURL(yamlPath).href}`,
      `-Dcassandra.storagedir=${dataDir}`,
      `-Dcassandra.logdir=${ctx.stateDir}`,
      `-Dlogback.configurationFile=${join(ctx.repoRoot, 'deploy', 'cassandra', 'logback.xml')}`,
      '-Dcassandra-foreground=yes',
      // One node: nothing to gossip with, so do not wait for gossip to settle (~8 s).
      '-Dcassandra.skip_wait_for_gossip_to_settle=0',
      // Start-up measures memtable row overhead with 100000 jamm steps (~6 s on a busy
      // core); 100 steps give the same estimate (Cassandra's own tests do this).
      '-Dcassandra.memtable_row_overhead_computation_step=100',
      // A test node: no fsync (schema changes, system tables, commit log). A crash of the
      // machine may lose test data, never anything that matters; DDL gets much faster.
      '-Dcassandra.unsafesystem=true',
      '-Dcassandra.skip_sync=true',
      '-cp',
      `${lib}/*`,
      'org.apache.cassandra.service.CassandraDaemon',
    ];
    return { cmd: javaBin, args, listens: { host, ports: [port, storagePort] } };
  },
};

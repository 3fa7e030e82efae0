import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';

/**
 * A private PostgreSQL server for one test file: its own data directory in a temp dir, loopback only,
 * on a free port, stopped and removed at teardown. Installs the server from Debian when absent.
 *
 *   const peer = await startPostgres();            // beforeAll
 *   const url = await peer.createDatabase();       // a fresh database
 *   await peer.stop();                             // afterAll
 */
export interface PostgresPeer {
  /** URL of the server's `postgres` database (superuser `postgres`, trust auth on loopback). */
  url: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name?: string): Promise<string>;
  stop(): Promise<void>;
}

const run = promisify(execFile);
const INSTALL_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'install-postgres.sh');
let databases = 0;

export async function startPostgres(): Promise<PostgresPeer> {
  const bin = await postgresBinDir();
  const user = serverUser();
  const dir = mkdtempSync(join(tmpdir(), 'iotmq-pg-'));
  const data = join(dir, 'data');
  if (user) chownSync(dir, user.uid, user.gid);
  // The server refuses to run as root: as root, initdb and postgres run as the postgres user.
  const as = { cwd: dir, ...(user ?? {}) };

  let server: ChildProcess | undefined;
  const kill = (): void => {
    server?.kill('SIGQUIT');
  };
  try {
    await run(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      as,
    );
    const port = await freePort();
    // fsync=off: a throwaway test server; durability is not what these tests measure.
    server = spawn(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'],
      { ...as, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    process.once('exit', kill); // no stray server if the test process dies first
    await ready(server);
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const child = server;
    return {
      url,
      async createDatabase(name = `test_${process.pid}_${++databases}`) {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query(`CREATE DATABASE "${name}"`);
        } finally {
          await client.end();
        }
        return `postgres://postgres@127.0.0.1:${port}/${name}`;
      },
      async stop() {
        process.off('exit', kill);
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise((resolve) => child.once('exit', resolve));
          child.kill('SIGINT'); // fast shutdown: disconnects clients, no wait
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    kill();
    process.off('exit', kill);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** The newest /usr/lib/postgresql/<ver>/bin with a server, installing one if needed. */
async function postgresBinDir(): Promise<string> {
  const find = (): string | undefined => {
    const root = '/usr/lib/postgresql';
    if (!existsSync(root)) return undefined;
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'postgres')) && existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
  };
  const found = find();
  if (found) return found;
  await run('sh', [INSTALL_SCRIPT], { maxBuffer: 64 * 1024 * 1024 });
  const installed = find();
  if (!installed) throw new Error('PostgreSQL server is not installed and install-postgres.sh did not install it');
  return installed;
}

function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const line = passwd.find((l) => l.startsWith(`${name}:`));
    if (line) {
      const [, , uid, gid] = line.split(':');
      return { uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error('Running as root with no postgres or nobody user to run the server as');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves when the server logs that it accepts connections; rejects if it exits first. */
function ready(server: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const onData = (chunk: Buffer): void => {
      log += chunk.toString();
      if (log.includes('database system is ready to accept connections')) {
        server.off('exit', onExit);
        // Keep draining stderr so the server never blocks on a full pipe.
        server.stderr?.off('data', onData).resume();
        resolve();
      }
    };
    const onExit = (code: number | null): void => reject(new Error(`postgres exited (${code}) before ready:\n${log}`));
    server.stderr?.on('data', onData);
    server.once('exit', onExit);
  });
}

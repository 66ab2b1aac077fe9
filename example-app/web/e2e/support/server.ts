/** Starts and stops a real `udagram serve` on a temporary data directory. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The binary: UDAGRAM_BIN, else the debug build in CARGO_TARGET_DIR or the workspace's target/. */
export function udagramBinary(): string {
  if (process.env.UDAGRAM_BIN) return process.env.UDAGRAM_BIN;
  const target =
    process.env.CARGO_TARGET_DIR ?? resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../target');
  return join(target, 'debug', 'udagram');
}

/** A running server. */
export interface Udagram {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Its data directory. */
  dataDir: string;
  /** The process id. */
  pid: number;
  /** SIGTERM, then wait for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Options for {@link startUdagram}. */
export interface StartOptions {
  /** Reuse a data directory (a restart); default: a new temporary one. */
  dataDir?: string;
  /** The port; default 0 (any free port). */
  port?: number;
  /** More flags for `serve`, e.g. `--token-lifetime 5`. */
  args?: string[];
}

const READY = /^udagram listening on (http:\/\/127\.0\.0\.1:(\d+))$/;

/** Starts `udagram serve` and resolves once it has printed its URL. */
export async function startUdagram(options: StartOptions = {}): Promise<Udagram> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'udagram-e2e-'));
  const child: ChildProcess = spawn(
    udagramBinary(),
    ['serve', '--data', dataDir, '--port', String(options.port ?? 0), ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' } },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<RegExpMatchArray>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`udagram serve did not start in 60 s:\n${stderr}`)), 60_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      fail(new Error(`cannot run ${udagramBinary()}: ${error.message}`));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      fail(new Error(`udagram serve exited with ${code} before it was ready:\n${stderr}`));
    });
    lines.on('line', (line) => {
      const match = READY.exec(line.trim());
      if (match) {
        clearTimeout(timer);
        done(match);
      }
    });
  });
  const pid = child.pid!;
  return {
    url: url[1]!,
    port: Number(url[2]),
    dataDir,
    pid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGTERM');
      return exited;
    },
  };
}

/** Removes a temporary data directory. */
export function removeDataDir(dir: string) {
  rmSync(dir, { recursive: true, force: true });
}

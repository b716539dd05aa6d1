// A CPU sample worker for real checkpoints (manifests/samples/cpu-worker.yaml).
//
// Its warm-up is real work, the kind a restore is meant to skip: it builds a large
// in-memory state (CPU_WORKER_MB of deterministic pseudo-random data, mixed over
// CPU_WORKER_ROUNDS passes) and a SHA-256 checksum of it. Then it listens on
// 127.0.0.1:CPU_WORKER_PORT and writes the file named by DYN_READY_FOR_CHECKPOINT_FILE
// (relative to its working directory, or absolute), which its readiness probe reads.
//
// A client sends one line, `checksum` or `info`, and gets one JSON line back, then the
// connection is closed (none stays open across a checkpoint):
//   {"checksum": SHA-256 of the state now (for `checksum`: recomputed, so a restore that
//    lost or changed memory shows; about 0.5 s), "warmupChecksum": the one computed at warm-up,
//    "warmups": warm-ups this container's filesystem has seen (a counter file in the
//    working directory; a restored worker must still say 1), "instance": random ID
//    drawn at process start (same after a restore, new after a cold start),
//    "served", "pid", "warmupSeconds", "mb", "shm": with CPU_WORKER_SHM=1, what the
//    worker's open /dev/shm file holds (its warm-up checksum)}
//
// SIGUSR1 (sent by the snapshot agent after the checkpoint) and SIGTERM: exit 0.
import { createHash, randomBytes } from 'node:crypto';
import { openSync, readSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

const mb = Number(process.env.CPU_WORKER_MB ?? 256);
const rounds = Number(process.env.CPU_WORKER_ROUNDS ?? 10);
const port = Number(process.env.CPU_WORKER_PORT ?? 8080);
const seed = Number(process.env.CPU_WORKER_SEED ?? 1) >>> 0 || 1;
const readyFile = process.env.DYN_READY_FOR_CHECKPOINT_FILE;
const countFile = 'warmup-count';
const instance = randomBytes(8).toString('hex');

function log(line) {
  console.log(`[cpu-worker ${new Date().toISOString()}] ${line}`);
}

/** Count this warm-up in the working directory (the container's own filesystem). */
function countWarmup() {
  let n = 0;
  try {
    n = Number(readFileSync(countFile, 'utf8')) || 0;
  } catch {
    // First warm-up of this container.
  }
  writeFileSync(countFile, String(n + 1));
  return n + 1;
}

/** xorshift32 fill, then `rounds` passes that mix each word with its neighbour. */
function buildState() {
  const words = new Uint32Array((mb * 1024 * 1024) / 4);
  let x = seed;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  for (let r = 0; r < rounds; r++) {
    let carry = r + 1;
    for (let i = 0; i < words.length; i++) {
      carry = (Math.imul(words[i] ^ carry, 0x9e3779b1) + (carry >>> 7)) >>> 0;
      words[i] = carry;
    }
  }
  return words;
}

function checksum(words) {
  return createHash('sha256').update(Buffer.from(words.buffer, words.byteOffset, words.byteLength)).digest('hex');
}

const started = performance.now();
const warmups = countWarmup();
log(`warm-up ${warmups} (instance ${instance}, pid ${process.pid}): building ${mb} MiB of state over ${rounds} rounds`);
const state = buildState();
const warmupChecksum = checksum(state);
const warmupSeconds = Math.round(performance.now() - started) / 1000;
log(`warm-up done in ${warmupSeconds} s, checksum ${warmupChecksum}`);

// CPU_WORKER_SHM=1: a file in /dev/shm (each pod has its own) that stays open, as a
// shared-memory segment would; CRIU reopens it by path, so a restore works only if the
// file came along. Its content is read back through the open descriptor per request.
let shmFd;
if (process.env.CPU_WORKER_SHM === '1') {
  const path = `/dev/shm/cpu-worker-${instance}`;
  writeFileSync(path, warmupChecksum);
  shmFd = openSync(path, 'r');
  log(`holding ${path} open`);
}

function readShm() {
  if (shmFd === undefined) return undefined;
  const buf = Buffer.alloc(64);
  const n = readSync(shmFd, buf, 0, 64, 0);
  return buf.subarray(0, n).toString('utf8');
}

let served = 0;
const server = createServer((conn) => {
  conn.setEncoding('utf8');
  conn.on('error', () => {});
  conn.once('data', (line) => {
    served++;
    const now = line.trim() === 'checksum' ? checksum(state) : undefined;
    conn.end(`${JSON.stringify({ checksum: now, warmupChecksum, warmups, instance, served, pid: process.pid, warmupSeconds, mb, shm: readShm() })}\n`);
    // One line per request: after a restore it shows up in the placeholder's log.
    log(`served ${served} (${line.trim() || 'empty'}) as instance ${instance}, pid ${process.pid}`);
  });
});
server.listen(port, '127.0.0.1', () => {
  log(`listening on 127.0.0.1:${port}`);
  if (readyFile) {
    writeFileSync(readyFile, `${warmupChecksum}\n`);
    log(`ready: wrote ${readyFile}`);
  }
});

for (const sig of ['SIGUSR1', 'SIGTERM']) {
  process.on(sig, () => {
    log(`${sig}: exiting`);
    process.exit(0);
  });
}

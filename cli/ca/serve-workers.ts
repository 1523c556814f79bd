/**
 * `keyward ca serve --workers N`: N processes serving one port (node:cluster). Each worker is a whole CA server of its own: it
 * logs in to the token with a session of its own, opens its own ledger connection (SQLite in WAL
 * mode takes writers from several processes; each commit is synced before its certificate goes
 * out) and keeps its own TLS key. The primary holds no key: it starts the workers one after
 * another (a wrong PIN stops the first, before others spend tries), forwards what they would ask
 * the terminal (a PIN, asked once and kept for workers started later), restarts a worker that
 * dies, and on SIGTERM or SIGINT has every worker drain as one server does.
 */
import cluster, { type Worker } from 'node:cluster';
import { ExitCode } from '../../src/errors.js';
import type { Interaction } from '../../src/keystore/interaction.js';
import { Secret } from '../../src/secret.js';
import type { CliContext } from '../context.js';

/** What a worker is told when it asks: everything read from files and the terminal already. */
export interface WorkerOrders<S> {
  settings: S;
  /** 0 for the first worker: the one that signs CRLs. */
  index: number;
}

type ToWorker<S> = ({ type: 'orders' } & WorkerOrders<S>) | { type: 'stop' } | { type: 'answer'; id: number; value: string | boolean | null };
type ToPrimary =
  | { type: 'ready' }
  | { type: 'listening'; url: string; clusterId: string }
  | { type: 'draining' }
  | { type: 'ask-secret'; id: number; prompt: string }
  | { type: 'confirm'; id: number; question: string };

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A worker that dies within this long of serving counts as failing to start (restarts slow down). */
const UNSTABLE_MS = 5_000;
const RESTART_DELAY_MS = { first: 1_000, max: 30_000 };
/** Past the drain, how long a worker may take to exit before it is killed. */
const EXIT_GRACE_MS = 5_000;

export const isWorker = () => cluster.isWorker;

/** One server process, whoever runs it: what it says of itself once it listens, and how it stops. */
export interface Serving {
  url: string;
  clusterId: string;
  /** Stops accepting at once; resolves once the requests in flight are done and everything is closed. */
  close(): Promise<void>;
}

/**
 * In a worker: asks the primary for its orders, serves them with `start` (given an interaction that
 * asks the primary's terminal), and stops when told to, or on SIGTERM or SIGINT. When the primary
 * is gone (killed), node:cluster ends the worker.
 */
export async function runWorker<S>(start: (orders: WorkerOrders<S>, interaction: Interaction) => Promise<Serving>, local: Interaction): Promise<void> {
  const send = (message: ToPrimary) => process.send?.(message);
  // A cluster worker's channel does not keep it alive by itself: until it serves, waiting for orders must.
  process.channel?.ref();
  const answers = new Map<number, (value: string | boolean | null) => void>();
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const orders = new Promise<WorkerOrders<S>>((resolve) => {
    process.on('message', (message: ToWorker<S>) => {
      if (message.type === 'orders') resolve(message);
      else if (message.type === 'stop') stop();
      else if (message.type === 'answer') answers.get(message.id)?.(message.value);
    });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => stop());
  let asked = 0;
  const ask = (message: { type: 'ask-secret'; prompt: string } | { type: 'confirm'; question: string }) =>
    new Promise<string | boolean | null>((resolve) => {
      const id = asked++;
      answers.set(id, (value) => {
        answers.delete(id);
        resolve(value);
      });
      send({ ...message, id });
    });
  const interaction: Interaction = {
    askSecret: async (prompt) => {
      const value = await ask({ type: 'ask-secret', prompt });
      return typeof value === 'string' ? Secret.fromString(value) : undefined;
    },
    confirm: async (question) => {
      const value = await ask({ type: 'confirm', question });
      return typeof value === 'boolean' ? value : undefined;
    },
    warn: local.warn,
    notice: local.notice,
  };
  send({ type: 'ready' });
  let serving: Serving;
  try {
    serving = await start(await orders, interaction);
  } catch (error) {
    process.channel?.unref(); // let it exit once its error is said (disconnecting would exit at once, with 0)
    throw error;
  }
  send({ type: 'listening', url: serving.url, clusterId: serving.clusterId });
  await stopped;
  const closing = serving.close(); // stops accepting at once; the primary says so once every worker has
  send({ type: 'draining' });
  await closing;
  process.channel?.unref();
}

interface Slot {
  worker: Worker | undefined;
  /** When it last began to serve. */
  since: number;
  failures: number;
  restart: NodeJS.Timeout | undefined;
}

/**
 * Each worker accepts from the one listening socket itself (SCHED_NONE), the kernel handing each
 * connection to whichever takes it first, an idle one most often. Node's default has the primary
 * accept and pass each connection on, and loses one it was passing when the worker dies: that
 * client would wait for ever.
 */
function acceptInWorkers(): void {
  cluster.schedulingPolicy = cluster.SCHED_NONE;
}

/**
 * The primary: starts `count` workers one after another with the same `settings`, says where they
 * serve once all do, restarts any that dies, and drains them all on SIGTERM or SIGINT. Resolves
 * with the exit code.
 */
export function superviseWorkers<S>(
  ctx: CliContext,
  count: number,
  settings: S,
  drainMs: number,
  describe: (url: string, clusterId: string) => string,
): Promise<number> {
  acceptInWorkers();
  const slots: Slot[] = Array.from({ length: count }, () => ({ worker: undefined, since: 0, failures: 0, restart: undefined }));
  /** PINs asked for once at the terminal, by prompt: workers started later (and restarts) log in with them. */
  const secrets = new Map<string, Secret>();
  let asking: Promise<unknown> = Promise.resolve();
  /** Why the workers stop; whether "no new connections" is to be said (not after a failed start), and has been. */
  let stopping: { signal: string; say: boolean; draining: Set<Worker> } | undefined;
  let finish: (code: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));
  const alive = () => slots.flatMap((s) => (s.worker && !s.worker.isDead() ? [s.worker] : []));

  const answer = (worker: Worker, id: number, value: string | boolean | null) => {
    if (worker.isConnected()) worker.send({ type: 'answer', id, value } satisfies ToWorker<S>);
  };
  /** One question at the terminal at a time, whichever worker asks. */
  const forward = (worker: Worker, message: Extract<ToPrimary, { type: 'ask-secret' | 'confirm' }>) => {
    asking = asking.then(async () => {
      if (message.type === 'confirm') return answer(worker, message.id, (await ctx.interaction.confirm(message.question)) ?? null);
      let secret = secrets.get(message.prompt);
      if (!secret) {
        secret = await ctx.interaction.askSecret(message.prompt);
        if (secret) secrets.set(message.prompt, secret);
      }
      answer(worker, message.id, secret?.revealString() ?? null);
    });
  };

  /** Once every worker has stopped accepting, the port is closed: said then, as one server says it. */
  const sayDraining = () => {
    if (!stopping?.say || !alive().every((w) => stopping!.draining.has(w))) return;
    stopping.say = false;
    log(`${stopping.signal}: no new connections; finishing requests in flight (at most ${Math.round(drainMs / 1000)} s)`);
  };

  /** Starts the worker of slot `index`; resolves once it serves, or with how it ended if it never did. */
  const start = (index: number): Promise<{ url: string; clusterId: string } | { code: number | null; signal: string | null }> => {
    const slot = slots[index]!;
    const worker = cluster.fork();
    slot.worker = worker;
    return new Promise((resolve) => {
      let serving = false;
      worker.on('message', (message: ToPrimary) => {
        switch (message.type) {
          case 'ready':
            worker.send({ type: 'orders', settings, index } satisfies ToWorker<S>);
            break;
          case 'listening':
            serving = true;
            slot.since = Date.now();
            resolve(message);
            break;
          case 'draining':
            stopping?.draining.add(worker);
            sayDraining();
            break;
          default:
            forward(worker, message);
        }
      });
      worker.on('exit', (code, signal) => {
        if (!serving) resolve({ code, signal });
        else if (!stopping) replace(index, worker, code, signal);
        if (stopping) {
          sayDraining();
          if (alive().length === 0) finish(0);
        }
      });
    });
  };

  const describeEnd = (code: number | null, signal: string | null) => (signal ? `was killed by ${signal}` : `exited with code ${code}`);

  /** A worker that served has died: another takes its place, sooner if it had served a while. */
  const replace = (index: number, dead: Worker, code: number | null, signal: string | null) => {
    const slot = slots[index]!;
    slot.failures = Date.now() - slot.since < UNSTABLE_MS ? slot.failures + 1 : 0;
    log(`worker ${index + 1} (pid ${dead.process.pid}) ${describeEnd(code, signal)}: starting another`);
    restartLater(index);
  };

  const restartLater = (index: number) => {
    const slot = slots[index]!;
    const delay = slot.failures === 0 ? 0 : Math.min(RESTART_DELAY_MS.first * 2 ** (slot.failures - 1), RESTART_DELAY_MS.max);
    slot.restart = setTimeout(async () => {
      slot.restart = undefined;
      if (stopping) return;
      const outcome = await start(index);
      if ('url' in outcome) {
        log(`worker ${index + 1} (pid ${slot.worker?.process.pid}) serves again`);
        return;
      }
      if (stopping) return;
      slot.failures++;
      // A PIN that no longer works is not tried again and again: the token would lock.
      if (outcome.code === ExitCode.auth) {
        log(`worker ${index + 1} could not log in to the token: not starting it again`);
        if (alive().length === 0) finish(ExitCode.auth);
        return;
      }
      log(`worker ${index + 1} ${describeEnd(outcome.code, outcome.signal)} before it served: trying again`);
      restartLater(index);
    }, delay);
  };

  const stop = (signal: string, say = true) => {
    if (stopping) return;
    stopping = { signal, say, draining: new Set() };
    for (const slot of slots) clearTimeout(slot.restart);
    const workers = alive();
    if (workers.length === 0) return finish(0);
    for (const worker of workers) if (worker.isConnected()) worker.send({ type: 'stop' } satisfies ToWorker<S>);
    setTimeout(() => {
      for (const worker of alive()) worker.process.kill('SIGKILL');
    }, drainMs + EXIT_GRACE_MS).unref();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));

  void (async () => {
    let first: { url: string; clusterId: string } | undefined;
    for (let index = 0; index < count && !stopping; index++) {
      const outcome = await start(index);
      if (!('url' in outcome)) {
        // The worker said why (its error is on stderr); the others stop, and the code is its own.
        if (!stopping) {
          if (outcome.signal) log(`worker ${index + 1} ${describeEnd(outcome.code, outcome.signal)} before it served`);
          finish(outcome.code || ExitCode.failure);
          stop('start-up failed', false);
        }
        return;
      }
      first ??= outcome;
    }
    if (first && !stopping) {
      log(describe(first.url, first.clusterId));
      ctx.emit({ url: first.url, clusterId: first.clusterId, workers: count }, () => '');
    }
  })();

  return finished.finally(() => {
    for (const secret of secrets.values()) secret.dispose();
  });
}

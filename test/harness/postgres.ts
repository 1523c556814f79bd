/** One throw-away PostgreSQL for a test file (src/testing/postgres.ts): started before its tests, stopped after them. */
import type { TestFn } from 'ava';
import { postgresUnavailable, startPostgres, type Postgres } from '../../src/testing/postgres.js';

export interface FilePostgres {
  /** Why it cannot run here (its tests are skipped), or false. */
  why: string | false;
  /** The server, once the file's `before` hook has started it. */
  readonly server: Postgres;
}

/** Starts a PostgreSQL for this file's tests, with PGPASSWORD set for this process (the ledger reads it there). */
export function postgresForFile(test: TestFn): FilePostgres {
  const why = postgresUnavailable();
  let server: Postgres | undefined;
  test.before(async () => {
    if (why) return;
    server = await startPostgres();
    process.env.PGPASSWORD = server.password;
  });
  test.after.always(async () => {
    await server?.stop();
  });
  return {
    why,
    get server() {
      if (!server) throw new Error('PostgreSQL is not running: used outside a test, or unavailable here');
      return server;
    },
  };
}

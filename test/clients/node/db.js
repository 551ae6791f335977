// What the Node client tests share: a throwaway database with the
// extension, raw SQL from a connection of its own, and concurrent writers
// that meet behind a row lock.  Connection parameters come from the
// environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE), which
// node-postgres reads as libpq does.
'use strict';

const { Client } = require('pg');

async function withClient(database, fn) {
  const client = new Client({ database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// Creates database `name` (dropping a leftover one) with the extension;
// returns a function that drops it again.
async function throwawayDatabase(name) {
  const maintenance = process.env.PGDATABASE || 'postgres';
  await withClient(maintenance, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}"`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  await withClient(name, (c) => c.query('CREATE EXTENSION rowversion'));
  return () => withClient(maintenance, async (c) => {
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity ' +
                  'WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
    await c.query(`DROP DATABASE IF EXISTS "${name}"`);
  });
}

// Runs SQL in a connection of its own (another client) and returns the rows.
async function execute(database, sql, params) {
  return withClient(database, async (c) => (await c.query(sql, params)).rows);
}

// Starts every writer in `writers` (functions returning promises) while
// `lockSql` (a SELECT ... FOR UPDATE) holds the row they write, releases the
// lock once all of them wait for it, and returns their settled results.
async function concurrently(database, lockSql, writers) {
  const holder = new Client({ database });
  const watcher = new Client({ database }); // (pg_stat_activity is read once per transaction)
  await holder.connect();
  await watcher.connect();
  let settled;
  try {
    await holder.query('BEGIN');
    const { rowCount } = await holder.query(lockSql);
    if (rowCount !== 1) throw new Error(`lock statement locked ${rowCount} rows`);
    settled = Promise.allSettled(writers.map((w) => w()));
    const deadline = Date.now() + 30000;
    for (;;) {
      const { rows } = await watcher.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 " +
        "AND wait_event_type = 'Lock'", [database]);
      if (rows[0].n >= writers.length) break;
      if (Date.now() > deadline) {
        throw new Error(`${rows[0].n} of ${writers.length} writers waiting for the row lock`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    await holder.query('ROLLBACK').catch(() => {});
    await holder.end();
    await watcher.end();
  }
  return settled;
}

module.exports = { throwawayDatabase, execute, concurrently };

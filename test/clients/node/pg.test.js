// node-postgres calling rowversion.conditional_update and _delete.
// node-postgres sends every parameter untyped (the server infers the type),
// so the key resolves to the text signature and is the key value itself;
// the object form of a key is cast, $2::jsonb.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Pool } = require('pg');
const { throwawayDatabase, execute, concurrently } = require('./db');

const DB = 'rv_client_node_pg';
let pool;
let dropDatabase;

// The application's write paths, as an endpoint would call them.
async function updateCustomer(id, expectedVersion, changes) {
  const { rows } = await pool.query(
    'SELECT rowversion.conditional_update($1, $2, $3, $4) AS version',
    ['customers', id, expectedVersion, changes]);
  return BigInt(rows[0].version);
}

async function deleteCustomer(id, expectedVersion) {
  await pool.query('SELECT rowversion.conditional_delete($1, $2, $3)',
    ['customers', id, expectedVersion]);
}

async function customer(id) {
  const rows = await execute(DB, 'SELECT *, row_version::text AS v FROM customers WHERE id = $1', [id]);
  return rows[0] && { ...rows[0], row_version: BigInt(rows[0].v) };
}

before(async () => {
  dropDatabase = await throwawayDatabase(DB);
  await execute(DB, `
    CREATE TABLE customers (id int PRIMARY KEY, name text, email text, tags text[], prefs jsonb);
    SELECT rowversion.enable('customers', require_version => true);
    CREATE TABLE devices (id uuid PRIMARY KEY, label text);
    SELECT rowversion.enable('devices');
    CREATE TABLE order_lines (order_id int, line int, qty int, PRIMARY KEY (order_id, line));
    SELECT rowversion.enable('order_lines');`);
  pool = new Pool({ database: DB, max: 4 });
});

after(async () => {
  await pool.end();
  await dropDatabase();
});

async function freshCustomer(id) {
  await execute(DB, 'DELETE FROM customers WHERE id = $1', [id]);
  await execute(DB, "INSERT INTO customers VALUES ($1, 'Ada', 'ada@example.com', '{}', '{}')", [id]);
  return (await customer(id)).row_version;
}

test('untyped parameters: the current version writes and returns the new one', async () => {
  const v1 = await freshCustomer(1);
  // every parameter as node-postgres sends it: a number, a string, an
  // object (as JSON), arrays and nested objects in `changes`
  const v2 = await updateCustomer(1, v1.toString(), {
    email: 'ada@lovelace.org', tags: ['math', 'engines'], prefs: { lang: 'en' } });
  assert.ok(v2 > v1);
  const row = await customer(1);
  assert.equal(row.row_version, v2);
  assert.deepEqual([row.email, row.tags, row.prefs], ['ada@lovelace.org', ['math', 'engines'], { lang: 'en' }]);
  // a string key (as from a URL) and the version as a JS number work too
  const v3 = await updateCustomer('1', Number(v2), { name: 'Ada L.' });
  assert.ok(v3 > v2);
});

test('a stale version is RV001 and changes nothing', async () => {
  const v1 = await freshCustomer(2);
  await updateCustomer(2, v1, { name: 'first writer' });
  await assert.rejects(updateCustomer(2, v1, { name: 'stale writer' }), (err) => {
    assert.equal(err.code, 'RV001');
    assert.equal(err.table, 'customers');
    assert.match(err.message, /row version conflict on table "customers"/);
    assert.match(err.detail, new RegExp(`Expected version ${v1}`));
    return true;
  });
  assert.equal((await customer(2)).name, 'first writer');
});

test('a change by another client (plain SQL) makes the version stale', async () => {
  const v1 = await freshCustomer(3);
  await execute(DB, "UPDATE customers SET email = 'x@y', row_version = row_version WHERE id = 3");
  await assert.rejects(updateCustomer(3, v1, { email: 'lost' }), { code: 'RV001' });
  assert.equal((await customer(3)).email, 'x@y');
});

test('a missing row is RV003; conditional_delete checks the version', async () => {
  await assert.rejects(updateCustomer(404, 1, { name: 'x' }), { code: 'RV003' });
  const v1 = await freshCustomer(4);
  await updateCustomer(4, v1, { name: 'moved on' });
  await assert.rejects(deleteCustomer(4, v1), { code: 'RV001' });
  assert.ok(await customer(4));
  await deleteCustomer(4, (await customer(4)).row_version);
  assert.equal(await customer(4), undefined);
});

test('uuid and composite keys: untyped value, and $2::jsonb for the object form', async () => {
  const id = '6f1c1d5e-8f6a-4c1e-9d0b-1a2b3c4d5e6f';
  await execute(DB, "INSERT INTO devices VALUES ($1, 'old')", [id]);
  const [{ v }] = await execute(DB, 'SELECT row_version::text AS v FROM devices');
  await pool.query('SELECT rowversion.conditional_update($1, $2, $3, $4)',
    ['devices', id, v, { label: 'new' }]);
  assert.deepEqual(await execute(DB, 'SELECT label FROM devices'), [{ label: 'new' }]);

  await execute(DB, 'INSERT INTO order_lines VALUES (7, 2, 1)');
  const [{ v: lv }] = await execute(DB, 'SELECT row_version::text AS v FROM order_lines');
  const key = { order_id: 7, line: 2 };
  await pool.query('SELECT rowversion.conditional_update($1, $2::jsonb, $3, $4)',
    ['order_lines', key, lv, { qty: 3 }]);
  await assert.rejects(pool.query('SELECT rowversion.conditional_update($1, $2::jsonb, $3, $4)',
    ['order_lines', key, lv, { qty: 4 }]), { code: 'RV001' });
  assert.deepEqual(await execute(DB, 'SELECT qty FROM order_lines'), [{ qty: 3 }]);
});

test('two concurrent writers of one version: exactly one wins', async () => {
  for (let round = 0; round < 3; round++) {
    const v1 = await freshCustomer(5);
    const names = [`writer-${round}-a`, `writer-${round}-b`];
    const results = await concurrently(DB, 'SELECT 1 FROM customers WHERE id = 5 FOR UPDATE',
      names.map((name) => () => updateCustomer(5, v1, { name })));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(results.map((r) => r.status))}`);
    assert.equal(lost.length, 1);
    assert.equal(lost[0].reason.code, 'RV001');
    const row = await customer(5);
    assert.equal(row.name, names[results.indexOf(won[0])]);
    assert.equal(row.row_version, won[0].value);
  }
});

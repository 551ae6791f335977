// Sequelize with `version: true` on a table in the extension's counter mode.
// Sequelize increments the version itself and guards its UPDATE with
// `WHERE version = <old>`; the trigger makes every other writer -- raw SQL,
// bulk updates, other applications -- move the version too, so Sequelize's
// stale instance fails with OptimisticLockError instead of overwriting.
'use strict';

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Sequelize, DataTypes, OptimisticLockError } = require('sequelize');
const { throwawayDatabase, execute } = require('./db');

const DB = 'rv_client_node_sequelize';
let sequelize;
let Product;
let dropDatabase;

before(async () => {
  dropDatabase = await throwawayDatabase(DB);
  sequelize = new Sequelize(DB, process.env.PGUSER, process.env.PGPASSWORD, {
    host: process.env.PGHOST, port: process.env.PGPORT, dialect: 'postgres', logging: false,
  });
  Product = sequelize.define('Product', {
    name: { type: DataTypes.TEXT, allowNull: false },
    price: { type: DataTypes.INTEGER, allowNull: false },
  }, { tableName: 'products', timestamps: false, version: true });
  await sequelize.sync();
  // the column Sequelize made (integer, starting at 0) becomes the extension's
  await sequelize.query("SELECT rowversion.enable('products', 'version', mode => 'counter')");
});

after(async () => {
  await sequelize.close();
  await dropDatabase();
});

async function dbRow(id) {
  return (await execute(DB, 'SELECT name, price, version FROM products WHERE id = $1', [id]))[0];
}

test("Sequelize's own protocol works on the counter-mode table", async () => {
  const p = await Product.create({ name: 'pencil', price: 1 });
  assert.equal(p.version, 0);
  assert.deepEqual(await dbRow(p.id), { name: 'pencil', price: 1, version: 0 });
  p.price = 2;
  await p.save();
  assert.equal(p.version, 1);
  assert.deepEqual(await dbRow(p.id), { name: 'pencil', price: 2, version: 1 });
  // and two instances of one row: the second save is stale
  const [a, b] = [await Product.findByPk(p.id), await Product.findByPk(p.id)];
  a.price = 3;
  await a.save();
  b.price = 4;
  await assert.rejects(b.save(), OptimisticLockError);
  assert.equal((await dbRow(p.id)).price, 3);
});

test('a raw SQL update from another connection makes the stale instance fail', async () => {
  const p = await Product.create({ name: 'paper', price: 10 });
  // another application, knowing nothing of versions
  await execute(DB, 'UPDATE products SET price = 11 WHERE id = $1', [p.id]);
  p.price = 12;
  await assert.rejects(p.save(), OptimisticLockError);
  assert.deepEqual(await dbRow(p.id), { name: 'paper', price: 11, version: 1 });
  // read again, it saves
  await p.reload();
  p.price = 12;
  await p.save();
  assert.deepEqual(await dbRow(p.id), { name: 'paper', price: 12, version: 2 });
});

test('a bulk update makes loaded instances stale', async () => {
  const p = await Product.create({ name: 'ink', price: 5 });
  await Product.update({ price: 6 }, { where: { name: 'ink' } });
  p.name = 'blue ink';
  await assert.rejects(p.save(), OptimisticLockError);
  assert.deepEqual(await dbRow(p.id), { name: 'ink', price: 6, version: 1 });
});

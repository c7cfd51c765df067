#!/usr/bin/env node
// What N open sockets keep, by kind of object: the difference between two V8 heap snapshots
// (socket-memory.ts --snapshots writes them), per socket, largest first.
//
//   node scripts/bench/ws/heap-diff.mjs <before.heapsnapshot> <after.heapsnapshot> <sockets> [rows]
//
// Objects are grouped by type and name (constructor for objects, "(closure) f" for
// functions, "(string)", "(array)"...); shallow sizes only, so the rows add up to the
// heap's growth.
import { readFileSync } from 'node:fs';

function groups(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const f = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [iType, iName, iSize] = [f.indexOf('type'), f.indexOf('name'), f.indexOf('self_size')];
  const nodes = snap.nodes;
  const strings = snap.strings;
  const out = new Map();
  for (let i = 0; i < nodes.length; i += f.length) {
    const type = types[nodes[i + iType]];
    const name = strings[nodes[i + iName]];
    const key =
      type === 'object' ? name
      : type === 'closure' ? `(closure) ${name || '(anonymous)'}`
      : type === 'native' ? `(native) ${name}`
      : `(${type})`;
    const g = out.get(key) ?? { count: 0, size: 0 };
    g.count += 1;
    g.size += nodes[i + iSize];
    out.set(key, g);
  }
  return out;
}

const [before, after, n, rows = '40'] = process.argv.slice(2);
const a = groups(before);
const b = groups(after);
const N = Number(n);
const diff = [];
for (const [key, g] of b) {
  const o = a.get(key) ?? { count: 0, size: 0 };
  diff.push({ key, count: (g.count - o.count) / N, bytes: (g.size - o.size) / N });
}
diff.sort((x, y) => y.bytes - x.bytes);
const total = diff.reduce((s, d) => s + d.bytes, 0);
console.log(`per socket: ${total.toFixed(0)} bytes (shallow, all kinds)`);
console.log('bytes/socket  objects/socket  kind');
for (const d of diff.slice(0, Number(rows))) console.log(`${d.bytes.toFixed(1).padStart(12)}  ${d.count.toFixed(2).padStart(14)}  ${d.key}`);

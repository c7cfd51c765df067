#!/usr/bin/env node
// Where the bytes allocated while sockets opened came from: a sampling heap profile
// (socket-memory.ts --alloc, or any bench with ../lib/alloc-sampling.mjs preloaded) summed
// per allocating function and per file, per socket (or per request: pass their count).
//
//   node scripts/bench/ws/alloc-sites.mjs <file.heapprofile> <sockets> [rows] [--stack <substring>]
//
// "self" is what a function allocated itself; "total" adds what its callees allocated. With
// --stack, only samples whose stack has a frame whose function or file contains <substring>.
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const stackAt = args.indexOf('--stack');
const filter = stackAt >= 0 ? args.splice(stackAt, 2)[1] : null;
const [file, n, rows = '30'] = args;
const N = Number(n);
const { head } = JSON.parse(readFileSync(file, 'utf8'));
const short = (url) => url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '').replace(/^.*\/(dist|src)\//, '$1/');
const frame = (cf) => `${cf.functionName || '(anonymous)'} ${short(cf.url) || '(native)'}:${cf.lineNumber + 1}`;
const selfBy = new Map();
const totalBy = new Map();
const fileBy = new Map();
let all = 0;
const walk = (node, stack) => {
  const here = [...stack, node.callFrame];
  const self = node.selfSize;
  if (self > 0 && (!filter || here.some((cf) => cf.functionName.includes(filter) || cf.url.includes(filter)))) {
    all += self;
    const f = frame(node.callFrame);
    selfBy.set(f, (selfBy.get(f) ?? 0) + self);
    const fl = short(node.callFrame.url) || '(native)';
    fileBy.set(fl, (fileBy.get(fl) ?? 0) + self);
    for (const k of new Set(here.map(frame))) totalBy.set(k, (totalBy.get(k) ?? 0) + self);
  }
  for (const c of node.children) walk(c, here);
};
walk(head, []);
const print = (title, m) => {
  console.log(`\n${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(rows))) console.log(`${(v / N).toFixed(0).padStart(8)}  ${k}`);
};
console.log(`allocated per socket: ${(all / N).toFixed(0)} bytes${filter ? ` (stacks through ${filter})` : ''}`);
print('bytes/socket by file (self)', fileBy);
print('bytes/socket by function (self)', selfBy);
print('bytes/socket by function (total: self + callees)', totalBy);

#!/usr/bin/env node
/*
 * The Node.js version gate: `npm ci` (through `prepare`), `npm start`, `npm test` and the other scripts that run
 * TypeScript run it first. On a Node.js older than package.json's `engines.node` it prints one line (the version
 * found, the version needed, how to get it) and exits 1; otherwise it prints nothing.
 *
 * Plain CommonJS, without TypeScript or recent syntax, on purpose: it must run on the old Node.js it is there to stop
 * (any Node.js from 16 on).
 * `--quiet` leaves the line out (`.ci/run` asks whether it must install Node 24 first).
 */
'use strict';

const fs = require('node:fs');
const path = require('node:path');

function parseVersion(text) {
  const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim());
  if (!match) return null;
  return [Number(match[1]), Number(match[2] || 0), Number(match[3] || 0)];
}

function compare(a, b) {
  for (let i = 0; i < 3; i += 1) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

/** One comparator (`>=22.18`, `<25`, `24.1.0`); `null` when it is not one this gate reads. */
function satisfiesComparator(version, comparator) {
  const match = /^(>=|<=|>|<|=)?\s*(v?\d+(?:\.\d+){0,2})$/.exec(comparator);
  if (!match) return null;
  const wanted = parseVersion(match[2]);
  const order = compare(version, wanted);
  switch (match[1] || '=') {
    case '>=':
      return order >= 0;
    case '>':
      return order > 0;
    case '<=':
      return order <= 0;
    case '<':
      return order < 0;
    default:
      return order === 0;
  }
}

/** A range of comparator sets joined by `||`; a range this gate cannot read lets every version through. */
function satisfies(version, range) {
  const sets = range.split('||');
  for (let i = 0; i < sets.length; i += 1) {
    const comparators = sets[i].trim().split(/\s+/).filter(Boolean);
    let all = comparators.length > 0;
    for (let j = 0; j < comparators.length; j += 1) {
      const result = satisfiesComparator(version, comparators[j]);
      if (result === null) return true;
      if (!result) all = false;
    }
    if (all) return true;
  }
  return false;
}

const packageJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8'));
const range = packageJson.engines?.node || '';
const found = process.versions.node;
const version = parseVersion(found);

if (range !== '' && version !== null && !satisfies(version, range)) {
  if (process.argv.indexOf('--quiet') < 0) {
    process.stderr.write(
      packageJson.name +
        ' needs Node.js ' +
        range +
        ' (24 recommended), and this is Node.js ' +
        found +
        ' (' +
        process.execPath +
        '): install Node.js 24 from https://nodejs.org/en/download (or `nvm install 24`), then run the command again.\n',
    );
  }
  process.exit(1);
}

#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so `npx dchain …` works right after `npm install`.
const { join } = require('node:path');
require('tsx/cjs');
void require(join(__dirname, '..', 'cli', 'dchain.ts')).main();

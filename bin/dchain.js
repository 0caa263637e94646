#!/usr/bin/env node
// `dchain`: the compiled CLI when `npm run build` made a current one, else the TypeScript source through tsx.
void require('./launch').load('cli/dchain').main();

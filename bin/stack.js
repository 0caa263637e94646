#!/usr/bin/env node
// `npm start` execs this: the stack supervisor, compiled when a current build exists (see launch.js).
require('./launch').load('workers/stack').run();

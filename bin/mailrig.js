#!/usr/bin/env node
// The mailrig command: a shim over the compiled CLI (npm ci / npm run build compiles it).
import { main } from '../dist/src/cli/main.js';

process.exitCode = await main(process.argv);

#!/usr/bin/env node
// The `keyward` binary: runs the compiled CLI (npm run build, or any npm ci / npm test, builds it).
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv);

#!/usr/bin/env node
// The `quarklab` command (package.json "bin"). It is tracked in git with its execute bit, so the
// command runs from a fresh clone whatever mode the build left on the bundle it loads
// (dist/bundle/cli/main.js, written by `npm install`'s build).
import { runAsProgram } from '../dist/bundle/cli/main.js';

await runAsProgram();

#!/usr/bin/env node
// The `image-queue` command. The CLI is TypeScript like the rest of the repo: tsx (a devDependency,
// already what `npm start` runs on) compiles it on load, caching the output, so there is no build step.
'use strict';
require('tsx/cjs/api').register();
require('../src/main.ts');

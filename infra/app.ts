/**
 * CDK entry point (cdk.json runs `npx tsx infra/app.ts`): reads the service catalog from
 * tps.config.ts, checks it, and synthesizes the stack. A bad catalog stops here with every bad
 * field named, before anything is built.
 */

import { parseCatalog } from '../functions/domain/config.js';
import { ConfigError } from '../functions/domain/errors.js';
import catalogInput from '../tps.config.js';
import { buildApp } from './build-app.js';

function loadCatalog() {
  try {
    return parseCatalog(catalogInput);
  } catch (err) {
    if (err instanceof ConfigError) {
      const lines =
        err.issues.length > 0 ? err.issues.map((i) => `  - ${i.path}: ${i.message}`) : [`  - ${err.message}`];
      process.stderr.write(`tps.config.ts is not a valid service catalog:\n${lines.join('\n')}\n`);
      process.exit(1);
    }
    throw err;
  }
}

const { app } = buildApp({ catalog: loadCatalog() });
app.synth();

#!/usr/bin/env node
// The tps-deploy CLI (cli/main.ts), run through tsx's loader so the TypeScript sources need no build.
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `tps-deploy needs Node >= 24 (this is ${process.version}); run it through npm (npx tps-deploy ...), which uses the Node 24 of the node devDependency\n`,
  );
  process.exit(1);
}
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../cli/main.ts');
await main();

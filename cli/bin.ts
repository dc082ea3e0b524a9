/**
 * Entry of the packaged CLI (dist/cli/tps-deploy.mjs, built by scripts/build-package.ts): checks
 * the Node version, then runs cli/main.ts. The repository's bin/tps-deploy.js runs the same main
 * from the sources through tsx.
 */
const [major] = process.versions.node.split('.').map(Number);
if ((major ?? 0) < 24) {
  process.stderr.write(`tps-deploy needs Node >= 24 (this is ${process.version})\n`);
  process.exit(1);
}
const { main } = await import('./main.js');
await main();

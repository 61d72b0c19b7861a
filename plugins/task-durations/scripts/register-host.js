// For `oclif manifest` at build time: the plugin's command modules import fleet's API as `@dotfleet/fleet`, which
// fleet itself provides at run time (bin/run.js). Here that name is this repository's built fleet (npm run build at
// the root first). Used as `node --import ./scripts/register-host.js …`; not part of the package.
const {registerHostPackage} = await import(new URL('../../../dist/lib/plugins/host-package.js', import.meta.url).href)
registerHostPackage(new URL('../../../dist/index.js', import.meta.url).href)

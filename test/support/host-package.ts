// In the test process, `@dotfleet/fleet` (as the plugins in this repository import fleet's API) is this checkout's
// source, the way bin/run.js makes it the running fleet for installed plugins. Loaded by mocha (.mocharc `require`).
import {registerHostPackage} from '../../src/lib/plugins/host-package.ts'

registerHostPackage(new URL('../../src/index.ts', import.meta.url).href)

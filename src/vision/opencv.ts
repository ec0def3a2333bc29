// OpenCV is loaded through require: under ESM `import` the binding looks for an auto-built copy
// of OpenCV ("No build found") unless OPENCV4NODEJS_DISABLE_AUTOBUILD is set at run time too.
import { createRequire } from 'node:module';

process.env.OPENCV4NODEJS_DISABLE_AUTOBUILD ??= '1';
// The binding reports Mat memory to V8 from its allocator, also while V8 is finalising garbage
// collection; that crashed the daemon test now and then ("Check failed: marking_done_").
// Dropped frames are released explicitly instead.
process.env.OPENCV4NODEJS_DISABLE_EXTERNAL_MEM_TRACKING ??= '1';

export type Cv = typeof import('@u4/opencv4nodejs').default;
export type Mat = import('@u4/opencv4nodejs').Mat;

const require = createRequire(import.meta.url);
// The binding's build helper logs its (irrelevant, no-autobuild) setup to stdout on every load,
// which would corrupt --json output: silence it before loading.
const buildHelper = createRequire(require.resolve('@u4/opencv4nodejs'))('@u4/opencv-build') as { Log?: { silence: boolean } };
if (buildHelper.Log) buildHelper.Log.silence = true;
const loaded = require('@u4/opencv4nodejs') as Cv | { default: Cv };
export const cv: Cv = 'default' in loaded && loaded.default ? loaded.default : (loaded as Cv);

// The multi-threaded engine's worker script (a module worker, copied to engine-mt/worker.js by
// scripts/build-threads.sh). Initialising the WebAssembly runs the engine's `main`, which
// starts one pool thread per core and then serves the page's requests.
import init from './engine.js';

init();

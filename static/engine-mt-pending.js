// Stands in for the multi-threaded engine (engine-mt/worker.js) while `scripts/setup.sh` is
// still building it: the page is served first, and the threaded build (the standard library
// rebuilt with atomics) follows. The page reads this answer as "threads could not start" and
// runs the single-threaded engine meanwhile; a reload once setup says so picks up the real one.
postMessage(JSON.stringify({
  type: 'threads_failed',
  message: 'The multi-threaded engine is still being built by scripts/setup.sh (reload when it ' +
    'says it is ready)',
}));

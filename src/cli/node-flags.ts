/**
 * Node's flags for the daemon process, in the systemd unit's ExecStart and for the daemon the demo
 * starts (so the bench measures what is shipped). The daemon's live heap is small (31 MB at 500
 * repositories: mostly code and the ETag cache), but a tick's burst of requests allocates fast:
 *   - with V8's default limit the old generation grew to ~250 MB of RSS before collecting; capped
 *     at 128 MB it stays near 150 MB at the same CPU per tick;
 *   - the young generation then still grew to V8's 16 MB semi-spaces (48 MB with the copy
 *     reserve); at 4 MB peak RSS at 500 repositories and 200 VMs is 128 MB instead of 153, for
 *     ~12 % more CPU per tick (3.3 % of a core at speed 1; `--optimize-for-size` gave 116 MB for
 *     ~70 % more). Measured with `BENCH_NODE_FLAGS=… npm run bench -- --growth --quick`.
 * Raise the cap if the live heap grows (a larger ETag cache): V8 collects harder near it and fails beyond it.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-old-space-size=128', '--max-semi-space-size=4'];

// tasksync for Node (>= 20): reads the WebAssembly from disk.
import { readFile } from 'node:fs/promises';
import init from './pkg/tasksync.js';
import { Store, allowedTaskTransitions } from './store.js';

await init({ module_or_path: await readFile(new URL('./pkg/tasksync_bg.wasm', import.meta.url)) });

export { Store, allowedTaskTransitions };

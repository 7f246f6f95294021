// tasksync for browsers and bundlers: loads the WebAssembly next to this file.
import init from './pkg/tasksync.js';
import { Store, allowedTaskTransitions } from './store.js';

await init({ module_or_path: new URL('./pkg/tasksync_bg.wasm', import.meta.url) });

export { Store, allowedTaskTransitions };

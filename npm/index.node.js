// tasksync for Node (>= 20): the engine is loaded at import, synchronously,
// so a Store is usable at once.
import { gunzipSync } from 'node:zlib';
import { loadSync, wasmGzipBase64 } from './engine.js';

loadSync(gunzipSync(Buffer.from(wasmGzipBase64, 'base64')));

export { Store, allowedTaskTransitions } from './store.js';
export { ready } from './engine.js';

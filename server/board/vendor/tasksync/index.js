// tasksync for browsers, bundlers and workers. Importing it does nothing:
// the engine is loaded on first use (`connect()`, a write, or `ready()`).
export { Store, allowedTaskTransitions } from './store.js';
export { ready } from './engine.js';

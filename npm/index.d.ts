// The public types: the Store class and the model, generated from the Rust bindings.
export { Store } from './pkg/tasksync.js';
export type * from './pkg/tasksync.js';

// The public types: the Store class and the model, generated from the Rust bindings.
export * from './pkg/types.js';

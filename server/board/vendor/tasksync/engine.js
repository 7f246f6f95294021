// Loads the sync engine (WebAssembly) once. The module ships inside
// `pkg/wasm.js` as gzip in base64, so every bundler, Node, a Web Worker and
// a plain <script type="module"> get it without configuration: no separate
// .wasm file to carry, no top-level await, no fetch. It is compiled
// asynchronously on first use (browsers refuse to compile large modules
// synchronously on the main thread); Node's entry compiles it at import.
import init, { initSync } from './pkg/tasksync.js';
import wasmGzipBase64 from './pkg/wasm.js';

let loading = null;
let loaded = false;
let exports = null;

/** Whether the engine can be used now (synchronously). */
export function isLoaded() {
  return loaded;
}

function gzipBytes() {
  const text = atob(wasmGzipBase64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Loads the engine; resolves when the Store is fully usable. Safe to call often. */
export function ready() {
  loading ??= (async () => {
    const stream = new Blob([gzipBytes()]).stream().pipeThrough(new DecompressionStream('gzip'));
    const bytes = await new Response(stream).arrayBuffer();
    exports = await init({ module_or_path: bytes });
    loaded = true;
  })();
  return loading;
}

/** Loads the engine at once from already-unzipped bytes (Node's entry). */
export function loadSync(bytes) {
  if (loaded) return;
  exports = initSync({ module: bytes });
  loaded = true;
  loading = Promise.resolve();
}

/** The engine's memory (frames are written straight into it). */
export function memory() {
  return exports.memory;
}

export { wasmGzipBase64 };

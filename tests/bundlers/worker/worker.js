// The package in a module Web Worker, no bundler: the worker syncs, the page shows.
import { Store } from './tasksync/index.js';

const store = new Store({ url: new URL(self.location.href).searchParams.get('server') });
const post = () => postMessage({ state: store.connectionState, titles: store.getTasks().map((t) => t.title).join('\n') });
store.subscribe(post);
store.connect().catch((e) => postMessage({ error: e.message }));

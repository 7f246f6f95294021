// The same small app for every bundler: the tasks' titles, live.
import { Store } from 'tasksync';

const server = new URLSearchParams(location.search).get('server');
const store = new Store({ url: server });
const render = () => {
  document.getElementById('tasks').textContent = store.getTasks().map((t) => t.title).join('\n');
  document.body.dataset.state = store.connectionState;
};
store.subscribe(render);
render();
store.connect().catch((e) => { document.body.dataset.error = e.message; });

import React from 'react';
import { createRoot } from 'react-dom/client';
import { Store } from 'tasksync';
import { TasksyncProvider } from 'tasksync/react';
import { App } from './App.jsx';

// The tasksync server: ?server=URL, else the one this page came from.
const url = new URLSearchParams(location.search).get('server') ?? location.origin;
const store = new Store({ url });
store.connect().catch((e) => console.error(e));

createRoot(document.getElementById('root')).render(
  <TasksyncProvider store={store}>
    <App />
  </TasksyncProvider>,
);

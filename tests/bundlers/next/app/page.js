// A server component page with the live list as a client component inside.
import { Tasks } from './tasks.js';

export default function Page() {
  return (
    <main>
      <h1>Rendered on the server</h1>
      <Tasks />
    </main>
  );
}

// {{name}}: a Hono app, served by sluice through its fetch handler (c.env is the environ).
// Run it with `npm start` (sluice.json), test it with `npm test`.
import { Hono } from 'hono';

const app = new Hono();

app.get('/', (c) => c.text(`Hello from {{name}} over ${c.env['sluice.protocol']}!\n`));

export default app;

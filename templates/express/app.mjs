// {{name}}: an Express app, served by sluice as it is (req.environ holds the CGI variables).
// Run it with `npm start` (sluice.json), test it with `npm test`.
import express from 'express';

const app = express();

app.get('/', (req, res) => {
  res.type('text/plain').send(`Hello from {{name}} over ${req.environ['sluice.protocol']}!\n`);
});

export default app;

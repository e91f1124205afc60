// An ordinary Express 5 app, served by sluice without a change:
//
//   sluice serve examples/express/app.mjs --http :8080 --fastcgi unix:/tmp/sluice-fastcgi.sock
//
// sluice recognizes the Express app by its shape and runs it through the Node adapter: req and res are
// Node's own IncomingMessage and ServerResponse. req.environ holds the CGI variables the front end sent
// (REMOTE_USER, HTTPS, SSL_* …). Try: curl localhost:8080/ ; curl -d '{"n":2}' -H 'Content-Type:
// application/json' localhost:8080/double ; curl -N localhost:8080/clock
import express from 'express';

const app = express();
app.use(express.json());

app.get('/', (req, res) => {
  res.type('text').send(`Hello from Express, ${req.ip} over ${req.environ['sluice.protocol']}!\n`);
});

app.post('/double', (req, res) => {
  res.json({ n: req.body.n * 2 });
});

// Server-sent events: X-Accel-Buffering: no tells nginx to pass each event on at once.
app.get('/clock', (req, res) => {
  res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', 'X-Accel-Buffering': 'no' });
  res.flushHeaders();
  const timer = setInterval(() => res.write(`data: ${new Date().toISOString()}\n\n`), 1000);
  res.on('close', () => clearInterval(timer));
});

export default app;

// The seeds' RESTful blog as a gateway app: entries are plain-text files in a directory.
//
//   BLOG_DIR=/tmp/blog sluice serve examples/blog/app.mjs --http :8080
//
//   curl -X PUT --data-binary 'My first entry' localhost:8080/first   -> 201 Created
//   curl -X PUT --data-binary 'Edited'         localhost:8080/first   -> 200 OK
//   curl localhost:8080/                                              -> every entry
//   curl localhost:8080/first                                         -> the entry
//   curl -X DELETE localhost:8080/first                               -> 204
//
// GET of a missing entry and DELETE of one are 404; PUT without a body is 411, as in the seed.
// BLOG_DIR defaults to a directory under the system's temp directory.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const BLOG_DIR = process.env.BLOG_DIR ?? path.join(os.tmpdir(), 'sluice-blog');
const TEXT = [['Content-Type', 'text/plain; charset=utf-8']];

/** An entry's file; the name may hold letters, digits, '-' and '_' only, so it can never leave BLOG_DIR. */
function entryFile(name) {
  return /^[\w-]{1,100}$/.test(name) ? path.join(BLOG_DIR, `${name}.txt`) : null;
}

async function readEntry(file) {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return null;
    throw error;
  }
}

async function readBody(environ) {
  const chunks = [];
  for await (const chunk of environ['sluice.input']) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function answer(startResponse, status, text) {
  startResponse(status, TEXT);
  return [text];
}

async function listAll(startResponse) {
  await fs.mkdir(BLOG_DIR, { recursive: true });
  const names = (await fs.readdir(BLOG_DIR)).filter((f) => f.endsWith('.txt')).sort();
  const entries = await Promise.all(
    names.map(
      async (f) =>
        `== ${f.slice(0, -4).replace(/-/g, ' ')} ==\n${await fs.readFile(path.join(BLOG_DIR, f), 'utf8')}\n`,
    ),
  );
  return answer(startResponse, '200 OK', entries.join('\n'));
}

export default async function blog(environ, startResponse) {
  const method = environ.REQUEST_METHOD;
  const name = environ.PATH_INFO.slice(1);
  if ((method === 'GET' || method === 'HEAD') && name === '') return listAll(startResponse);
  const file = entryFile(name);
  if (file === null) return answer(startResponse, '404 Not Found', `${name} not found\n`);
  switch (method) {
    case 'GET':
    case 'HEAD': {
      const text = await readEntry(file);
      if (text === null) return answer(startResponse, '404 Not Found', `${name} not found\n`);
      return answer(startResponse, '200 OK', text);
    }
    case 'PUT': {
      if (!environ.CONTENT_LENGTH || environ.CONTENT_LENGTH === '0') {
        return answer(startResponse, '411 Length Required', 'Missing content\n');
      }
      const existed = (await readEntry(file)) !== null;
      const text = await readBody(environ);
      await fs.mkdir(BLOG_DIR, { recursive: true });
      await fs.writeFile(file, text);
      return answer(startResponse, existed ? '200 OK' : '201 Created', text);
    }
    case 'DELETE': {
      try {
        await fs.unlink(file);
      } catch (error) {
        if (error.code === 'ENOENT') return answer(startResponse, '404 Not Found', `${name} not found\n`);
        throw error;
      }
      startResponse('204 No Content', []);
      return [];
    }
    default:
      startResponse('405 Method Not Allowed', [...TEXT, ['Allow', 'GET, HEAD, PUT, DELETE']]);
      return ['Method not allowed\n'];
  }
}

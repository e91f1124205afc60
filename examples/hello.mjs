// The seeds' hello world: the smallest sluice app (PEP 3333's simple_app in JavaScript).
export default function hello(environ, startResponse) {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello, world!\n'];
}

// The seeds' number-guessing form: GET shows the form, POST reads the urlencoded body and answers.
let number = randomNumber();

function randomNumber() {
  return 1 + Math.floor(Math.random() * 100);
}

function page(message) {
  return `<!doctype html>
<title>Guess the number</title>
<p>${message}</p>
<form method="POST">
<p><input type="text" name="myparam" value="" autofocus>
<p><input type="submit" value="Guess">
</form>
`;
}

async function readBody(environ) {
  const chunks = [];
  for await (const chunk of environ['sluice.input']) chunks.push(chunk);
  return Buffer.concat(chunks).toString('latin1');
}

function judge(fields) {
  const text = fields.get('myparam');
  if (text === null || text.trim() === '') return "You didn't guess";
  const guess = Number.parseInt(text, 10);
  if (Number.isNaN(guess)) return 'That is not a number';
  if (guess === number) {
    number = randomNumber();
    return 'You guessed correctly! I have picked a new number.';
  }
  return guess < number
    ? 'Try again, the number is higher than your guess'
    : 'Try again, the number is lower than your guess';
}

export default async function guess(environ, startResponse) {
  const method = environ.REQUEST_METHOD;
  let message = 'I am thinking of a number between 1 and 100.';
  if (method === 'POST') {
    message = judge(new URLSearchParams(await readBody(environ)));
  } else if (method !== 'GET' && method !== 'HEAD') {
    startResponse('405 Method Not Allowed', [
      ['Allow', 'GET, HEAD, POST'],
      ['Content-Type', 'text/plain'],
    ]);
    return ['Method Not Allowed\n'];
  }
  startResponse('200 OK', [['Content-Type', 'text/html; charset=utf-8']]);
  return [page(message)];
}

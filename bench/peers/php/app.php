<?php
// The benchmark routes for PHP-FPM: the same answers as bench/apps/gateway.mjs (sizes from
// bench/lib/routes.mjs). The pool config (rendered by bench/lib/targets.mjs) turns
// enable_post_data_reading off, so php://input streams the body instead of PHP buffering it first.
const MIB = 1048576;
const CHUNK_BYTES = 65536;

$uri = $_SERVER['REQUEST_URI'];
$query = strpos($uri, '?');
$path = $query === false ? $uri : substr($uri, 0, $query);

switch ($path) {
    case '/':
        header('Content-Type: text/plain');
        header('Content-Length: 14');
        echo "Hello, world!\n";
        break;
    case '/1m':
        header('Content-Type: application/octet-stream');
        header('Content-Length: ' . MIB);
        echo str_repeat('x', MIB);
        break;
    case '/echo':
        // The whole body first, as bench/apps/gateway.mjs does (nginx stops sending it after the head).
        $body = file_get_contents('php://input');
        header('Content-Type: application/octet-stream');
        header('Content-Length: ' . strlen($body));
        echo $body;
        break;
    case '/upload':
        $in = fopen('php://input', 'rb');
        $bytes = 0;
        while (!feof($in)) {
            $bytes += strlen(fread($in, CHUNK_BYTES));
        }
        $body = "$bytes\n";
        header('Content-Type: text/plain');
        header('Content-Length: ' . strlen($body));
        echo $body;
        break;
    case '/down':
        parse_str($_SERVER['QUERY_STRING'] ?? '', $params);
        $left = intval($params['bytes'] ?? MIB);
        header('Content-Type: application/octet-stream');
        header('Content-Length: ' . $left);
        $chunk = str_repeat('x', CHUNK_BYTES);
        for (; $left >= CHUNK_BYTES; $left -= CHUNK_BYTES) {
            echo $chunk;
        }
        echo substr($chunk, 0, $left);
        break;
    default:
        http_response_code(404);
        header('Content-Type: text/plain');
        echo "not found\n";
}

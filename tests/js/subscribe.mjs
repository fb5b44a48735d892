// Subscribes with the reference `graphql-ws` client and prints every result as one JSON line
// on stdout. Usage: node subscribe.mjs <ws-url> <bearer-token> <query> [variables-json]
// Exits 0 when the server completes the subscription, 1 on an error (printed to stderr).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, query, variables] = process.argv.slice(2);
const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
});

client.subscribe(
  { query, variables: variables ? JSON.parse(variables) : {} },
  {
    next: (result) => console.log(JSON.stringify(result)),
    error: (error) => {
      console.error(JSON.stringify(error, Object.getOwnPropertyNames(error)));
      process.exit(1);
    },
    complete: () => process.exit(0),
  },
);

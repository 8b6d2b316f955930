/** A loopback webhook receiver that records the JSON bodies it is sent. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startWebhookReceiver<T>(status = 200): Promise<{ server: Server; url: string; got: T[] }> {
  const got: T[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      got.push(JSON.parse(body) as T);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

// Small HTTP helpers shared by the test provider and the SET transmitter.

/** The request body parsed as JSON (`{}` when empty). */
export async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}

/** Answers `status` with `value` as JSON. */
export function answer(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

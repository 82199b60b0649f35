'use strict';
// Plain Node.js baseline for `make bench`: a hand-written handler, no libraries.
// usage: node node_handler.js EVENT_FILE ITERATIONS WARMUP NOW_MS
const { decode, Groups, run } = require('./common.js');

function handler(eventText, nowMs) {
  const event = JSON.parse(eventText); // what the Lambda runtime does before the handler
  const groups = new Groups();
  const batchItemFailures = [];
  for (const rec of event.Records) {
    let r;
    try {
      r = decode(rec, nowMs);
    } catch (e) {
      batchItemFailures.push({ itemIdentifier: rec.kinesis.sequenceNumber });
      continue;
    }
    groups.add(r);
  }
  return { response: { batchItemFailures }, items: groups.items(), records: event.Records.length };
}

run('node', handler);

'use strict';
// Shared by the Node.js baselines of `make bench`: the same job as the Go
// pipeline without the sink (decode, validate, window by event time, drop
// repeated event ids, build the DynamoDB PutItem items).

const WINDOW_MS = 60000;
const MIN_TS = 946684800000; // 2000-01-01
const MAX_FUTURE_MS = 5 * 60000;

function invalid(reason) {
  const e = new Error(reason);
  e.invalid = true;
  return e;
}

function isNum(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

// decode returns the validated reading of one Kinesis record or throws.
function decode(rec, nowMs) {
  const text = Buffer.from(rec.kinesis.data, 'base64').toString('utf8');
  let r;
  try {
    r = JSON.parse(text);
  } catch (e) {
    throw invalid('not JSON');
  }
  if (r === null || typeof r !== 'object' || Array.isArray(r)) throw invalid('not an object');
  const eid = r.event_id, sid = r.sensor_id;
  if (typeof eid !== 'string' || eid.length === 0 || eid.length > 256) throw invalid('event_id');
  if (typeof sid !== 'string' || sid.length === 0 || sid.length > 256 || /[\u0000-\u001f]/.test(sid)) throw invalid('sensor_id');
  let ts = r.ts;
  if (typeof ts === 'string') ts = Date.parse(ts);
  if (!isNum(ts)) throw invalid('ts');
  ts = Math.trunc(ts);
  if (ts < MIN_TS || ts > nowMs + MAX_FUTURE_MS) throw invalid('ts out of range');
  const t = r.temperature;
  if (!isNum(t) || t < -100 || t > 150) throw invalid('temperature');
  const h = r.humidity;
  if (h !== undefined && h !== null && (!isNum(h) || h < 0 || h > 100)) throw invalid('humidity');
  return { eid, sid, ts, t };
}

function iso(ms, millis) {
  const s = new Date(ms).toISOString();
  return millis ? s : s.slice(0, 19) + 'Z';
}

class Groups {
  constructor() { this.m = new Map(); }
  add(r) {
    const ws = r.ts - (r.ts % WINDOW_MS);
    const key = r.sid + '\u0000' + ws;
    let g = this.m.get(key);
    if (g === undefined) {
      g = { sid: r.sid, ws, ids: new Set(), count: 0, sum: 0, min: r.t, max: r.t, first: r.ts, last: r.ts };
      this.m.set(key, g);
    }
    if (g.ids.has(r.eid)) return;
    g.ids.add(r.eid);
    g.count++;
    g.sum += r.t;
    if (r.t < g.min) g.min = r.t;
    if (r.t > g.max) g.max = r.t;
    if (r.ts < g.first) g.first = r.ts;
    if (r.ts > g.last) g.last = r.ts;
  }
  items() {
    const out = [];
    for (const g of this.m.values()) {
      out.push({
        sensor_id: { S: g.sid },
        window_start: { S: iso(g.ws, false) },
        count: { N: String(g.count) },
        sum: { N: String(g.sum) },
        min: { N: String(g.min) },
        max: { N: String(g.max) },
        avg: { N: String(g.sum / g.count) },
        first_event_time: { S: iso(g.first, true) },
        last_event_time: { S: iso(g.last, true) },
        version: { N: '1' },
        event_ids: { SS: [...g.ids].sort() },
      });
    }
    return out;
  }
}

// run times handler(eventText) over warmup+iterations runs and prints the
// JSON line make bench reads.
async function run(name, handler) {
  const [path, iterations, warmup, nowMs] = process.argv.slice(2);
  const text = require('fs').readFileSync(path, 'utf8');
  const wall = [], cpu = [];
  let last;
  for (let i = 0; i < Number(warmup) + Number(iterations); i++) {
    const w0 = process.hrtime.bigint(), c0 = process.cpuUsage();
    last = await handler(text, Number(nowMs));
    const w1 = process.hrtime.bigint(), c = process.cpuUsage(c0);
    if (i >= Number(warmup)) {
      wall.push(Number(w1 - w0) / 1e6);
      cpu.push((c.user + c.system) / 1e3);
    }
  }
  console.log(JSON.stringify({ name, records: last.records, failed: last.response.batchItemFailures.length, windows: last.items.length, wall_ms: wall, cpu_ms: cpu }));
}

module.exports = { decode, Groups, run };

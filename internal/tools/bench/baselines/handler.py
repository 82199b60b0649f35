"""Python baseline for `make bench`: the seed's handler made correct.

The same job as the Go pipeline without the sink: parse the Lambda event,
base64 + json.loads per record, validate, window by event time, drop repeated
event ids, and build the DynamoDB PutItem items. Invalid records become batch
item failures here (the Go processor quarantines them).

usage: python3 handler.py EVENT_FILE ITERATIONS WARMUP NOW_MS
Prints one JSON line with per-iteration wall and CPU milliseconds.
"""
import base64
import binascii
import json
import math
import sys
import time
from datetime import datetime, timezone

WINDOW_MS = 60_000
MIN_TS = 946684800000  # 2000-01-01
MAX_FUTURE_MS = 5 * 60_000


class Invalid(Exception):
    pass


def validate(r, now_ms):
    if not isinstance(r, dict):
        raise Invalid("payload is not a JSON object")
    eid, sid = r.get("event_id"), r.get("sensor_id")
    if not isinstance(eid, str) or not eid or len(eid) > 256:
        raise Invalid("event_id")
    if not isinstance(sid, str) or not sid or len(sid) > 256 or any(ord(c) < 0x20 for c in sid):
        raise Invalid("sensor_id")
    ts = r.get("ts")
    if isinstance(ts, bool) or ts is None:
        raise Invalid("ts")
    if isinstance(ts, str):
        try:
            ts = int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            raise Invalid("ts not RFC 3339")
    elif isinstance(ts, (int, float)):
        if not math.isfinite(ts):
            raise Invalid("ts")
        ts = int(ts)
    else:
        raise Invalid("ts")
    if ts < MIN_TS or ts > now_ms + MAX_FUTURE_MS:
        raise Invalid("ts out of range")
    t = r.get("temperature")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or not -100 <= t <= 150:
        raise Invalid("temperature")
    h = r.get("humidity")
    if h is not None and (isinstance(h, bool) or not isinstance(h, (int, float)) or not 0 <= h <= 100):
        raise Invalid("humidity")
    return eid, sid, ts, t


def iso(ms, millis=True):
    d = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    if millis:
        return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (ms % 1000)
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def handler(event_text, now_ms):
    event = json.loads(event_text)  # what the Lambda runtime does before the handler
    failures = []
    groups = {}
    for rec in event["Records"]:
        k = rec["kinesis"]
        try:
            r = json.loads(base64.b64decode(k["data"], validate=True))
            eid, sid, ts, t = validate(r, now_ms)
        except (Invalid, ValueError, binascii.Error, UnicodeDecodeError):
            failures.append({"itemIdentifier": k["sequenceNumber"]})
            continue
        key = (sid, ts - ts % WINDOW_MS)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"ids": set(), "count": 0, "sum": 0.0, "min": t, "max": t, "first": ts, "last": ts}
        if eid in g["ids"]:
            continue
        g["ids"].add(eid)
        g["count"] += 1
        g["sum"] += t
        g["min"] = min(g["min"], t)
        g["max"] = max(g["max"], t)
        g["first"] = min(g["first"], ts)
        g["last"] = max(g["last"], ts)
    items = []
    for (sid, ws), g in groups.items():
        items.append({
            "sensor_id": {"S": sid},
            "window_start": {"S": iso(ws, millis=False)},
            "count": {"N": str(g["count"])},
            "sum": {"N": repr(g["sum"])},
            "min": {"N": repr(g["min"])},
            "max": {"N": repr(g["max"])},
            "avg": {"N": repr(g["sum"] / g["count"])},
            "first_event_time": {"S": iso(g["first"])},
            "last_event_time": {"S": iso(g["last"])},
            "version": {"N": "1"},
            "event_ids": {"SS": sorted(g["ids"])},
        })
    return {"batchItemFailures": failures}, items, len(event["Records"])


def main():
    path, iterations, warmup, now_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    with open(path, "rb") as f:
        text = f.read()
    wall, cpu = [], []
    for i in range(warmup + iterations):
        w0, c0 = time.perf_counter_ns(), time.process_time_ns()
        resp, items, n = handler(text, now_ms)
        w1, c1 = time.perf_counter_ns(), time.process_time_ns()
        if i >= warmup:
            wall.append((w1 - w0) / 1e6)
            cpu.append((c1 - c0) / 1e6)
    print(json.dumps({"name": "python", "records": n, "failed": len(resp["batchItemFailures"]),
                      "windows": len(items), "wall_ms": wall, "cpu_ms": cpu}))


if __name__ == "__main__":
    main()

// Reference oracle for the Go KPL decoder and aggregator: the npm package
// aws-kinesis-agg (pinned in package.json), run by reference_test.go.
//
// stdin:  {"batches": [[{"partitionKey", "explicitHashKey"?, "data": base64}]],
//          "records": [base64 Kinesis record data]}
// stdout: {"aggregated":   [[{"partitionKey", "data": base64}]]   one list per batch,
//          "deaggregated": [{"error"?: string, "records": [{"partitionKey",
//                            "explicitPartitionKey", "subSequenceNumber", "data"}]}]}
'use strict';
let agg;
try {
  agg = require('aws-kinesis-agg');
} catch (e) {
  process.stderr.write('aws-kinesis-agg not installed: ' + e.message + '\n');
  process.exit(3);
}

const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = { aggregated: [], deaggregated: [] };

for (const batch of input.batches) {
  const got = [];
  const ra = new agg.RecordAggregator();
  const records = batch.map((r) => {
    const rec = { partitionKey: r.partitionKey, data: Buffer.from(r.data, 'base64') };
    if (r.explicitHashKey) rec.explicitHashKey = r.explicitHashKey;
    return rec;
  });
  ra.aggregateRecords(records, true, (err, encoded) => {
    if (err) throw err;
    got.push({ partitionKey: encoded.partitionKey, data: encoded.data.toString('base64') });
  });
  out.aggregated.push(got);
}

input.records.forEach((data, i) => {
  const kinesisRecord = { partitionKey: 'outer', sequenceNumber: String(1000 + i), data };
  const res = { records: [] };
  agg.deaggregateSync(kinesisRecord, true, (err, userRecords) => {
    if (err) {
      res.error = String(err.message || err);
      return;
    }
    res.records = userRecords.map((u) => ({
      partitionKey: u.partitionKey,
      explicitPartitionKey: u.explicitPartitionKey === undefined ? '' : u.explicitPartitionKey,
      subSequenceNumber: u.subSequenceNumber === undefined ? -1 : u.subSequenceNumber,
      data: u.data,
    }));
  });
  out.deaggregated.push(res);
});

process.stdout.write(JSON.stringify(out));

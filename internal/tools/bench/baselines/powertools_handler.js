'use strict';
// Powertools for AWS Lambda (TypeScript) baseline for `make bench`: the
// documented Kinesis pattern, BatchProcessor + processPartialResponse from
// @aws-lambda-powertools/batch, with the same per-record work as the others.
// usage: node powertools_handler.js EVENT_FILE ITERATIONS WARMUP NOW_MS
const { BatchProcessor, EventType, processPartialResponse } = require('@aws-lambda-powertools/batch');
const { decode, Groups, run } = require('./common.js');

const processor = new BatchProcessor(EventType.KinesisDataStreams);
const context = { functionName: 'bench', awsRequestId: 'bench', getRemainingTimeInMillis: () => 900000 };

async function handler(eventText, nowMs) {
  const event = JSON.parse(eventText); // what the Lambda runtime does before the handler
  const groups = new Groups();
  const recordHandler = async (rec) => {
    groups.add(decode(rec, nowMs));
  };
  const response = await processPartialResponse(event, recordHandler, processor, { context });
  return { response, items: groups.items(), records: event.Records.length };
}

run('powertools', handler);

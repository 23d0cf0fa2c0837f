// jsforce (unmodified) against haul-sim: a single-page bulk2 query, then loadAndWaitForResults.
// Prints one JSON line of what it saw. Environment: HAUL_SIM_URL, HAUL_SIM_TOKEN.
const jsforce = require('jsforce');

async function main() {
  const conn = new jsforce.Connection({
    instanceUrl: process.env.HAUL_SIM_URL,
    accessToken: process.env.HAUL_SIM_TOKEN,
    version: '62.0',
  });
  // Single page only: jsforce#1546 breaks on multi-page results.
  const records = await (await conn.bulk2.query('SELECT Id, Name FROM Opportunity', {
    pollInterval: 100,
    pollTimeout: 60000,
  })).toArray();
  const loaded = await conn.bulk2.loadAndWaitForResults({
    object: 'Contact',
    operation: 'insert',
    input: 'LastName,Email\nPeer,peer@example.com\n,nolastname@example.com\n',
    pollInterval: 100,
    pollTimeout: 60000,
  });
  console.log(JSON.stringify({
    query_rows: records.length,
    first_id: records[0] && records[0].Id,
    successful: loaded.successfulResults.length,
    failed: loaded.failedResults.length,
    unprocessed: loaded.unprocessedRecords.length,
    failed_error: loaded.failedResults[0] && loaded.failedResults[0].sf__Error,
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

// jsforce (unmodified) against haul-sim's REST API: describe, describeGlobal, a query that
// autoFetches several batches, and identity(). Prints one JSON line of what it saw.
//
// Environment: HAUL_SIM_URL, HAUL_SIM_TOKEN.
const jsforce = require('jsforce');

async function main() {
  const conn = new jsforce.Connection({
    instanceUrl: process.env.HAUL_SIM_URL,
    accessToken: process.env.HAUL_SIM_TOKEN,
    version: '62.0',
  });
  const account = await conn.describe('Account');
  const global = await conn.describeGlobal();
  const records = [];
  await new Promise((resolve, reject) => {
    conn
      .query('SELECT Id, Name, Account.Name FROM Contact')
      .on('record', (record) => records.push(record))
      .on('end', resolve)
      .on('error', reject)
      .run({ autoFetch: true, maxFetch: 100000 });
  });
  const identity = await conn.identity();
  console.log(JSON.stringify({
    describe_name: account.name,
    describe_fields: account.fields.length,
    global_names: global.sobjects.map((o) => o.name).sort(),
    query_records: records.length,
    query_distinct_ids: new Set(records.map((r) => r.Id)).size,
    nested_parent: records.filter((r) => r.Account && r.Account.attributes.type === 'Account').length,
    identity_user: identity.user_id,
    identity_org: identity.organization_id,
    identity_username: identity.username,
  }));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

// Salesforce's own CLI (`sf`, unmodified) against haul-sim: log in with an access token, display
// the org, run a query. Prints one JSON line of what it saw.
//
// Environment: HAUL_SIM_URL, SF_ACCESS_TOKEN, HAUL_SF_BIN (the `sf` binary), HOME (a fresh
// folder, so the CLI's auth files stay out of the user's).
const { execFileSync } = require('child_process');

function sf(args) {
  const out = execFileSync(process.env.HAUL_SF_BIN, [...args, '--json'], {
    encoding: 'utf8',
    timeout: 120000,
    env: { ...process.env, SF_DISABLE_TELEMETRY: 'true', SF_AUTOUPDATE_DISABLE: 'true' },
  });
  return JSON.parse(out);
}

const login = sf(['org', 'login', 'access-token', '--instance-url', process.env.HAUL_SIM_URL,
  '--no-prompt', '--alias', 'sim']);
const display = sf(['org', 'display', '--target-org', 'sim']);
const query = sf(['data', 'query', '-q', 'SELECT Id, Name FROM Account LIMIT 5', '--target-org', 'sim']);
console.log(JSON.stringify({
  login_status: login.status,
  login_org: login.result.orgId,
  login_username: login.result.username,
  api_version: login.result.instanceApiVersion,
  display_status: display.status,
  connected: display.result.connectedStatus,
  query_status: query.status,
  query_total: query.result.totalSize,
  query_ids: query.result.records.map((r) => r.Id),
  query_names: query.result.records.map((r) => r.Name),
}));

#!/usr/bin/env node
// The relying party's half of Duo's Universal Prompt done by npm
// @duosecurity/duo_universal 3.0.0 (the official Node.js SDK), pointed at a
// Duo-compatible server with a private CA (test-partners.md §4: the SDK
// pins Duo's CAs in an https.Agent; the test replaces the agent).
//
//   node universal_client.js health
//     prints {"ok": true, "result": <healthCheck() answer>}
//   node universal_client.js authurl     env DUO_USERNAME DUO_STATE
//     prints {"ok": true, "result": "<createAuthUrl() URL>"}
//   node universal_client.js exchange    env DUO_CODE DUO_USERNAME [DUO_NONCE]
//     prints {"ok": true, "result": <exchangeAuthorizationCodeFor2FAResult() token>}
//
// Common environment: DUO_CLIENT_ID, DUO_CLIENT_SECRET, DUO_API_HOST
// (host[:port]), DUO_REDIRECT_URL, DUO_CA (CA certificate file to trust).
// A refusal by the SDK or the server prints {"ok": false, "error": "<message>"}
// and exits 0, so the caller can assert on it. Used by internal/universal
// (TestNodeUniversal).
'use strict'

const fs = require('fs')
const https = require('https')
const { Client } = require('@duosecurity/duo_universal')

function env (name, optional) {
  const v = process.env[name]
  if (v === undefined && !optional) {
    console.error(`universal_client.js: ${name} is not set`)
    process.exit(2)
  }
  return v
}

const client = new Client({
  clientId: env('DUO_CLIENT_ID'),
  clientSecret: env('DUO_CLIENT_SECRET'),
  apiHost: env('DUO_API_HOST'),
  redirectUrl: env('DUO_REDIRECT_URL')
})
client.axios.defaults.httpsAgent = new https.Agent({ ca: fs.readFileSync(env('DUO_CA')) })
client.axios.defaults.timeout = 20000

async function run (action) {
  switch (action) {
    case 'health':
      return client.healthCheck()
    case 'authurl':
      return client.createAuthUrl(env('DUO_USERNAME'), env('DUO_STATE'))
    case 'exchange':
      return client.exchangeAuthorizationCodeFor2FAResult(env('DUO_CODE'), env('DUO_USERNAME'), env('DUO_NONCE', true) || null)
    default:
      console.error('usage: universal_client.js health|authurl|exchange')
      process.exit(2)
  }
}

run(process.argv[2]).then(
  (result) => process.stdout.write(JSON.stringify({ ok: true, result }) + '\n'),
  (err) => process.stdout.write(JSON.stringify({ ok: false, error: String(err && err.message), inner: err && err.inner ? String(err.inner.message) : undefined }) + '\n')
)

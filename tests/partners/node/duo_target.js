// Shared by duo_api_call.js and duo_admin_call.js: the target server from
// the environment, and npm @duosecurity/duo_api pointed at it.
//
// The client has no port or CA option: it calls https.request({host, ca:
// DUO_PINNED_CERT}) on port 443. As in test-partners.md §4, https.request
// is patched to add the port and the test CA. The Host header and the
// signed host stay DUO_HOST, without the port.
'use strict'

const fs = require('fs')
const https = require('https')
const path = require('path')

// env returns the environment variable name, or exits 2 naming it.
function env (name) {
  const v = process.env[name]
  if (!v) {
    console.error(`${path.basename(process.argv[1])}: ${name} is not set`)
    process.exit(2)
  }
  return v
}

// target reads DUO_IKEY, DUO_SKEY, DUO_HOST, DUO_PORT and DUO_CA and
// patches https.request for them.
function target () {
  const t = { ikey: env('DUO_IKEY'), skey: env('DUO_SKEY'), host: env('DUO_HOST') }
  const port = Number(env('DUO_PORT'))
  const ca = fs.readFileSync(env('DUO_CA'))
  const origRequest = https.request
  https.request = (options, cb) => origRequest({ ...options, port, ca, timeout: 20000 }, cb)
  return t
}

// call is client.jsonApiCall as a promise of the answer.
function call (client, method, path, params) {
  return new Promise((resolve) => {
    try {
      client.jsonApiCall(method, path, params, resolve)
    } catch (e) { // jsonApiCall throws if the answer is not JSON
      resolve({ stat: 'ERROR', message: String(e) })
    }
  })
}

module.exports = { env, target, call }

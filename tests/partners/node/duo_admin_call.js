#!/usr/bin/env node
// Call a Duo-compatible Admin API with npm @duosecurity/duo_api 1.5.0: one
// signed GET (the hardware tokens) and one signed POST (a new group), each
// with signature v2 (form) and v5 (JSON body).
//
// The target and the patched https.request come from duo_target.js.
//
// Environment:
//   DUO_IKEY, DUO_SKEY   an adminapi integration's keys
//   DUO_HOST, DUO_PORT   host (without port) and port
//   DUO_CA               CA certificate file to trust
//
// Prints one JSON object with every answer. Used by internal/e2e
// (TestAdminTokensGroupsBinary).
'use strict'

const duo = require('@duosecurity/duo_api')
const { target, call } = require('./duo_target')

const { ikey, skey, host } = target()

async function main () {
  const v2 = new duo.Client(ikey, skey, host)
  const v5 = new duo.Client(ikey, skey, host, duo.SIGNATURE_VERSION_5)
  const out = {}
  out.get_tokens = await call(v2, 'GET', '/admin/v1/tokens', { limit: '10' })
  out.create_group = await call(v2, 'POST', '/admin/v1/groups', { name: 'node-group', desc: 'from node', status: 'bypass' })
  out.v5_get_tokens = await call(v5, 'GET', '/admin/v1/tokens', {})
  out.v5_create_group = await call(v5, 'POST', '/admin/v1/groups', { name: 'node-group-v5' })
  process.stdout.write(JSON.stringify(out, null, 1) + '\n')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

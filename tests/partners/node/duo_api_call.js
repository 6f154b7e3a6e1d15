#!/usr/bin/env node
// Drive a Duo-compatible server with npm @duosecurity/duo_api 1.5.0.
//
// The target and the patched https.request come from duo_target.js.
//
// Environment:
//   DUO_IKEY, DUO_SKEY   integration keys
//   DUO_HOST, DUO_PORT   host (without port) and port
//   DUO_CA               CA certificate file to trust
//   DUO_USERNAME         a user with bypass codes
//   DUO_PASSCODES        comma-separated single-use codes: the first for a
//                        sig v2 auth, the second for a sig v5 (JSON) auth
//   DUO_UNKNOWN_USER     a username the server does not know
//
// Prints one JSON object with every answer. Used by internal/e2e (TestNodeDuoAPI).
'use strict'

const duo = require('@duosecurity/duo_api')
const { env, target, call } = require('./duo_target')

const { ikey, skey, host } = target()
const username = env('DUO_USERNAME')
const passcodes = env('DUO_PASSCODES').split(',')
const unknownUser = env('DUO_UNKNOWN_USER')

async function main () {
  const v2 = new duo.Client(ikey, skey, host)
  const v5 = new duo.Client(ikey, skey, host, duo.SIGNATURE_VERSION_5)
  const out = {}
  out.check = await call(v2, 'GET', '/auth/v2/check', {})
  out.preauth = await call(v2, 'POST', '/auth/v2/preauth', { username })
  out.preauth_unknown = await call(v2, 'POST', '/auth/v2/preauth', { username: unknownUser })
  out.auth = await call(v2, 'POST', '/auth/v2/auth', { username, factor: 'passcode', passcode: passcodes[0] })
  out.auth_again = await call(v2, 'POST', '/auth/v2/auth', { username, factor: 'passcode', passcode: passcodes[0] })
  out.auth_push = await call(v2, 'POST', '/auth/v2/auth', { username, factor: 'push', device: 'auto' })
  out.v5_preauth = await call(v5, 'POST', '/auth/v2/preauth', { username })
  out.v5_auth = await call(v5, 'POST', '/auth/v2/auth', { username, factor: 'passcode', passcode: passcodes[1] })
  process.stdout.write(JSON.stringify(out, null, 1) + '\n')
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

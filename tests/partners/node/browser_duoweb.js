#!/usr/bin/env node
// The relying party's half of Duo Web SDK v2 done by npm
// @duosecurity/duo_web 1.0.6 (duo.js): sign_request and verify_response.
// The browser tests (internal/e2e/browser_*_test.go) use it next to
// pkg/duoweb so both implementations sign the login page and both verify
// what the browser posts.
//
//   node browser_duoweb.js sign     env DUO_IKEY DUO_SKEY DUO_AKEY DUO_USERNAME
//     prints {"sig_request": "..."}
//   node browser_duoweb.js verify   env DUO_IKEY DUO_SKEY DUO_AKEY DUO_SIG_RESPONSE
//     prints {"user": "<username>" | null}
'use strict'

const duoWeb = require('@duosecurity/duo_web')

function env (name) {
  const v = process.env[name]
  if (v === undefined) {
    console.error(`browser_duoweb.js: ${name} is not set`)
    process.exit(2)
  }
  return v
}

const ikey = env('DUO_IKEY')
const skey = env('DUO_SKEY')
const akey = env('DUO_AKEY')

switch (process.argv[2]) {
  case 'sign':
    process.stdout.write(JSON.stringify({ sig_request: duoWeb.sign_request(ikey, skey, akey, env('DUO_USERNAME')) }) + '\n')
    break
  case 'verify':
    process.stdout.write(JSON.stringify({ user: duoWeb.verify_response(ikey, skey, akey, env('DUO_SIG_RESPONSE')) }) + '\n')
    break
  default:
    console.error('usage: browser_duoweb.js sign|verify')
    process.exit(2)
}

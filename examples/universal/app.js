#!/usr/bin/env node
// A small web application with a two-step login: a password form, then
// Assent's Universal Prompt, with Duo's official Node.js SDK
// (@duosecurity/duo_universal). It does what every Universal Prompt
// application does:
//
//   1. after the password, healthCheck() and createAuthUrl(username, state):
//      redirect the browser to the prompt (Assent's /oauth/v1/authorize);
//   2. on the redirect back (/duo-callback?state=…&duo_code=…), check the
//      state and exchangeAuthorizationCodeFor2FAResult(duo_code, username);
//      the user is logged in only when that succeeds.
//
// A demonstration: users come from EXAMPLE_USERS, sessions live in memory.
// See README.md.
//
// Environment:
//   DUO_CLIENT_ID, DUO_CLIENT_SECRET  the universal integration's keys
//   DUO_API_HOST                      Assent's api_hostname (host[:port])
//   ASSENT_CA                         Assent's CA certificate (PEM) to trust;
//                                     unset: the system's roots (a public certificate)
//   LISTEN                            address to serve on (default 127.0.0.1:8080; port 0: any)
//   EXAMPLE_USERS                     name:password,… (default alice:correct horse battery staple)
'use strict'

const crypto = require('crypto')
const fs = require('fs')
const http = require('http')
const https = require('https')
const { Client } = require('@duosecurity/duo_universal')

function env (name, fallback) {
  const v = process.env[name]
  if (v === undefined || v === '') {
    if (fallback !== undefined) return fallback
    console.error(`universal example: ${name} is not set (see README.md)`)
    process.exit(2)
  }
  return v
}

const users = new Map(env('EXAMPLE_USERS', 'alice:correct horse battery staple').split(',').map((e) => {
  const i = e.indexOf(':')
  return [e.slice(0, i), e.slice(i + 1)]
}))

// sessions: session id → { username, state, loggedIn }
const sessions = new Map()

function session (req, res) {
  const m = /(?:^|;\s*)sid=([0-9a-f]{32})/.exec(req.headers.cookie || '')
  if (m && sessions.has(m[1])) return sessions.get(m[1])
  const id = crypto.randomBytes(16).toString('hex')
  const s = {}
  sessions.set(id, s)
  res.setHeader('Set-Cookie', `sid=${id}; HttpOnly; SameSite=Lax; Path=/`)
  return s
}

function escapeHTML (s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c])
}

function page (res, status, body) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' })
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Example application</title></head><body>${body}</body></html>`)
}

function loginForm (res, error) {
  page(res, error ? 401 : 200, `<h1>Example application</h1>
${error ? `<p id="login-error" role="alert">${escapeHTML(error)}</p>` : ''}
<form method="post" action="/login">
  <label>Username <input id="username" name="username" autocomplete="username" required></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
  <button id="login-submit" type="submit">Log in</button>
</form>`)
}

function readForm (req) {
  return new Promise((resolve, reject) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d) => {
      body += d
      if (body.length > 10000) reject(new Error('form too large'))
    })
    req.on('end', () => resolve(new URLSearchParams(body)))
    req.on('error', reject)
  })
}

async function handle (client, req, res) {
  const url = new URL(req.url, 'http://x')
  const s = session(req, res)
  if (req.method === 'GET' && url.pathname === '/') {
    if (s.loggedIn) {
      return page(res, 200, `<h1>Welcome</h1><p id="welcome" data-user="${escapeHTML(s.username)}">Logged in as ${escapeHTML(s.username)}, with a second factor from Assent.</p>`)
    }
    return loginForm(res)
  }
  if (req.method === 'POST' && url.pathname === '/login') {
    const form = await readForm(req)
    const username = form.get('username') || ''
    if (!users.has(username) || users.get(username) !== form.get('password')) {
      return loginForm(res, 'Wrong username or password.')
    }
    // The first factor passed: off to the prompt.
    try {
      await client.healthCheck()
    } catch (err) {
      // Assent is unreachable or refuses the keys. A real application
      // decides here whether to fail open or closed; this one fails closed.
      console.error('health check failed:', err.message)
      return loginForm(res, 'The second factor service is unavailable; try again later.')
    }
    s.username = username
    s.state = client.generateState()
    s.loggedIn = false
    res.writeHead(302, { Location: await client.createAuthUrl(username, s.state) })
    return res.end()
  }
  if (req.method === 'GET' && url.pathname === '/duo-callback') {
    const state = url.searchParams.get('state')
    const code = url.searchParams.get('duo_code')
    if (!s.state || state !== s.state || !code) {
      return loginForm(res, 'The login expired or did not start here; log in again.')
    }
    s.state = undefined // single use
    try {
      const token = await client.exchangeAuthorizationCodeFor2FAResult(code, s.username)
      console.error(`login: ${s.username}: ${token.auth_result.result} (${token.auth_context.factor})`)
    } catch (err) {
      console.error('exchange refused:', err.message)
      return loginForm(res, 'The second factor was not confirmed.')
    }
    s.loggedIn = true
    res.writeHead(302, { Location: '/' })
    return res.end()
  }
  page(res, 404, '<p>Not found.</p>')
}

function main () {
  const listen = env('LISTEN', '127.0.0.1:8080')
  const i = listen.lastIndexOf(':')
  const server = http.createServer()
  server.listen(Number(listen.slice(i + 1)), listen.slice(0, i).replace(/^\[|\]$/g, ''), () => {
    const addr = server.address()
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
    const base = `http://${host}:${addr.port}`
    // Assent accepts an http redirect URL on a loopback address; anywhere
    // else the application is served over https and this is its https URL.
    const client = new Client({
      clientId: env('DUO_CLIENT_ID'),
      clientSecret: env('DUO_CLIENT_SECRET'),
      apiHost: env('DUO_API_HOST'),
      redirectUrl: `${base}/duo-callback`
    })
    const ca = env('ASSENT_CA', '')
    if (ca) {
      // The SDK pins Duo's CAs; trust Assent's CA instead.
      client.axios.defaults.httpsAgent = new https.Agent({ ca: fs.readFileSync(ca) })
    }
    client.axios.defaults.timeout = 20000
    server.on('request', (req, res) => {
      handle(client, req, res).catch((err) => {
        console.error(err)
        if (!res.headersSent) page(res, 500, '<p>Internal error.</p>')
      })
    })
    console.log(`Example application on ${base}/`)
  })
  const stop = () => server.close(() => process.exit(0))
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

main()

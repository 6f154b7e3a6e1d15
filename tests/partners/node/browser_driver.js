#!/usr/bin/env node
// Run one browser scenario against Assent's hosted prompt in headless
// Chromium (Debian's /usr/bin/chromium) driven by npm playwright-core, and
// optionally the npm @duosecurity/duo_universal client around it.
//
// Input: the scenario as JSON, from the file named by argv[2] or from the
// environment variable ASSENT_BROWSER_SCENARIO:
//
//   {
//     "name": "push-approved",          // names the screenshot directory
//     "artifacts": "/abs/dir",          // screenshots go to <artifacts>/<name>/NN-<shot>.png
//     "spki": ["base64 sha256", ...],   // certificates Chromium trusts (--ignore-certificate-errors-spki-list)
//     "viewport": {"width": 800, "height": 700},
//     "device": "Pixel 7",              // optional: a playwright device descriptor (phone emulation)
//     "timeoutMs": 15000,               // per step
//     "universal": {                    // optional: @duosecurity/duo_universal clients
//       "host": "localhost:PORT", "ca": "/abs/ca.pem", "redirect": "https://...",
//       "clients": {"good": {"id": "DI...", "secret": "..."}, "bad": {...}}
//     },
//     "steps": [ {"do": "...", ...}, ... ]
//   }
//
// Steps (every step may carry "shot": "<name>" to take a full-page
// screenshot after it, and "frame": "<iframe selector>" to act inside an
// iframe instead of the page):
//   goto        {url} or {urlFrom: <output name>}
//   click       {sel}
//   fill        {sel, value} or {sel, valueFrom}
//   press       {sel, key}          keyboard, e.g. Tab / Enter
//   waitVisible {sel}
//   waitHidden  {sel}
//   waitText    {text}              text appears anywhere in the page/frame
//   waitURL     {pattern}           the page URL matches the regexp
//   read        {sel, as, attr?, match?}  text (or attribute) into outputs[as];
//                                   "match" is a regexp whose first group (or whole match) is kept
//   hook        {url, from, as?}    POST outputs[from] to url (the Go test), wait for 2xx;
//                                   with "as", outputs[as] = the answer's body
//   waitConsole {pattern}           a console message of the page matches the regexp
//   sleep       {ms}
//   offline     {value}             cut (true) or restore (false) the browser's network
//   reload      {}                  reload the page
//   eval        {expr, as}          outputs[as] = the page's value of the expression (awaited)
//   download    {sel, as}           click sel, wait for the download it starts;
//                                   outputs[as] = {name, text} (the file as UTF-8)
//   axe         {as}                outputs[as] = npm axe-core's violations on the page:
//                                   [{id, impact, help, targets}]
//   sw.push     {data}              grants notifications to the page's origin and delivers a
//                                   push message with data to its service worker (CDP
//                                   ServiceWorker.deliverPushMessage), as a push service would
//   webauthn.add   {as, transport?}   a virtual CTAP2 authenticator (Chrome DevTools
//                                   Protocol WebAuthn domain: resident keys, user
//                                   verification, verified); outputs[as] = its id
//   webauthn.creds {from, as}       outputs[as] = the credentials it holds (CDP form)
//   webauthn.remove {from}          removes the authenticator outputs[from]
//   webauthn.rogue {credsFrom, as, transport?}  a new authenticator holding the
//                                   credential IDs of outputs[credsFrom] with fresh
//                                   private keys (a forged key); outputs[as] = its id
//   uni.health     {client, as}                    outputs[as] = {ok, error?, stat?}
//   uni.authURL    {client, username, as}          outputs[as] = the authorize URL, outputs[as+'State'] its state
//   uni.exchange   {client, username, codeFrom?, as}  code from the current page URL's
//                                   duo_code (or outputs[codeFrom]); outputs[as] = {ok, token?|error}
//   uni.callback   {as}             outputs[as] = {duo_code, code, state, url} of the current page URL
//
// Output: one JSON object on stdout:
//   {ok, error?, failedStep?, outputs, url, text, frameText?, shots, console, pageErrors, timings}
// The process exits 0 whenever it printed the result; the Go test judges it.
'use strict'

const fs = require('fs')
const os = require('os')
const path = require('path')
const https = require('https')

const CHROMIUM = process.env.ASSENT_CHROMIUM || '/usr/bin/chromium'

// The flags of test-partners.md §1.6, plus shared memory in /tmp (small
// /dev/shm in containers).
const BASE_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-dev-shm-usage'
]

function readScenario () {
  const src = process.argv[2]
    ? fs.readFileSync(process.argv[2], 'utf8')
    : process.env.ASSENT_BROWSER_SCENARIO
  if (!src) {
    console.error('browser_driver.js: give the scenario file as argv[2] or ASSENT_BROWSER_SCENARIO')
    process.exit(2)
  }
  return JSON.parse(src)
}

function safeName (s) {
  return String(s).replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 80)
}

// universalClients builds one duo_universal Client per configured key pair,
// trusting Assent's local CA instead of the pinned Duo CAs (test-partners.md §4).
function universalClients (cfg) {
  if (!cfg) return {}
  const { Client } = require('@duosecurity/duo_universal')
  const agent = new https.Agent({ ca: fs.readFileSync(cfg.ca) })
  const out = {}
  for (const [name, k] of Object.entries(cfg.clients || {})) {
    const c = new Client({ clientId: k.id, clientSecret: k.secret, apiHost: cfg.host, redirectUrl: cfg.redirect })
    c.axios.defaults.httpsAgent = agent
    out[name] = c
  }
  return out
}

// deviceOptions are the context options of a playwright device descriptor
// (viewport, user agent, scale, touch, mobile), less the browser choice.
function deviceOptions (name) {
  const d = require('playwright-core').devices[name]
  if (!d) throw new Error('unknown device ' + JSON.stringify(name))
  const { defaultBrowserType, ...opts } = d
  return opts
}

function errText (e) {
  if (!e) return ''
  return (e.message || String(e)).split('\n')[0]
}

async function main () {
  const sc = readScenario()
  const result = { ok: false, outputs: {}, shots: [], console: [], pageErrors: [], timings: [] }
  const t0 = Date.now()
  const mark = (what) => result.timings.push(what + ' ' + (Date.now() - t0) + 'ms')
  const timeout = sc.timeoutMs || 15000
  const shotDir = path.join(sc.artifacts || path.join(process.cwd(), 'test-artifacts', 'browser'), safeName(sc.name || 'scenario'))
  fs.rmSync(shotDir, { recursive: true, force: true })
  fs.mkdirSync(shotDir, { recursive: true })
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'assent-chromium-'))
  const clients = universalClients(sc.universal)

  const args = BASE_ARGS.slice()
  if (sc.spki && sc.spki.length) args.push('--ignore-certificate-errors-spki-list=' + sc.spki.join(','))

  const { chromium } = require('playwright-core')
  let ctx
  let shotN = 0
  let page
  let cdp
  // webAuthn returns the page's DevTools session with the virtual
  // authenticator environment enabled (it covers the page's iframes).
  const webAuthn = async () => {
    if (!cdp) {
      cdp = await ctx.newCDPSession(page)
      await cdp.send('WebAuthn.enable', { enableUI: false })
    }
    return cdp
  }
  const addAuthenticator = async (transport) => {
    const c = await webAuthn()
    const r = await c.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2', transport: transport || 'usb', hasResidentKey: true,
        hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true
      }
    })
    return r.authenticatorId
  }
  const shoot = async (name) => {
    shotN++
    const file = path.join(shotDir, String(shotN).padStart(2, '0') + '-' + safeName(name) + '.png')
    await page.screenshot({ path: file, fullPage: true })
    result.shots.push(file)
  }
  try {
    ctx = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args,
      viewport: sc.viewport || { width: 800, height: 700 },
      ...(sc.device ? deviceOptions(sc.device) : {}),
      timeout: 30000
    })
    page = ctx.pages()[0] || await ctx.newPage()
    mark('launched')
    page.setDefaultTimeout(timeout)
    page.on('console', (m) => result.console.push(m.type() + ': ' + m.text()))
    page.on('pageerror', (e) => result.pageErrors.push(errText(e)))

    for (let i = 0; i < (sc.steps || []).length; i++) {
      const st = sc.steps[i]
      result.failedStep = i
      const scope = st.frame ? page.frameLocator(st.frame) : page
      switch (st.do) {
        case 'goto':
          await page.goto(st.urlFrom ? result.outputs[st.urlFrom] : st.url, { waitUntil: 'load' })
          break
        case 'click':
          await scope.locator(st.sel).click()
          break
        case 'fill':
          await scope.locator(st.sel).fill(st.valueFrom ? String(result.outputs[st.valueFrom]) : st.value)
          break
        case 'press':
          await scope.locator(st.sel).press(st.key)
          break
        case 'waitVisible':
          await scope.locator(st.sel).first().waitFor({ state: 'visible' })
          break
        case 'waitHidden':
          await scope.locator(st.sel).first().waitFor({ state: 'hidden' })
          break
        case 'waitText':
          await scope.getByText(st.text).first().waitFor({ state: 'visible' })
          break
        case 'waitURL':
          await page.waitForURL(new RegExp(st.pattern), { waitUntil: 'load' })
          break
        case 'read': {
          const loc = scope.locator(st.sel).first()
          await loc.waitFor({ state: 'attached' })
          let v = st.attr ? await loc.getAttribute(st.attr) : await loc.innerText()
          v = (v || '').trim()
          if (st.match) {
            const m = v.match(new RegExp(st.match))
            if (!m) throw new Error(`read ${st.sel}: ${JSON.stringify(v)} does not match ${st.match}`)
            v = m[1] !== undefined ? m[1] : m[0]
          }
          result.outputs[st.as] = v
          break
        }
        case 'hook': {
          const res = await fetch(st.url, { method: 'POST', body: String(result.outputs[st.from] ?? '') })
          const body = await res.text()
          if (!res.ok) throw new Error(`hook ${st.url}: HTTP ${res.status}: ${body}`)
          if (st.as) result.outputs[st.as] = body
          break
        }
        case 'waitConsole': {
          const re = new RegExp(st.pattern)
          const deadline = Date.now() + timeout
          while (!result.console.some((m) => re.test(m))) {
            if (Date.now() > deadline) throw new Error(`no console message matches ${st.pattern}`)
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
          break
        }
        case 'offline':
          await ctx.setOffline(!!st.value)
          break
        case 'reload':
          await page.reload({ waitUntil: 'load' })
          break
        case 'eval':
          result.outputs[st.as] = await page.evaluate(st.expr)
          break
        case 'download': {
          const [dl] = await Promise.all([page.waitForEvent('download'), scope.locator(st.sel).first().click()])
          const file = await dl.path()
          result.outputs[st.as] = { name: dl.suggestedFilename(), text: fs.readFileSync(file, 'utf8') }
          break
        }
        case 'axe': {
          // npm axe-core, evaluated through the DevTools protocol (which a
          // page's CSP does not restrict), run on the whole page;
          // outputs[as] = [{id, impact, help, targets}] of the violations.
          const src = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8')
          await page.evaluate(src)
          result.outputs[st.as] = await page.evaluate(async () => {
            const r = await window.axe.run(document, { resultTypes: ['violations'] })
            return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }))
          })
          break
        }
        case 'sw.push': {
          const origin = new URL(page.url()).origin
          await ctx.grantPermissions(['notifications'], { origin })
          const c = await ctx.newCDPSession(page)
          const regs = []
          c.on('ServiceWorker.workerRegistrationUpdated', (ev) => regs.push(...ev.registrations))
          await c.send('ServiceWorker.enable')
          const deadline = Date.now() + timeout
          let reg
          while (!(reg = regs.find((r) => !r.isDeleted && r.scopeURL.startsWith(origin)))) {
            if (Date.now() > deadline) throw new Error('no service worker registration for ' + origin)
            await new Promise((resolve) => setTimeout(resolve, 50))
          }
          await c.send('ServiceWorker.deliverPushMessage', { origin, registrationId: reg.registrationId, data: st.data })
          await c.detach()
          break
        }
        case 'sleep':
          await new Promise((resolve) => setTimeout(resolve, st.ms))
          break
        case 'webauthn.add':
          result.outputs[st.as] = await addAuthenticator(st.transport)
          break
        case 'webauthn.creds': {
          const c = await webAuthn()
          const r = await c.send('WebAuthn.getCredentials', { authenticatorId: result.outputs[st.from] })
          result.outputs[st.as] = r.credentials
          break
        }
        case 'webauthn.remove': {
          const c = await webAuthn()
          await c.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: result.outputs[st.from] })
          break
        }
        case 'webauthn.rogue': {
          const id = await addAuthenticator(st.transport)
          const c = await webAuthn()
          const crypto = require('crypto')
          for (const cred of result.outputs[st.credsFrom] || []) {
            const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
            await c.send('WebAuthn.addCredential', {
              authenticatorId: id,
              credential: {
                credentialId: cred.credentialId, rpId: cred.rpId, isResidentCredential: false,
                privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
                signCount: cred.signCount + 1
              }
            })
          }
          result.outputs[st.as] = id
          break
        }
        case 'uni.health':
          try {
            const r = await clients[st.client].healthCheck()
            result.outputs[st.as] = { ok: true, stat: r.stat }
          } catch (e) {
            result.outputs[st.as] = { ok: false, error: errText(e) }
          }
          break
        case 'uni.authURL': {
          const c = clients[st.client]
          const state = c.generateState()
          result.outputs[st.as] = await c.createAuthUrl(st.username, state)
          result.outputs[st.as + 'State'] = state
          break
        }
        case 'uni.callback': {
          const u = new URL(page.url())
          result.outputs[st.as] = {
            url: page.url(),
            duo_code: u.searchParams.get('duo_code'),
            code: u.searchParams.get('code'),
            state: u.searchParams.get('state')
          }
          break
        }
        case 'uni.exchange': {
          const code = st.codeFrom ? result.outputs[st.codeFrom] : new URL(page.url()).searchParams.get('duo_code')
          try {
            const token = await clients[st.client].exchangeAuthorizationCodeFor2FAResult(code, st.username)
            result.outputs[st.as] = { ok: true, token }
          } catch (e) {
            result.outputs[st.as] = { ok: false, error: errText(e) }
          }
          break
        }
        default:
          throw new Error(`unknown step ${JSON.stringify(st.do)}`)
      }
      if (st.shot) await shoot(st.shot)
      mark(st.do)
    }
    delete result.failedStep
    result.ok = true
  } catch (e) {
    result.error = errText(e)
    if (page) {
      try { await shoot('failure') } catch (_) {}
    }
  } finally {
    if (page) {
      result.url = page.url()
      try { result.text = (await page.locator('body').innerText({ timeout: 2000 })).slice(0, 4000) } catch (_) {}
      for (const f of page.frames()) {
        if (f === page.mainFrame()) continue
        try {
          result.frameText = (await f.locator('body').innerText({ timeout: 2000 })).slice(0, 4000)
        } catch (_) {}
      }
    }
    if (ctx) await ctx.close().catch(() => {})
    fs.rmSync(userDataDir, { recursive: true, force: true })
    mark('closed')
  }
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e)
  process.exit(1)
})

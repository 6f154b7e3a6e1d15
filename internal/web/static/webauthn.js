// Assent prompt: security keys and passkeys (WebAuthn). The server puts
// the options for navigator.credentials.get (data-webauthn-get) or
// .create (data-webauthn-create) on the form as JSON, with binary members
// in base64url; this script turns them into ArrayBuffers, asks the
// browser, and posts the answer (JSON, base64url) in the form's
// "response" field. Plain JS, no inline script (strict CSP).
(function () {
  "use strict";
  var main = document.getElementById("prompt");
  if (!main) { return; }
  var status = document.getElementById("status");

  function say(text, kind) {
    if (!status) { return; }
    status.textContent = text;
    status.className = "msg " + (kind || "info");
  }

  function dec(s) {
    s = String(s).replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function enc(buf) {
    var b = new Uint8Array(buf), s = "";
    for (var i = 0; i < b.length; i++) { s += String.fromCharCode(b[i]); }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function ids(list) {
    for (var i = 0; list && i < list.length; i++) { list[i].id = dec(list[i].id); }
  }

  // answer serializes a PublicKeyCredential as WebAuthn's JSON forms
  // (RegistrationResponseJSON / AuthenticationResponseJSON).
  function answer(c) {
    var r = c.response;
    var o = { id: c.id, rawId: enc(c.rawId), type: c.type, response: { clientDataJSON: enc(r.clientDataJSON) },
      clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {} };
    if (c.authenticatorAttachment) { o.authenticatorAttachment = c.authenticatorAttachment; }
    if (r.attestationObject) {
      o.response.attestationObject = enc(r.attestationObject);
      if (r.getTransports) { o.response.transports = r.getTransports(); }
    }
    if (r.signature) {
      o.response.authenticatorData = enc(r.authenticatorData);
      o.response.signature = enc(r.signature);
      if (r.userHandle) { o.response.userHandle = enc(r.userHandle); }
    }
    return JSON.stringify(o);
  }

  function failed(e) {
    if (e && e.name === "NotAllowedError") {
      say("The security key did not answer, is not registered for this account, or the request was cancelled. Try again.", "error");
    } else if (e && e.name === "InvalidStateError") {
      say("This security key is already registered.", "error");
    } else {
      say("Your browser could not use the security key" + (e && e.message ? ": " + e.message : ".") , "error");
    }
  }

  function wire(form, attr, button, call) {
    var raw = form && form.getAttribute(attr);
    var b = document.getElementById(button);
    if (!raw || !b) { return; }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      b.disabled = true;
      say("This browser cannot use security keys or passkeys here.", "error");
      return;
    }
    var busy = false;
    b.addEventListener("click", function () {
      if (busy) { return; }
      busy = true;
      b.disabled = true;
      b.setAttribute("aria-busy", "true");
      say("Touch your security key, or confirm on your device…", "info");
      var opts;
      try { opts = JSON.parse(raw); } catch (e) { failed(e); busy = false; b.disabled = false; return; }
      call(opts).then(function (c) {
        form.querySelector("input[name=response]").value = answer(c);
        form.submit();
      }, function (e) {
        failed(e);
        busy = false;
        b.disabled = false;
        b.removeAttribute("aria-busy");
      });
    });
  }

  wire(document.getElementById("webauthn-form"), "data-webauthn-get", "webauthn-button", function (o) {
    o.challenge = dec(o.challenge);
    ids(o.allowCredentials);
    return navigator.credentials.get({ publicKey: o });
  });
  wire(document.getElementById("webauthn-create-form"), "data-webauthn-create", "webauthn-create-button", function (o) {
    o.challenge = dec(o.challenge);
    o.user.id = dec(o.user.id);
    ids(o.excludeCredentials);
    return navigator.credentials.create({ publicKey: o });
  });

  // The method used last time is preselected.
  var pre = main.querySelectorAll("[data-preselected]");
  if (pre.length && !main.querySelector(".msg.error")) { pre[pre.length - 1].focus(); }
})();

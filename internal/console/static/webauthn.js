// Assent console: security keys and passkeys (WebAuthn) for
// administrators. A form carries the options for
// navigator.credentials.create (data-webauthn-create) or .get
// (data-webauthn-get) as JSON, binary members in base64url; its button
// (data-webauthn) asks the browser and posts the answer (JSON, base64url)
// in the form's "response" field. Plain JS, no inline script (strict CSP).
(function () {
  "use strict";

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

  function wire(form) {
    var create = form.hasAttribute("data-webauthn-create");
    var raw = form.getAttribute(create ? "data-webauthn-create" : "data-webauthn-get");
    var b = form.querySelector("button[data-webauthn]");
    var status = form.querySelector(".webauthn-status");
    function say(text, kind) {
      if (!status) { return; }
      status.hidden = false;
      status.textContent = text;
      status.className = "msg webauthn-status " + (kind || "");
    }
    if (!raw || !b) { return; }
    if (!window.PublicKeyCredential || !navigator.credentials) {
      b.disabled = true;
      say("This browser cannot use security keys or passkeys here.", "error");
      return;
    }
    var busy = false;
    b.addEventListener("click", function () {
      if (busy || !form.reportValidity()) { return; }
      var o;
      try { o = JSON.parse(raw); } catch (e) { say("The page is damaged; reload it.", "error"); return; }
      busy = true;
      b.disabled = true;
      say("Touch your security key, or confirm on your device…");
      o.challenge = dec(o.challenge);
      var p;
      if (create) {
        o.user.id = dec(o.user.id);
        ids(o.excludeCredentials);
        p = navigator.credentials.create({ publicKey: o });
      } else {
        ids(o.allowCredentials);
        p = navigator.credentials.get({ publicKey: o });
      }
      p.then(function (c) {
        form.querySelector("input[name=response]").value = answer(c);
        form.submit();
      }, function (e) {
        if (e && e.name === "NotAllowedError") {
          say("The security key did not answer, is not registered, or the request was cancelled. Try again.", "error");
        } else if (e && e.name === "InvalidStateError") {
          say("This security key is registered already.", "error");
        } else {
          say("Your browser could not use the security key" + (e && e.message ? ": " + e.message : "."), "error");
        }
        busy = false;
        b.disabled = false;
      });
    });
  }

  var forms = document.querySelectorAll("form[data-webauthn-create], form[data-webauthn-get]");
  for (var i = 0; i < forms.length; i++) { wire(forms[i]); }
})();

// Assent prompt: live push and enrollment status, and the Web SDK v2
// postMessage to the parent page. Plain JS, no inline script (strict CSP).
(function () {
  "use strict";
  var main = document.getElementById("prompt");
  if (!main) { return; }
  var state = main.getAttribute("data-state");
  var status = document.getElementById("status");

  function say(text, kind) {
    if (!status || !text) { return; }
    status.textContent = text;
    status.className = "msg " + (kind || "info");
  }

  // One submission per form: a double click must not send two pushes.
  var forms = document.querySelectorAll("form");
  for (var i = 0; i < forms.length; i++) {
    forms[i].addEventListener("submit", function (ev) {
      var f = ev.currentTarget;
      if (f.getAttribute("data-sent")) { ev.preventDefault(); return; }
      f.setAttribute("data-sent", "1");
      var b = f.querySelector("button[type=submit]");
      if (b) { b.disabled = true; b.setAttribute("aria-busy", "true"); }
    });
  }

  // poll posts the prompt session to url until done(json) returns true,
  // then submits the form with id next (the server decides what follows).
  function poll(url, next, done) {
    var form = document.getElementById(next);
    if (!form || !window.fetch || !window.URLSearchParams) { return; }
    var session = form.querySelector("input[name=session]").value;
    var failures = 0;
    function once() {
      // URL-encoded, as the forms post: the server reads r.PostForm
      // (FormData would send multipart/form-data).
      var body = new URLSearchParams();
      body.append("session", session);
      fetch(url, { method: "POST", body: body, credentials: "same-origin", cache: "no-store" })
        .then(function (r) {
          // Errors come as JSON too ({"state":"error"}); anything else
          // (a proxy's error page) is retried, as is 429 (the server
          // holds too many requests), with a growing pause.
          if (r.status === 429 || (!r.ok && (r.headers.get("Content-Type") || "").indexOf("application/json") !== 0)) {
            throw new Error("HTTP " + r.status);
          }
          return r.json();
        })
        .then(function (j) {
          failures = 0;
          if (j.message) { say(j.message, j.kind); }
          // A refused poll (expired prompt) stops here, its message shown;
          // submitting could loop between two pages.
          if (j.state === "error") { return; }
          if (done(j)) { form.submit(); return; }
          setTimeout(once, 0);
        })
        .catch(function () {
          failures++;
          setTimeout(once, Math.min(1000 * failures, 5000));
        });
    }
    once();
  }

  if (state === "pushed") {
    // The server holds each request until the push is answered (long poll).
    poll("/prompt/status", "check-form", function (j) { return j.state !== "waiting"; });
  } else if (state === "enroll-qr") {
    poll("/prompt/enroll_status", "enrolled-form", function (j) { return j.state !== "waiting"; });
  } else if (state === "choose") {
    var pc = document.getElementById("passcode");
    if (pc && main.querySelector(".msg.error") && !main.querySelector("#push-button")) { pc.focus(); }
  } else if (state === "totp-add") {
    // After a wrong first code, the field is ready for the next one.
    var tc = document.getElementById("totp-code");
    if (tc && main.querySelector(".msg.error")) { tc.focus(); }
  }

  // Web SDK v2: hand AUTH|… or ERR|… to Duo-Web-v2.js in the parent page,
  // only to the parent's origin.
  var msg = main.getAttribute("data-parent-message");
  var origin = main.getAttribute("data-parent-origin");
  if (msg && origin && window.parent && window.parent !== window) {
    window.parent.postMessage(msg, origin);
  }
})();

// Passkeys: navigator.credentials is JavaScript's, so this carries the
// server's options to the authenticator and its answer back, as JSON, with
// the binary fields in base64url. Without it (or without WebAuthn) the
// passkey buttons stay hidden and every other form works.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;
  document.querySelectorAll("[data-passkey-block]").forEach(function (el) { el.hidden = false; });

  function decode(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    return Uint8Array.from(atob(s), function (c) { return c.charCodeAt(0); });
  }
  function encode(buf) {
    var s = "";
    new Uint8Array(buf).forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok || (!data.publicKey && !data.redirect)) throw new Error(data.message || "Something went wrong. Sign in again, and try again.");
        return data;
      });
    });
  }
  function ids(list) {
    (list || []).forEach(function (c) { c.id = decode(c.id); });
  }
  function register(block) {
    var name = block.querySelector("[name=passkey_name]");
    return post("/account/passkeys/options").then(function (o) {
      var pk = o.publicKey;
      pk.challenge = decode(pk.challenge);
      pk.user.id = decode(pk.user.id);
      ids(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post("/account/passkeys", {
        name: name ? name.value : "",
        credential: {
          id: cred.id, rawId: encode(cred.rawId), type: cred.type,
          authenticatorAttachment: cred.authenticatorAttachment || undefined,
          clientExtensionResults: cred.getClientExtensionResults(),
          response: {
            clientDataJSON: encode(r.clientDataJSON), attestationObject: encode(r.attestationObject),
            transports: r.getTransports ? r.getTransports() : []
          }
        }
      });
    });
  }
  function signIn() {
    return post("/login/passkey/options").then(function (o) {
      var pk = o.publicKey;
      pk.challenge = decode(pk.challenge);
      ids(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk });
    }).then(function (cred) {
      var r = cred.response;
      return post("/login/passkey", {
        id: cred.id, rawId: encode(cred.rawId), type: cred.type,
        authenticatorAttachment: cred.authenticatorAttachment || undefined,
        clientExtensionResults: cred.getClientExtensionResults(),
        response: {
          clientDataJSON: encode(r.clientDataJSON), authenticatorData: encode(r.authenticatorData),
          signature: encode(r.signature), userHandle: r.userHandle ? encode(r.userHandle) : undefined
        }
      });
    });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest("[data-passkey]");
    if (!button) return;
    var block = button.closest("[data-passkey-block]");
    var message = block.querySelector("[data-passkey-message]");
    message.hidden = true;
    message.classList.remove("error");
    button.disabled = true;
    var run = button.getAttribute("data-passkey") === "register" ? register(block) : signIn();
    run.then(function (done) { location.assign(done.redirect); }, function (err) {
      button.disabled = false;
      message.textContent = err && err.name === "NotAllowedError"
        ? "No passkey was used: the request was canceled or timed out."
        : (err && err.name === "InvalidStateError" ? "This passkey is registered already." : err.message);
      message.classList.add("error");
      message.hidden = false;
    });
  });
})();

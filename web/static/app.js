// The dashboard's script for copy buttons and confirmations (passkeys.js
// talks to authenticators). Every page works without it.
"use strict";
document.addEventListener("click", function (e) {
  var button = e.target.closest("[data-copy]");
  if (!button) return;
  var id = button.getAttribute("data-copy");
  var field = document.getElementById(id);
  var status = document.querySelector('[data-copy-status="' + id + '"]');
  if (!field) return;
  var done = function (ok) {
    if (status) status.textContent = ok ? "Copied to the clipboard." : "Select the text and copy it.";
    if (ok) { button.textContent = "Copied"; setTimeout(function () { button.textContent = "Copy"; }, 2000); }
  };
  field.focus();
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () { done(true); }, function () { done(document.execCommand("copy")); });
  } else {
    done(document.execCommand("copy"));
  }
});
document.addEventListener("submit", function (e) {
  var message = e.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) e.preventDefault();
});
// A secret shown once (data-secret-once) leaves no copy in the browser's
// back/forward cache: its fields are emptied when the page is left, and a
// page brought back from that cache asks the server again, which answers
// that the secret was shown once.
window.addEventListener("pagehide", function () {
  document.querySelectorAll("[data-secret-once] .secret").forEach(function (field) { field.value = ""; });
});
window.addEventListener("pageshow", function (e) {
  if (e.persisted && document.querySelector("[data-secret-once]")) window.location.reload();
});

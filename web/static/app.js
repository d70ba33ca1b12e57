// The dashboard's script: copy buttons, confirmations, focus, local times
// (passkeys.js talks to authenticators). Every page works without it.
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
  // Focus stays on the button: a secret field that took it would be read
  // aloud by a screen reader. Copying by selection is the fallback.
  var bySelection = function () {
    field.select();
    var ok = document.execCommand("copy");
    button.focus();
    done(ok);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () { done(true); }, bySelection);
  } else {
    bySelection();
  }
});
// Enter on a checkbox (a permission, a role, an event) does not submit
// its form half filled; Space still ticks it.
var noEnter = function (e) {
  if (e.key === "Enter" && e.target.matches && e.target.matches('input[type="checkbox"], input[type="radio"]')) e.preventDefault();
};
document.addEventListener("keydown", noEnter);
document.addEventListener("keypress", noEnter);
// Permission presets: shown only with this script, they tick the preset's
// boxes of their form and untick the others.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-presets]").forEach(function (el) { el.hidden = false; });
});
document.addEventListener("click", function (e) {
  var button = e.target.closest("[data-apply-preset]");
  if (!button) return;
  var select = document.getElementById(button.getAttribute("data-apply-preset"));
  if (!select || !select.value) return;
  var names = select.value.split(" ");
  button.form.querySelectorAll('input[type="checkbox"][name="permissions"]').forEach(function (box) {
    box.checked = names.indexOf(box.value) >= 0;
  });
  var status = button.form.querySelector("[data-preset-status]");
  if (status) status.textContent = "Applied: " + select.options[select.selectedIndex].text + ".";
});
// A page answering a form with errors moves focus to the first of them:
// an invalid field, or the message that says what went wrong.
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector('main [aria-invalid="true"], main .field.invalid input:not([type="hidden"]), main .alert.error');
  if (!first) return;
  if (first.tabIndex < 0 && !first.hasAttribute("tabindex")) first.setAttribute("tabindex", "-1");
  first.focus();
});
// Times show in the viewer's own time zone; the UTC time the server wrote
// stays in the title, shown on hover, and is what a page without this
// script shows.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var t = new Date(el.getAttribute("datetime"));
    if (isNaN(t)) return;
    var kind = el.getAttribute("data-local");
    var opts = kind === "day" ? { year: "numeric", month: "short", day: "numeric" } :
      kind === "clock" ? { hour: "2-digit", minute: "2-digit", timeZoneName: "short" } :
      { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
    el.textContent = t.toLocaleString(undefined, opts);
  });
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

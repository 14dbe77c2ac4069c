// teaminbox web inbox: optional enhancements. Every page works without
// this file; with it, new conversations and messages appear without a
// reload, and the keyboard works the list: j/k move, o or Enter opens,
// r replies, e closes. No inline script anywhere: the pages' policy only
// allows this file.
(function () {
  "use strict";

  var POLL_MS = 10000;

  // Keys typed into a form field are the agent's text, not commands.
  function typing(event) {
    var t = event.target;
    return event.ctrlKey || event.metaKey || event.altKey ||
      (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT|BUTTON)$/.test(t.tagName)));
  }

  // Fetches this page again and hands the fresh document to `apply`.
  function poll(apply) {
    window.setInterval(function () {
      if (document.hidden) return;
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (r) { return r.ok && !r.redirected ? r.text() : null; })
        .then(function (html) {
          if (html) apply(new DOMParser().parseFromString(html, "text/html"));
        })
        .catch(function () { /* offline for now: the next poll retries */ });
    }, POLL_MS);
  }

  // Replaces the element `selector` with its fresh version, if it changed.
  function swap(fresh, selector) {
    var now = document.querySelector(selector);
    var next = fresh.querySelector(selector);
    if (!now || !next || now.outerHTML === next.outerHTML) return false;
    now.replaceWith(document.importNode(next, true));
    return true;
  }

  // --- The conversation list -------------------------------------------
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#rows tbody tr"));
  }

  function selected() {
    return document.querySelector("#rows tbody tr.selected");
  }

  function select(row) {
    var old = selected();
    if (old) old.classList.remove("selected");
    if (!row) return;
    row.classList.add("selected");
    row.scrollIntoView({ block: "nearest" });
    try { window.sessionStorage.setItem("teaminbox-selected", row.dataset.id); } catch (e) { /* private mode */ }
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var at = all.indexOf(selected());
    var next = at < 0 ? 0 : Math.min(all.length - 1, Math.max(0, at + step));
    select(all[next]);
  }

  function restoreSelection() {
    var id = null;
    try { id = window.sessionStorage.getItem("teaminbox-selected"); } catch (e) { /* private mode */ }
    var row = id && document.querySelector('#rows tbody tr[data-id="' + id + '"]');
    if (row) select(row);
  }

  function listPage() {
    restoreSelection();
    poll(function (fresh) {
      swap(fresh, "ul.filters");
      var id = selected() && selected().dataset.id;
      if (swap(fresh, "#rows") && id) {
        var row = document.querySelector('#rows tbody tr[data-id="' + id + '"]');
        if (row) row.classList.add("selected");
      }
    });
    document.addEventListener("keydown", function (event) {
      if (typing(event)) return;
      if (event.key === "j") { move(1); event.preventDefault(); }
      else if (event.key === "k") { move(-1); event.preventDefault(); }
      else if (event.key === "o" || event.key === "Enter") {
        var row = selected();
        var link = row && row.querySelector("a");
        if (link) { link.click(); event.preventDefault(); }
      }
    });
  }

  // --- One conversation ---------------------------------------------------
  function conversationPage() {
    poll(function (fresh) {
      // Only new messages are swapped in: the reply form keeps the draft,
      // and its "seen" stays as it was, so sending still tells the agent
      // what arrived meanwhile.
      var now = document.querySelector("#messages");
      var next = fresh.querySelector("#messages");
      if (now && next && now.dataset.newest !== next.dataset.newest) {
        now.replaceWith(document.importNode(next, true));
        var banner = document.querySelector("#arrived");
        if (banner) banner.hidden = false;
      }
      swap(fresh, ".facts");
    });
    document.addEventListener("keydown", function (event) {
      if (typing(event)) return;
      if (event.key === "r") {
        var body = document.querySelector("#reply-body");
        if (body) { body.focus(); event.preventDefault(); }
      } else if (event.key === "e") {
        var close = document.querySelector("#close");
        if (close) { close.click(); event.preventDefault(); }
      } else if (event.key === "u") {
        var inbox = document.querySelector("nav a[href='/']");
        if (inbox) { inbox.click(); event.preventDefault(); }
      }
    });
  }

  // --- Settings: connect a channel -------------------------------------
  // Copy buttons copy the text of the element they name.
  function copyButtons() {
    Array.prototype.forEach.call(document.querySelectorAll("button[data-copy]"), function (button) {
      var source = document.querySelector(button.dataset.copy);
      if (!source || !navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  }

  // The signature's simple editor: bold, italic, a link, an image by URL,
  // a line break, and the "Insert token" menu, at the cursor (or around
  // the selected text). The server checks the HTML as it checks a file.
  function tokenMenu() {
    var menu = document.querySelector(".token-menu");
    var field = document.querySelector("#signature");
    if (!menu || !field) return;
    menu.hidden = false;
    function attribute(text) {
      return text.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
    }
    function put(before, after) {
      var start = field.selectionStart, end = field.selectionEnd;
      var selected = field.value.slice(start, end);
      field.value = field.value.slice(0, start) + before + selected + after + field.value.slice(end);
      field.focus();
      field.selectionStart = start + before.length;
      field.selectionEnd = start + before.length + selected.length;
    }
    menu.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button) return;
      var data = button.dataset, url;
      if (data.token) put(data.token, "");
      else if (data.wrap) put("<" + data.wrap + ">", "</" + data.wrap + ">");
      else if (data.ask === "link" && (url = window.prompt("Link address (https://… or mailto:…)"))) {
        put('<a href="' + attribute(url) + '">', "</a>");
      } else if (data.ask === "image" && (url = window.prompt("Image address (https://…)"))) {
        put('<img src="' + attribute(url) + '" alt="">', "");
      }
    });
  }

  // A search field over a multi-select shows only the options that match
  // (chosen ones stay chosen).
  function selectFilters() {
    Array.prototype.forEach.call(document.querySelectorAll("input[data-filter]"), function (input) {
      var select = document.querySelector(input.dataset.filter);
      if (!select) return;
      input.hidden = false;
      input.addEventListener("input", function () {
        var wanted = input.value.trim().toLowerCase();
        Array.prototype.forEach.call(select.options, function (option) {
          option.hidden = wanted !== "" && option.textContent.toLowerCase().indexOf(wanted) < 0;
        });
      });
    });
  }

  // The preview follows the form as the admin types (the server renders
  // it, unsaved, with the reply composer's own code).
  function livePreview() {
    var form = document.querySelector("#replies-form[data-preview]");
    if (!form) return;
    var timer = null;
    function refresh() {
      fetch(form.dataset.preview, {
        method: "POST",
        credentials: "same-origin",
        body: new URLSearchParams(new FormData(form))
      })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html) swap(new DOMParser().parseFromString(html, "text/html"), "#preview");
        })
        .catch(function () { /* the saved preview stays */ });
    }
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    form.addEventListener("click", function (event) {
      if (event.target.closest(".token-menu button")) later();
    });
  }

  // The provider's confirmation code appears without a reload.
  function forwardingPage() {
    poll(function (fresh) { swap(fresh, "#confirmation"); });
  }

  copyButtons();
  tokenMenu();
  livePreview();
  selectFilters();
  if (document.querySelector("#confirmation")) forwardingPage();
  if (document.querySelector("#rows")) listPage();
  if (document.querySelector("#messages")) conversationPage();
})();

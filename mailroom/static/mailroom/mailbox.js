/* The mailbox page keeps its status and import progress current while it is open: it polls
   the mailbox's progress endpoint every 2 s (while the tab is visible) and updates the page in
   place. Without JavaScript the page is complete as served; it just does not change. */
(function () {
  "use strict";

  var INTERVAL = 2000;

  function setText(root, selector, value) {
    root.querySelectorAll(selector).forEach(function (el) { el.textContent = value; });
  }

  function render(health, data) {
    Object.keys(data).forEach(function (key) {
      if (typeof data[key] === "string") {
        setText(document, '[data-field="' + key + '"]', data[key]);
      }
    });
    document.querySelectorAll("[data-status-badge]").forEach(function (badge) {
      badge.className = "badge " + data.status;
    });
    var error = health.querySelector('[data-field="error"]');
    if (error) { error.classList.toggle("problem", data.error !== "none"); }

    var box = document.getElementById("import");
    var bar = document.getElementById("import-progress");
    if (box && bar) {
      // The bar counts the messages fetched since the page opened against the most there were
      // to fetch: with a history cut-off most of the server's old mail is skipped, not stored,
      // so "stored / (stored + left)" alone would stand still until the very end.
      var seen = Math.max(Number(bar.dataset.seen || bar.max || 0), data.imported + data.backlog);
      bar.dataset.seen = String(seen);
      bar.max = Math.max(seen, 1);
      bar.value = seen - data.backlog;
      bar.textContent = Math.round((100 * bar.value) / bar.max) + "%";
      box.hidden = !data.importing;
    }

    data.folders.forEach(function (folder) {
      var row = document.querySelector('tr[data-folder="' + folder.id + '"]');
      if (!row) { return; }
      ["imported", "state", "last_synced", "last_error"].forEach(function (cell) {
        var td = row.querySelector('[data-cell="' + cell + '"]');
        if (td && !(cell === "state" && folder.missing)) { td.textContent = folder[cell]; }
      });
    });
  }

  function start(health) {
    var url = health.dataset.progressUrl;
    var timer = null;

    function schedule(delay) {
      if (timer === null) { timer = window.setTimeout(poll, delay); }
    }

    function poll() {
      timer = null;
      if (document.visibilityState === "hidden") { return; } // resumed when visible again
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.json();
        })
        .then(function (data) { render(health, data); schedule(INTERVAL); })
        .catch(function () { schedule(5 * INTERVAL); }); // a restart or a lost network
    }

    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") { schedule(0); }
    });
    schedule(INTERVAL);
  }

  document.querySelectorAll("[data-progress-url]").forEach(start);
})();

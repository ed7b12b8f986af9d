/* The rule editor and the template editor: condition rows and language rows added ("+ Add") and removed ("x") without
   a page reload, the response's parts shown for the choice made, and placeholders inserted
   where the cursor is. Without JavaScript the same buttons work by posting the form: "+ Add"
   returns the page with one more row, and a ticked "x" removes its row when the rule is saved. */
(function () {
  "use strict";

  var NO_VALUE = ["is_empty", "not_empty"];

  function addRow(prefix, container, template) {
    var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
    var index = Number(total.value);
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html.trim();
    var row = holder.firstElementChild;
    container.appendChild(row);
    total.value = String(index + 1);
    wireRow(row);
    wirePreview(row);
    var first = row.querySelector("select, input:not([type=checkbox]), textarea");
    if (first) { first.focus(); }
    return row;
  }

  function wireRow(row) {
    var remove = row.querySelector(".remove input[type=checkbox]");
    if (remove) {
      remove.addEventListener("change", function () { row.hidden = remove.checked; });
      row.hidden = remove.checked;
    }
    var operator = row.querySelector("select[name$='-operator']");
    var value = row.querySelector("textarea[name$='-value']");
    if (operator && value) {
      var update = function () {
        var none = NO_VALUE.indexOf(operator.value) >= 0;
        value.hidden = none;
        value.disabled = none;
      };
      operator.addEventListener("change", update);
      update();
    }
  }

  function wireAdd(buttonId, prefix, containerId, templateId, tabs) {
    var button = document.getElementById(buttonId);
    var container = document.getElementById(containerId);
    var template = document.getElementById(templateId);
    if (!button || !container || !template) { return; }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var row = addRow(prefix, container, template);
      if (tabs) {
        container.querySelectorAll("[data-row]").forEach(function (other) {
          other.classList.toggle("tab-hidden", other !== row);
        });
        tabs.refresh();
        // A new language: its code is what to type first.
        var language = row.querySelector("input[name$='-language']");
        if (language) { language.focus(); }
      }
    });
  }

  function wireResponse() {
    var radios = document.querySelectorAll("input[name='response']");
    var update = function () {
      var chosen = document.querySelector("input[name='response']:checked");
      var value = chosen ? chosen.value : "inline";
      document.querySelectorAll("[data-response]").forEach(function (part) {
        part.hidden = part.dataset.response !== value;
      });
    };
    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  }

  function wirePlaceholders() {
    var target = null;
    document.addEventListener("focusin", function (event) {
      var el = event.target;
      if (el.matches && el.matches("#text-rows input[name$='-subject'], #text-rows textarea")) {
        target = el;
      }
    });
    document.querySelectorAll("button.placeholder").forEach(function (button) {
      button.addEventListener("click", function () {
        var field = target || document.querySelector("#text-rows textarea");
        if (!field) { return; }
        var text = "{{ " + button.dataset.placeholder + " }}";
        var start = field.selectionStart || 0;
        var end = field.selectionEnd || 0;
        field.value = field.value.slice(0, start) + text + field.value.slice(end);
        field.focus();
        field.selectionStart = field.selectionEnd = start + text.length;
        field.dispatchEvent(new Event("input", { bubbles: true }));
      });
    });
  }

  /* Each text row shows its subject and body rendered with sample values, as the server
     renders an answer (HTML cleaned; shown in a sandboxed frame that runs no script). */
  function wirePreview(row) {
    var config = document.getElementById("preview-config");
    var box = row.querySelector("[data-preview]");
    if (!config || !box) { return; }
    var form = row.closest("form");
    var timer = null;
    var refresh = function () {
      var subject = row.querySelector("input[name$='-subject']");
      var body = row.querySelector("textarea[name$='-body']");
      var type = form.querySelector("select[name='type']");
      if (!subject || !body) { return; }
      var data = new FormData();
      data.append("csrfmiddlewaretoken", form.querySelector("[name=csrfmiddlewaretoken]").value);
      data.append("subject", subject.value);
      data.append("body", body.value);
      data.append("type", type ? type.value : "text");
      data.append("mailbox", config.dataset.mailbox || "");
      fetch(config.dataset.url, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (preview) {
          if (!preview) { return; }
          box.hidden = false;
          box.querySelector(".preview-subject").textContent = preview.subject;
          var text = box.querySelector(".preview-text");
          var frame = box.querySelector(".preview-html");
          frame.hidden = !preview.html;
          text.hidden = !!preview.html;
          if (preview.html) { frame.srcdoc = preview.html; } else { text.textContent = preview.text; }
        });
    };
    var later = function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    };
    row.addEventListener("input", later);
    var type = form.querySelector("select[name='type']");
    if (type) { type.addEventListener("change", later); }
    refresh();
  }

  /* The texts as tabs, one per language (a row removed with "x" loses its tab). */
  function wireTabs() {
    var rows = document.getElementById("text-rows");
    if (!rows) { return null; }
    var bar = document.createElement("div");
    bar.className = "tabs";
    bar.setAttribute("role", "tablist");
    bar.setAttribute("aria-label", "Languages");
    rows.parentNode.insertBefore(bar, rows);
    var select = function (row) {
      rows.querySelectorAll("[data-row]").forEach(function (other) {
        other.classList.toggle("tab-hidden", other !== row);
      });
      bar.querySelectorAll("button").forEach(function (button) {
        button.setAttribute("aria-selected", String(button.tabRow === row));
      });
    };
    var label = function (row) {
      var language = row.querySelector("input[name$='-language']");
      var subject = row.querySelector("input[name$='-subject']");
      var name = (language && language.value) || "new language";
      return name + (subject && subject.value ? "" : " (empty)");
    };
    var refresh = function () {
      bar.innerHTML = "";
      var chosen = null;
      rows.querySelectorAll("[data-row]").forEach(function (row) {
        if (row.hidden) { return; }
        var button = document.createElement("button");
        button.type = "button";
        button.setAttribute("role", "tab");
        button.tabRow = row;
        button.textContent = label(row);
        button.addEventListener("click", function () { select(row); });
        bar.appendChild(button);
        if (!row.classList.contains("tab-hidden") && chosen === null) { chosen = row; }
      });
      var first = bar.querySelector("button");
      var invalid = rows.querySelector("[data-row].invalid");
      select(chosen || (invalid && !invalid.hidden ? invalid : first && first.tabRow));
    };
    rows.addEventListener("change", refresh);
    rows.querySelectorAll("[data-row]").forEach(function (row, index) {
      row.classList.toggle("tab-hidden", index > 0);
    });
    var invalid = rows.querySelector("[data-row].invalid");
    if (invalid) {
      rows.querySelectorAll("[data-row]").forEach(function (row) {
        row.classList.toggle("tab-hidden", row !== invalid);
      });
    }
    refresh();
    return { refresh: refresh, select: select };
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("form.response-form")) { return; }
    document.querySelectorAll("[data-row]").forEach(wireRow);
    document.querySelectorAll("#text-rows [data-row]").forEach(wirePreview);
    wireAdd("add-condition", "conditions", "condition-rows", "condition-template");
    var tabs = wireTabs();
    wireAdd("add-language", "texts", "text-rows", "text-template", tabs);
    wireResponse();
    wirePlaceholders();
  });
})();

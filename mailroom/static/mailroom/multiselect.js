/* Searchable multi-selects, as progressive enhancement.
 *
 * Every <select multiple data-searchable> becomes a filter box over a list of checkboxes, one
 * per option, kept in step with the select (which stays in the form, hidden, and is what is
 * submitted). Checkboxes are reached with Tab and ticked with Space; typing in the filter box
 * hides the options that do not contain the text, and Enter there never submits the form.
 * Without script the plain multiple select works as before.
 */
(function () {
  "use strict";

  function fold(text) {
    return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }

  function enhance(select, index) {
    if (select.dataset.enhanced) return;
    select.dataset.enhanced = "1";
    var base = select.id || "multiselect-" + index;
    var label = select.id ? document.querySelector('label[for="' + select.id + '"]') : null;
    var name = label ? label.textContent.trim() : "options";

    var box = document.createElement("div");
    box.className = "multiselect";

    var filter = document.createElement("input");
    filter.type = "search";
    filter.id = base + "-filter";
    filter.className = "multiselect-filter";
    filter.placeholder = "Search " + name.toLowerCase() + "…";
    filter.setAttribute("autocomplete", "off");
    filter.setAttribute("aria-controls", base + "-options");
    filter.style.width = "100%";
    filter.style.padding = "7px 9px";
    filter.style.border = "1px solid #d9dde5";
    filter.style.borderRadius = "6px";
    filter.style.font = "inherit";
    if (label) label.htmlFor = filter.id;

    var list = document.createElement("div");
    list.id = base + "-options";
    list.className = "multiselect-options";
    list.setAttribute("role", "group");
    list.setAttribute("aria-label", name);
    list.style.maxHeight = "14em";
    list.style.overflowY = "auto";
    list.style.border = "1px solid #d9dde5";
    list.style.borderRadius = "6px";
    list.style.padding = "4px 8px";
    list.style.marginTop = "4px";
    list.style.background = "#fff";

    var status = document.createElement("div");
    status.className = "multiselect-status help";
    status.setAttribute("aria-live", "polite");

    var rows = [];
    Array.prototype.forEach.call(select.options, function (option, i) {
      var row = document.createElement("label");
      row.className = "multiselect-option";
      row.style.display = "block";
      row.style.fontWeight = "400";
      row.style.fontSize = "15px";
      row.style.margin = "2px 0";
      var check = document.createElement("input");
      check.type = "checkbox";
      check.id = base + "-option-" + i;
      check.value = option.value;
      check.checked = option.selected;
      check.addEventListener("change", function () {
        option.selected = check.checked;
        select.dispatchEvent(new Event("change", { bubbles: true }));
        update();
      });
      row.appendChild(check);
      row.appendChild(document.createTextNode(" " + option.textContent));
      list.appendChild(row);
      rows.push({ row: row, text: fold(option.textContent), option: option });
    });

    function update() {
      var query = fold(filter.value.trim());
      var shown = 0;
      var chosen = 0;
      rows.forEach(function (r) {
        var match = !query || r.text.indexOf(query) !== -1;
        r.row.hidden = !match;
        if (match) shown += 1;
        if (r.option.selected) chosen += 1;
      });
      var text = chosen + " selected";
      if (query) text = shown + " of " + rows.length + " shown · " + text;
      if (!rows.length) text = "Nothing to choose from yet.";
      status.textContent = text;
    }

    filter.addEventListener("input", update);
    filter.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
      } else if (event.key === "ArrowDown") {
        var first = rows.filter(function (r) { return !r.row.hidden; })[0];
        if (first) {
          event.preventDefault();
          first.row.querySelector("input").focus();
        }
      }
    });

    box.appendChild(filter);
    box.appendChild(list);
    box.appendChild(status);
    select.parentNode.insertBefore(box, select);
    select.hidden = true;
    select.setAttribute("aria-hidden", "true");
    select.tabIndex = -1;
    update();
  }

  function start() {
    var selects = document.querySelectorAll("select[multiple][data-searchable]");
    Array.prototype.forEach.call(selects, enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

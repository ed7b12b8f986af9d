/* The mailbox form shows the settings of the processor chosen under "Email processing" and
   hides the others' (their values are kept and posted, but only the chosen one's are saved).
   Without JavaScript every processor's settings are shown, each under its own heading. */
(function () {
  "use strict";

  function update(select) {
    document.querySelectorAll("section.processor-settings").forEach(function (section) {
      section.hidden = section.dataset.processor !== select.value;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_processor_kind");
    if (!select) { return; }
    select.addEventListener("change", function () { update(select); });
    update(select);
  });
})();

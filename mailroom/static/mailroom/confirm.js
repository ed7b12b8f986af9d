/* Ask before a destructive action: a submit button (or a form) with data-confirm="question"
   is only submitted once the person has said yes to the question in the browser's dialog.
   Without JavaScript the action works as before, on one click; the server never relies on
   the question having been asked. The submit event is where the question is asked, so the
   button that submitted (event.submitter) decides, whichever form it belongs to (a button
   with form="…" outside its form too), and Enter in a field is asked about as a click is. */
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.getAttribute("data-confirm")) ||
      event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
}());

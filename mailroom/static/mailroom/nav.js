/* The header's menu button: on a narrow screen the navigation folds away behind it.
   The button is served hidden and only shown from here, so without JavaScript the
   navigation stays in the page, wrapped below the brand (see mailroom.css). The state is
   the button's aria-expanded, which the stylesheet reads too. */
(function () {
  "use strict";

  var button = document.querySelector("header.top .menu-toggle");
  var menu = button && document.getElementById(button.getAttribute("aria-controls"));
  if (!menu) { return; }

  function isOpen() { return button.getAttribute("aria-expanded") === "true"; }
  function setOpen(open) { button.setAttribute("aria-expanded", open ? "true" : "false"); }

  button.hidden = false;
  button.closest("header.top").classList.add("nav-js");

  button.addEventListener("click", function () { setOpen(!isOpen()); });

  // Escape closes the open menu and gives the focus back to its button.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && isOpen()) {
      setOpen(false);
      button.focus();
    }
  });

  // A click elsewhere on the page closes it, as a menu does.
  document.addEventListener("click", function (event) {
    if (isOpen() && !button.contains(event.target) && !menu.contains(event.target)) {
      setOpen(false);
    }
  });
}());

/* The message's frame grows to the height of the mail it shows, so the page scrolls as one.
   The frame runs no script (its sandbox has no allow-scripts); it shares this page's origin
   (allow-same-origin), which is what lets this script, on the parent page, read its height.
   Without JavaScript the frame keeps its CSS height and can be resized. */
(function () {
  "use strict";

  function fit(frame) {
    var doc = frame.contentDocument;
    if (!doc || !doc.documentElement) { return; }
    // Measure from a small height, or a frame that was taller than its mail would never shrink.
    frame.style.height = "120px";
    var height = Math.max(doc.documentElement.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
    frame.style.height = (height + 2) + "px";
  }

  function setUp() {
    var frame = document.getElementById("message-frame");
    if (!frame) { return; }
    frame.addEventListener("load", function () {
      fit(frame);
      // Images arrive after the load event only when they were lazy; fit again when they do.
      var images = frame.contentDocument ? frame.contentDocument.images : [];
      Array.prototype.forEach.call(images, function (img) {
        if (!img.complete) { img.addEventListener("load", function () { fit(frame); }); }
      });
    });
    var pending = null;
    window.addEventListener("resize", function () {
      window.clearTimeout(pending);
      pending = window.setTimeout(function () { fit(frame); }, 100);
    });
    // The frame may have finished loading before this deferred script ran.
    if (frame.contentDocument && frame.contentDocument.readyState === "complete") { fit(frame); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
}());

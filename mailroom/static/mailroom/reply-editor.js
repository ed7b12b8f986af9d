// The reply form's small editor: plain text in the textarea, or formatted text (bold, italic,
// links, lists) in a contenteditable box whose HTML goes to the hidden body_html field when
// the form is sent. The server cleans that HTML (nh3) and writes the text part from it.
// Without JavaScript the form is the plain-text textarea alone.
(function () {
  "use strict";
  const form = document.getElementById("reply-form");
  if (!form) return;
  const toolbar = document.getElementById("reply-toolbar");
  const tools = document.getElementById("reply-tools");
  const modeButton = document.getElementById("mode-html");
  const editor = document.getElementById("reply-editor");
  const textarea = form.querySelector("textarea[name=body]");
  const format = form.querySelector("input[name=format]");
  const html = form.querySelector("input[name=body_html]");
  const quoteBox = form.querySelector("input[name=quote]");
  const quote = document.getElementById("reply-quote");
  if (!toolbar || !editor || !textarea || !format || !html) return;

  function escapeText(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div.innerHTML;
  }

  function textToHtml(text) {
    return text
      .split(/\n{2,}/)
      .filter((block) => block.trim() !== "")
      .map((block) => "<p>" + escapeText(block).replace(/\n/g, "<br>") + "</p>")
      .join("");
  }

  function setMode(mode) {
    const formatted = mode === "html";
    format.value = formatted ? "html" : "text";
    editor.hidden = !formatted;
    textarea.hidden = formatted;
    tools.hidden = !formatted;
    modeButton.setAttribute("aria-pressed", formatted ? "true" : "false");
    modeButton.textContent = formatted ? "Plain text" : "Formatted";
    if (formatted) {
      if (!editor.innerHTML.trim()) editor.innerHTML = textToHtml(textarea.value);
      editor.focus();
    } else {
      textarea.value = editor.innerText.replace(/\n{3,}/g, "\n\n").trim();
      textarea.focus();
    }
  }

  toolbar.hidden = false;
  if (format.value === "html") {
    // The form came back with an error: the formatted text is in body_html.
    editor.innerHTML = html.value;
    setMode("html");
  }

  modeButton.addEventListener("click", () => {
    setMode(format.value === "html" ? "text" : "html");
  });

  tools.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-command]");
    if (!button) return;
    event.preventDefault();
    editor.focus();
    const command = button.dataset.command;
    if (command === "createLink") {
      const url = window.prompt("Link address (https://…)", "https://");
      if (!url || !/^(https?:\/\/|mailto:)/i.test(url)) return;
      document.execCommand("createLink", false, url);
    } else {
      document.execCommand(command, false, null);
    }
  });

  editor.addEventListener("keydown", (event) => {
    if (!(event.ctrlKey || event.metaKey)) return;
    const key = event.key.toLowerCase();
    if (key === "b" || key === "i") {
      event.preventDefault();
      document.execCommand(key === "b" ? "bold" : "italic", false, null);
    }
  });

  if (quoteBox && quote) {
    const showQuote = () => { quote.hidden = !quoteBox.checked; };
    quoteBox.addEventListener("change", showQuote);
    showQuote();
  }

  const send = document.getElementById("send-reply");
  form.addEventListener("submit", () => {
    if (format.value === "html") html.value = editor.innerHTML;
    // One click, one reply (the server also treats the same form sent twice as one).
    if (send) window.setTimeout(() => { send.disabled = true; }, 0);
  });
})();
